"""One leader per node: the process that runs the node's background duties.

The duties (the federation links to peers, webhook delivery, the observable indexer
with its retro-hunt and observation purge) must run once per node, not once per worker:
two pull links of one peer would fetch everything twice, two webhook workers would
deliver every batch twice. On PostgreSQL the leader is the process holding a
session-level advisory lock (``pg_try_advisory_lock``) of the node's schema on a
connection of its own. The lock lives as long as that connection: a leader that dies,
or whose connection drops, loses it, and another process takes it on its next try
(every ``TRY_S`` seconds). The leader checks its connection as often; when the check
fails it stops its duties before trying again, so two processes run the duties at
once only for the seconds between a dropped connection and the old leader noticing —
harmless, since each duty is safe to repeat (the indexer writes each window under the
write lock once, webhook cursors only move forward and delivery is at least once).

On SQLite (one process) the one process leads from the start (:class:`SoleLeader`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool

from thiqa.store import Store
from thiqa.store.pg_schema import LOCK_ARGS

log = logging.getLogger("thiqa.scale")
LEADER_LOCK = 0x74680003  # beside pg_schema's MIGRATE_LOCK and WRITE_LOCK
TRY_S = 1.0               # how often a follower tries the lock, and a leader checks it
APPLICATION = "thiqa leader"  # application_name of the lock's connection, with the pid

Duty = Callable[[], Awaitable[None]]


class Leadership(Protocol):
    @property
    def leading(self) -> bool: ...
    async def start(self) -> None:
        """Try to lead at once (a single process leads before it serves), then go on
        trying in the background."""
    async def stop(self) -> None:
        """Stop the duties (if leading) and give the lead up."""


class SoleLeader:
    """The only process of the node: it leads from start to stop."""

    def __init__(self, gain: Duty, lose: Duty) -> None:
        self.gain = gain
        self.lose = lose
        self.leading = False

    async def start(self) -> None:
        await self.gain()
        self.leading = True

    async def stop(self) -> None:
        if self.leading:
            self.leading = False
            await self.lose()


class PgLeader:
    """The leader lock on a PostgreSQL database (module docstring)."""

    def __init__(self, url: str, gain: Duty, lose: Duty, try_s: float = TRY_S) -> None:
        self.url = url
        self.gain = gain
        self.lose = lose
        self.try_s = try_s
        self.leading = False
        self._cx: Any = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._round()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task
        if self.leading:
            self.leading = False
            await self.lose()
        await run_in_threadpool(self._close)  # closing the connection releases the lock

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.try_s)
            if not self._stopping.is_set():
                await self._round()

    async def _round(self) -> None:
        try:
            if self.leading:
                if not await run_in_threadpool(self._alive):
                    log.warning("process %d lost the node's lead (its database connection "
                                "failed); stopping its duties", os.getpid())
                    self.leading = False
                    await self.lose()
            elif await run_in_threadpool(self._try):
                log.warning("process %d leads the node's duties (federation, webhooks, "
                            "indexing)", os.getpid())
                self.leading = True
                await self.gain()
        except Exception:  # a failed round must not end leadership for good
            log.exception("leader election round failed")

    def _try(self) -> bool:
        import psycopg

        try:
            if self._cx is None or self._cx.broken:
                self._close()
                self._cx = psycopg.connect(
                    self.url, autocommit=True, connect_timeout=5,
                    application_name=f"{APPLICATION} {os.getpid()}")
            row = self._cx.execute("SELECT pg_try_advisory_lock" + LOCK_ARGS,
                                   (LEADER_LOCK,)).fetchone()
            return bool(row and row[0])
        except psycopg.Error as exc:
            log.warning("cannot try the node's leader lock: %s", exc)
            self._close()
            return False

    def _alive(self) -> bool:
        import psycopg

        try:
            self._cx.execute("SELECT 1")
            return True
        except (psycopg.Error, AttributeError):
            self._close()
            return False

    def _close(self) -> None:
        cx, self._cx = self._cx, None
        if cx is not None:
            with contextlib.suppress(Exception):
                cx.close()


def leadership(store: Store, gain: Duty, lose: Duty) -> Leadership:
    """The leadership of ``store``'s node: the advisory lock on PostgreSQL (any number
    of processes), the sole process on SQLite."""
    try:
        from thiqa.store.postgres import PostgresStore
    except ModuleNotFoundError:  # no driver, so no PostgreSQL store either
        return SoleLeader(gain, lose)
    if isinstance(store, PostgresStore):
        return PgLeader(store.url, gain, lose)
    return SoleLeader(gain, lose)
