"""The stream side of a node, assembled for the ASGI app: the event log, the bus, the
head poller and the webhook worker, started and stopped in the app's lifespan.

The bus is :class:`LocalBus` on SQLite and :class:`~thiqa.stream.pg_bus.PgBus` on
PostgreSQL (several workers wake each other). The webhook worker is one of the node's
duties: it runs in the leader only (:mod:`thiqa.scale.leader`), started and stopped by
:meth:`Streams.start_duties` and :meth:`Streams.stop_duties`.

Other parts of the node append to the log through :meth:`Streams.alert` (correlation
alerts) and wake consumers with :meth:`Streams.publish`.
"""

from __future__ import annotations

import asyncio

from starlette.middleware import Middleware
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from thiqa.node import Node
from thiqa.store import Store
from thiqa.stream import http
from thiqa.stream.bus import EventBus, HeadPoller, LocalBus
from thiqa.stream.model import Audience, EventLog
from thiqa.stream.sqlite import event_log
from thiqa.stream.webhooks import WebhookWorker


class PublishWrites:
    """ASGI middleware: after every POST or DELETE (the requests that write), wake the
    stream consumers. A request that wrote nothing costs each consumer one empty read."""

    def __init__(self, app: ASGIApp, bus: EventBus) -> None:
        self.app = app
        self.bus = bus

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("POST", "DELETE"):
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.bus.publish()


def bus_for(store: Store) -> EventBus:
    """LISTEN/NOTIFY on PostgreSQL (other processes write too), in-process otherwise."""
    try:
        from thiqa.store.postgres import PostgresStore
    except ModuleNotFoundError:  # no driver, so no PostgreSQL store either
        return LocalBus()
    if isinstance(store, PostgresStore):
        from thiqa.stream.pg_bus import PgBus

        return PgBus(store.url)
    return LocalBus()


class Streams:
    def __init__(self, node: Node, bus: EventBus | None = None) -> None:
        self.node = node
        self.log: EventLog = event_log(node.store)
        self.bus: EventBus = bus or bus_for(node.store)
        self.poller = HeadPoller(self.log.head, self.bus, node.settings.stream_poll_ms / 1000)
        self.webhooks: WebhookWorker | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._webhook_task: asyncio.Task[None] | None = None

    def routes(self) -> list[Route]:
        return http.routes(http.StreamApi(self.node, self.log, self.bus))

    def middleware(self) -> Middleware:
        return Middleware(PublishWrites, bus=self.bus)

    def publish(self) -> None:
        self.bus.publish()

    def alert(self, body: bytes, audience: Audience) -> int:
        """Append an alert (its JSON) for ``audience`` and wake the consumers; its seq.
        Blocking, and safe from any thread: correlation raises alerts in worker threads."""
        seq = self.log.append_alert(body, audience, self.node.clock.now_us())
        self.bus.publish()
        return seq

    async def start(self) -> None:
        # A bus with threads and connections of its own (PgBus) starts and stops here.
        start = getattr(self.bus, "start", None)
        if start is not None:
            await start()
        self._tasks = [asyncio.create_task(self.poller.run())]

    async def start_duties(self) -> None:
        """Deliver webhooks (in the node's leader only)."""
        self.webhooks = WebhookWorker(self.node, self.log, self.bus)
        self._webhook_task = asyncio.create_task(self.webhooks.run())

    async def stop_duties(self) -> None:
        if self.webhooks is not None and self._webhook_task is not None:
            self.webhooks.stop()
            await self._webhook_task
        self.webhooks, self._webhook_task = None, None

    async def stop(self) -> None:
        await self.stop_duties()
        self.poller.stop()
        for task in self._tasks:
            await task
        self._tasks = []
        stop = getattr(self.bus, "stop", None)
        if stop is not None:
            await stop()
