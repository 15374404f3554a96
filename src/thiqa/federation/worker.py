"""The federation worker inside ``thiqa serve``: one task per peer, started and stopped
in the app's lifespan beside the streams and the correlation indexer.

A peer's task runs every link of that peer (:func:`thiqa.federation.peers.linked`,
read again every ``REFRESH_S`` seconds, so membership changes take effect): a pull
link catches up and follows the partner's stream, a push link delivers this node's
log. Each link retries on its own after a failure, waiting 1 s, 2 s, 4 s, … up to
``RETRY_MAX_S``; the failure is recorded in plain words for ``thiqa peer status``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import replace

import httpx
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from thiqa.errors import ThiqaError
from thiqa.federation import http, peers, transport
from thiqa.federation.client import Partner, SyncError, describe
from thiqa.federation.peers import Peer, PeerTable
from thiqa.federation.pull import CatchUps, PullLink
from thiqa.federation.push import PushLink
from thiqa.federation.receiver import Receivers
from thiqa.node import Node
from thiqa.store.model import Collection
from thiqa.stream.bus import EventBus
from thiqa.stream.model import EventLog

log = logging.getLogger("thiqa.federation")
REFRESH_S = 5.0     # how often the set of peers and links is read again
RETRY_MAX_S = 30.0  # the longest wait between two attempts of a failing link


def backoff_s(failures: int) -> float:
    return float(min(RETRY_MAX_S, 2 ** max(0, failures - 1)))


class Federation:
    def __init__(self, node: Node, log_: EventLog, bus: EventBus,
                 wrote: Callable[[], None]) -> None:
        self.node = node
        self.log = log_
        self.bus = bus
        self.wrote = wrote
        self.table = PeerTable(node.store)
        # Catch-up deliveries are verified and stored in receiving processes (each
        # started at its first delivery): this one keeps serving and fetching meanwhile.
        # With catchup_process = off (or a store another process cannot open) they are
        # stored here.
        self.receiver = (Receivers(node, node.settings.catchup_processes)
                         if node.settings.catchup_process == "on" else None)
        self.catchups = CatchUps()  # links catching up now (the indexer waits for them)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def routes(self) -> list[Route]:
        return http.routes(http.PeerApi(self.node, self.log, self.wrote))

    async def start(self) -> None:
        """Run the peers' links (in the node's leader only: thiqa.scale.leader); may be
        called again after :meth:`stop`, when a process leads again."""
        self._stopping = asyncio.Event()
        self._supervisor = asyncio.create_task(self._supervise())

    async def stop(self) -> None:
        self._stopping.set()
        tasks = [t for t in [self._supervisor, *self._tasks.values()] if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks = {}
        if self.receiver is not None:
            await run_in_threadpool(self.receiver.close)

    async def _supervise(self) -> None:
        table = self.table
        while not self._stopping.is_set():
            try:
                found = {p.id: p for p in await run_in_threadpool(table.all)}
            except ThiqaError:
                log.exception("cannot read the peers")
                found = {}
            for pid in list(self._tasks):
                if pid not in found or self._tasks[pid].done():
                    self._tasks.pop(pid).cancel()
            for pid, peer in found.items():
                if pid not in self._tasks:
                    self._tasks[pid] = asyncio.create_task(self._peer(peer))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), REFRESH_S)

    async def _peer(self, peer: Peer) -> None:
        """One peer: its links, each in its own task, re-read every REFRESH_S."""
        client = transport.client_for(peer.url, peer.api_key, peer.tls_fingerprint,
                                      transport.trust_for(self.node, peer.url))
        partner = Partner(client)
        running: dict[tuple[int, str, str], asyncio.Task[None]] = {}
        try:
            while True:
                links = await run_in_threadpool(peers.linked, self.node, peer)
                wanted = {(c.pk, remote, d): c for c, remote in links
                          for d in peer.directions()}
                for key in list(running):
                    if key not in wanted:
                        running.pop(key).cancel()
                for key, c in wanted.items():
                    if key not in running:
                        running[key] = asyncio.create_task(
                            self._link(peer, partner, c, key[1], key[2]))
                await asyncio.sleep(REFRESH_S)
        finally:
            for t in running.values():
                t.cancel()
            for t in running.values():
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            await client.aclose()

    async def _link(self, peer: Peer, partner: Partner, collection: Collection, remote: str,
                    direction: str) -> None:
        table = self.table
        waiter = self.bus.subscribe() if direction == "push" else None
        pull = PullLink(self.node, table, peer, collection, remote, partner, self.wrote,
                        self.receiver, self.catchups)
        push = (PushLink(self.node, self.log, table, peer, collection, remote, partner)
                if direction == "push" else None)
        try:
            while True:
                try:
                    if push is not None:
                        assert waiter is not None
                        waiter.clear()
                        more = await push.deliver()
                        if not more:
                            await waiter.wait(float(self.node.settings.stream_heartbeat))
                        continue
                    await pull.run()
                    await asyncio.sleep(1.0)  # the partner ended the stream: reconnect
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # every failure is shown and retried
                    link = push or pull
                    error = describe(exc, partner.where)
                    if not isinstance(exc, ThiqaError | SyncError | httpx.HTTPError):
                        log.exception("peer %s, %s link of %s", peer.id, direction,
                                      collection.id)
                    state = await run_in_threadpool(table.link, peer.id, collection.pk,
                                                    direction, remote)  # type: ignore[arg-type]
                    failures = state.failures + 1
                    now = self.node.clock.now_us()
                    state = replace(state, last_error=error[:500], last_error_us=now,
                                    failures=failures, synced_us=None)
                    await run_in_threadpool(table.save, state)
                    link.state = state
                    if push is not None:
                        push.feed.cursor = state.cursor or 0
                    log.warning("peer %s (%s %s): %s; retrying in %.0f s", peer.id,
                                direction, remote, error, backoff_s(failures))
                    await asyncio.sleep(backoff_s(failures))
        finally:
            if waiter is not None:
                waiter.close()
