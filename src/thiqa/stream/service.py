"""The stream side of a node, assembled for the ASGI app: the event log, the bus, the
head poller and the webhook worker, started and stopped in the app's lifespan.

Other parts of the node append to the log through :meth:`Streams.alert` (correlation
alerts) and wake consumers with :meth:`Streams.publish`.
"""

from __future__ import annotations

import asyncio

from starlette.middleware import Middleware
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from thiqa.node import Node
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


class Streams:
    def __init__(self, node: Node, bus: EventBus | None = None) -> None:
        self.node = node
        self.log: EventLog = event_log(node.store)
        self.bus: EventBus = bus or LocalBus()
        self.poller = HeadPoller(self.log.head, self.bus, node.settings.stream_poll_ms / 1000)
        self.webhooks = WebhookWorker(node, self.log, self.bus)
        self._tasks: list[asyncio.Task[None]] = []

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
        self._tasks = [asyncio.create_task(self.poller.run()),
                       asyncio.create_task(self.webhooks.run())]

    async def stop(self) -> None:
        self.poller.stop()
        self.webhooks.stop()
        for task in self._tasks:
            await task
        self._tasks = []
