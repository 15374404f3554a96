"""The event streams over HTTP: Server-Sent Events in thiqa's namespace beside TAXII
(TAXII 2.1 has no stream; these paths are not TAXII endpoints and change none).

    GET /api/stream/                       every collection the caller may read
    GET /api/collections/{id}/stream/      one collection (id or alias)

Authenticated like the TAXII endpoints (Bearer or Basic). ``Last-Event-ID`` (or the
query parameter ``last_event_id``, for clients that cannot set headers) resumes after
that seq; without it the stream starts at the current head. Errors before the stream
opens are TAXII error messages from the app's one handler; once it is open, the
server ends it with an ``end`` event (key revoked, access lost, shutting down).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from thiqa.auth import Principal
from thiqa.errors import NotAcceptable, ThiqaError
from thiqa.node import Node
from thiqa.stream.bus import EventBus, Waiter
from thiqa.stream.feed import Feed, parse_position
from thiqa.stream.model import EventLog
from thiqa.stream.wire import HEARTBEAT, end_frame, sse_frame

log = logging.getLogger("thiqa.stream")
EVENT_STREAM = "text/event-stream"
ALL_PATH = "/api/stream/"
COLLECTION_PATH = "/api/collections/{cid}/stream/"
RETRY_MS = 2000  # the reconnection delay advised to clients (SSE "retry:")


def _check_accept(accept: str | None) -> None:
    if not accept:
        return
    types = [part.split(";", 1)[0].strip().lower() for part in accept.split(",")]
    if not any(t in (EVENT_STREAM, "text/*", "*/*") for t in types):
        raise NotAcceptable(f"this endpoint sends {EVENT_STREAM}; the Accept header "
                            f"{accept[:100]!r} does not allow it")


class EventStream:
    """The ASGI response of one SSE connection: frames from a :class:`Feed`, woken by
    the bus, with heartbeats; it ends when the client leaves, the feed refuses (key
    revoked, access lost) or the server closes it."""

    def __init__(self, feed: Feed, bus: EventBus, heartbeat_s: float, batch: int) -> None:
        self.feed = feed
        self.bus = bus
        self.heartbeat_s = heartbeat_s
        self.batch = batch
        self.gone = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-store"),
            (b"x-accel-buffering", b"no"),  # no buffering in a reverse proxy
        ]})
        waiter = self.bus.subscribe()

        async def listen() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            self.gone = True
            waiter.wake()

        listener = asyncio.create_task(listen())
        try:
            await self._body(send, waiter)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the client went away mid-send: nothing to clean up but the tasks
        except asyncio.CancelledError:
            # The server is shutting down (uvicorn cancels requests after shutdown_grace):
            # the end of this request, not an error to log. Say so if the client is there.
            with contextlib.suppress(Exception):
                await send({"type": "http.response.body", "more_body": False,
                            "body": end_frame("the server is shutting down; reconnect "
                                              "with Last-Event-ID to resume")})
        finally:
            waiter.close()
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def _body(self, send: Send, waiter: Waiter) -> None:
        async def out(chunk: bytes) -> None:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})

        await out(b"retry: %d\n\n" % RETRY_MS)
        last_sent = time.monotonic()
        while not self.gone:
            waiter.clear()  # before reading: a write during the read wakes the next wait
            try:
                batch = await run_in_threadpool(self.feed.next, self.batch)
            except ThiqaError as exc:  # the key or the access is gone: say so and end
                await out(end_frame(exc.description))
                return
            if batch.events:
                await out(b"".join(sse_frame(ev, data)
                                   for ev, data in zip(batch.events, batch.json, strict=True)))
                last_sent = time.monotonic()
                if batch.full:
                    continue  # replaying: the next page at once
            idle = time.monotonic() - last_sent
            if idle >= self.heartbeat_s:
                await out(HEARTBEAT)
                last_sent = time.monotonic()
                continue  # a heartbeat round re-checks the key too
            await waiter.wait(self.heartbeat_s - idle)


class StreamApi:
    def __init__(self, node: Node, log: EventLog, bus: EventBus) -> None:
        self.node = node
        self.log = log
        self.bus = bus

    async def all(self, request: Request) -> EventStream:
        return await self._open(request, None)

    async def collection(self, request: Request) -> EventStream:
        return await self._open(request, request.path_params["cid"])

    async def _open(self, request: Request, ref: str | None) -> EventStream:
        header = request.headers.get("authorization")
        await run_in_threadpool(self.node.authenticate, header)
        _check_accept(request.headers.get("accept"))
        last = parse_position(request.headers.get("last-event-id")
                              or request.query_params.get("last_event_id"))

        def who() -> Principal:
            return self.node.authenticate(header)

        feed = Feed(self.node, self.log, who, ref, "stream")
        await run_in_threadpool(feed.start, last)
        settings = self.node.settings
        return EventStream(feed, self.bus, settings.stream_heartbeat, settings.stream_batch)


def routes(api: StreamApi) -> list[Route]:
    return [Route(ALL_PATH, api.all, methods=["GET"]),
            Route(COLLECTION_PATH, api.collection, methods=["GET"])]
