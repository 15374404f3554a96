"""The :class:`~thiqa.stream.bus.EventBus` of several processes on one PostgreSQL
database: LISTEN/NOTIFY.

A publish wakes this process's subscribers at once (as :class:`LocalBus` does) and
asks a sender thread to ``NOTIFY`` the node's channel; a listener thread, on a
connection of its own that ``LISTEN``\\s to the channel, wakes this process's
subscribers for every notification another process sent. The log stays the truth: a
notification carries nothing, it only says "look again", so one lost (the listener's
connection dropped, the server restarted) costs latency, never an event: the head
poller (:class:`~thiqa.stream.bus.HeadPoller`, every ``stream_poll_ms``) still wakes
the streams meanwhile, and the listener wakes them all once more when it is back.

Publishes coalesce: the sender sends one notification for all publishes made while it
was sending the previous one (each after its write committed, so the one sent after
them covers them all). The channel is the node's: its name is derived from the schema,
so two nodes in two schemas of one database do not wake each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
from typing import Any

import psycopg
from psycopg import sql

from thiqa.stream.bus import LocalBus, Waiter

log = logging.getLogger("thiqa.stream")
CHECK_S = 5.0       # the listener checks its connection after this much silence
WAIT_S = 0.5        # one wait for notifications (how soon the listener sees a stop)
RETRY_MAX_S = 10.0  # the longest wait between two attempts to reconnect


def channel_of(schema: str) -> str:
    """The node's channel (an identifier of at most 63 bytes, whatever the schema)."""
    return "thiqa_stream_" + hashlib.sha256(schema.encode()).hexdigest()[:20]


def _connect(url: str) -> tuple[psycopg.Connection[Any], str]:
    cx = psycopg.connect(url, autocommit=True, connect_timeout=5)
    row = cx.execute("SELECT current_schema()").fetchone()
    return cx, channel_of(str(row[0]) if row and row[0] else "public")


class PgBus:
    """:class:`EventBus` across the processes of one PostgreSQL database (module
    docstring). :meth:`start` and :meth:`stop` run in the app's lifespan."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.local = LocalBus()
        self.listening = False  # the listener is connected and LISTENing
        self.notified = 0       # notifications from other processes, for tests and logs
        self._kick = threading.Event()
        self._stopping = threading.Event()
        self._sender_pid = 0  # backend pid of the sender's connection: its own echo
        self._listener_cx: psycopg.Connection[Any] | None = None
        self._threads: list[threading.Thread] = []

    def subscribe(self) -> Waiter:
        return self.local.subscribe()

    def publish(self) -> None:
        self.local.publish()
        self._kick.set()

    async def start(self) -> None:
        if self.local.loop is None:  # so that the listener can wake subscribers to come
            self.local.loop = asyncio.get_running_loop()
        self._threads = [threading.Thread(target=self._listen, name="thiqa-bus-listen",
                                          daemon=True),
                         threading.Thread(target=self._send, name="thiqa-bus-send",
                                          daemon=True)]
        for t in self._threads:
            t.start()

    async def stop(self) -> None:
        self._stopping.set()
        self._kick.set()
        await asyncio.to_thread(self._join)

    def _join(self) -> None:
        for t in self._threads:
            t.join(timeout=WAIT_S + 5)
        self._threads = []

    # -- the two threads ----------------------------------------------------------------
    def _send(self) -> None:
        cx: psycopg.Connection[Any] | None = None
        channel = ""
        failures = 0
        try:
            while True:
                self._kick.wait()
                if self._stopping.is_set():
                    return
                self._kick.clear()  # before sending: a publish during the send sends again
                try:
                    if cx is None or cx.broken:
                        cx, channel = _connect(self.url)
                        self._sender_pid = cx.info.backend_pid
                    cx.execute("SELECT pg_notify(%s, '')", (channel,))
                    failures = 0
                except psycopg.Error as exc:
                    failures += 1
                    if failures == 1:
                        log.warning("cannot notify the other workers (%s); their streams "
                                    "wake by polling meanwhile", exc)
                    _close(cx)
                    cx = None
                    self._kick.set()  # try again
                    self._stopping.wait(min(RETRY_MAX_S, 0.5 * 2 ** min(failures, 5)))
        finally:
            _close(cx)

    def _listen(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            cx: psycopg.Connection[Any] | None = None
            try:
                cx, channel = _connect(self.url)
                cx.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                self._listener_cx = cx
                if failures:
                    log.warning("listening for the other workers' writes again")
                failures = 0
                self.listening = True
                self.local.publish()  # whatever was written while not listening
                quiet_s = 0.0
                while not self._stopping.is_set():
                    woken = False
                    for note in cx.notifies(timeout=WAIT_S, stop_after=1):
                        woken = woken or note.pid != self._sender_pid
                    if woken:
                        quiet_s = 0.0
                        self.notified += 1
                        self.local.publish()
                        continue
                    quiet_s += WAIT_S  # (an upper bound: a notification may end a wait early)
                    if quiet_s >= CHECK_S:
                        quiet_s = 0.0
                        cx.execute("SELECT 1")  # silence: is the connection still there?
            except psycopg.Error as exc:
                failures += 1
                if failures == 1 and not self._stopping.is_set():
                    log.warning("lost the notifications of the other workers (%s); "
                                "reconnecting, their streams wake by polling meanwhile", exc)
            finally:
                self.listening = False
                self._listener_cx = None
                _close(cx)
            self._stopping.wait(min(RETRY_MAX_S, 0.5 * 2 ** min(failures, 5)))


def _close(cx: psycopg.Connection[Any] | None) -> None:
    if cx is not None:
        with contextlib.suppress(Exception):
            cx.close()


__all__ = ["PgBus", "channel_of"]
