"""``POST /api/match/`` and the background indexer of ``thiqa serve``.

    POST /api/match/   {"values": ["1.2.3.4", "sha256:…", …]}
                       → {"checked", "recognised", "matched", "results": [...]}

Any API key may match (the TAXII keys; Bearer or Basic); results hold only objects
from collections the key's organisation may read. Requests and responses are
``application/json``; errors have the TAXII error-message body, from the app's one
error handler. A body that is not JSON, or not an object with a list of strings under
``values``, is 400; more than ``match_max_values`` values or a body over
``max_content_length`` is 413.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from thiqa import audit
from thiqa.correlate.match import MatchStats
from thiqa.correlate.service import Correlation, audience
from thiqa.errors import BadRequest, PayloadTooLarge
from thiqa.handling import Tlp
from thiqa.node import Node

PATH = "/api/match/"
JSON = "application/json"
log = logging.getLogger("thiqa.correlate")


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body of {declared} bytes exceeds max_content_length "
                              f"({limit} bytes)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body exceeds max_content_length ({limit} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_values(raw: bytes, most: int) -> list[str]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict) or set(body) != {"values"}:
        raise BadRequest('the body must be a JSON object with one field, "values"')
    values = body["values"]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise BadRequest('the field "values" must be a list of strings')
    if len(values) > most:
        raise PayloadTooLarge(f"at most {most} values per request (match_max_values); "
                              "split the submission")
    return values


class MatchApi:
    def __init__(self, node: Node, correlation: Correlation) -> None:
        self.node = node
        self.correlation = correlation

    async def match(self, request: Request) -> Response:
        who = await run_in_threadpool(self.node.authenticate,
                                      request.headers.get("authorization"))
        settings = self.node.settings
        raw = await _body(request, settings.max_content_length)

        def work() -> bytes:
            values = parse_values(raw, settings.match_max_values)
            stats = MatchStats()
            found = list(self.correlation.matcher.match(values, audience(self.node, who),
                                                        stats=stats))
            # A match discloses the indicators it returns: record AMBER+ ones as a read.
            guarded = tuple(dict.fromkeys(h.object_id for r in found for h in r.hits
                                          if h.tlp >= Tlp.AMBER))
            if guarded:
                self.node.store.append_audit([audit.by(
                    who, self.node.clock.now_us(), "read", objects=guarded,
                    detail=f"match: {len(guarded)} TLP:AMBER or stricter objects")])
            results = [r.as_json() for r in found]
            return orjson.dumps({"checked": stats.checked, "recognised": stats.recognised,
                                 "matched": stats.matched, "results": results})
        return Response(await run_in_threadpool(work), media_type=JSON)


def routes(node: Node, correlation: Correlation) -> list[Route]:
    return [Route(PATH, MatchApi(node, correlation).match, methods=["POST"])]


class IndexerTask:
    """The background indexer of ``thiqa serve``: catches the index up, then sleeps until
    woken by a write or ``interval`` passes. It is stopped by a flag, never cancelled:
    a cancelled ``asyncio.wait_for`` can swallow the cancellation (Python 3.11), and a
    cancelled thread would go on writing after the index is closed."""

    def __init__(self, correlation: Correlation, wake: asyncio.Event, interval: float) -> None:
        self.correlation = correlation
        self.wake = wake
        self.interval = interval
        self.stopping = False

    async def run(self) -> None:
        while not self.stopped():
            self.wake.clear()  # before the catch-up: a write during it wakes the next round
            try:
                await run_in_threadpool(self.correlation.indexer.catch_up)
            except Exception:  # a failed round must not end indexing for good
                log.exception("observable indexing failed; retrying in %s s", self.interval)
            if self.stopped():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.interval)

    def stopped(self) -> bool:
        return self.stopping

    def stop(self) -> None:
        """Ask the task to end after the window in progress (see ``Indexer.interrupt``)."""
        self.stopping = True
        self.correlation.indexer.interrupt()
        self.wake.set()
