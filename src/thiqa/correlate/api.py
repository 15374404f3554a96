"""``POST /api/match/`` and the background indexer of ``thiqa serve``.

    POST /api/match/   {"values": ["1.2.3.4", "sha256:…", …], "keep": true, "sightings": false}
                       → {"results": [...], "checked", "recognised", "matched", "alerts",
                          "sightings": [...]}

Any API key may match (the TAXII keys; Bearer or Basic); results hold only objects
from collections the key's organisation may read. Requests and responses are
``application/json``; errors have the TAXII error-message body, from the app's one
error handler. A body that is not JSON, or not an object with a list of strings under
``values``, is 400; more than ``match_max_values`` values or a body over
``max_content_length`` is 413. The answer streams: results are sent batch by batch as
they are found, the counts after them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from thiqa import audit
from thiqa.auth import Principal
from thiqa.correlate import sightings
from thiqa.correlate.match import BATCH, MatchStats, Result
from thiqa.correlate.service import Correlation, audience
from thiqa.errors import BadRequest, PayloadTooLarge
from thiqa.handling import Tlp
from thiqa.node import Node

PATH = "/api/match/"
DEFER_LOOK_S = 0.1  # while the indexer defers to a catch-up: how often it looks again
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


@dataclass(frozen=True, slots=True)
class MatchRequest:
    values: list[str]
    keep: bool = True        # keep the values for retro-hunt (an organisation's key)
    sightings: bool = False  # publish a sighting of every matched indicator


def parse_request(raw: bytes, most: int) -> MatchRequest:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict) or "values" not in body or set(body) - _FIELDS:
        raise BadRequest('the body must be a JSON object with a list "values" (and '
                         'optionally "keep" and "sightings", true or false)')
    values = body["values"]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise BadRequest('the field "values" must be a list of strings')
    for flag in ("keep", "sightings"):
        if not isinstance(body.get(flag, False), bool):
            raise BadRequest(f'the field "{flag}" must be true or false')
    if len(values) > most:
        raise PayloadTooLarge(f"at most {most} values per request (match_max_values); "
                              "split the submission")
    return MatchRequest(values, body.get("keep", True), body.get("sightings", False))


_FIELDS = {"values", "keep", "sightings"}


class MatchApi:
    def __init__(self, node: Node, correlation: Correlation) -> None:
        self.node = node
        self.correlation = correlation

    async def match(self, request: Request) -> Response:
        who = await run_in_threadpool(self.node.authenticate,
                                      request.headers.get("authorization"))
        settings = self.node.settings
        raw = await _body(request, settings.max_content_length)
        # Bad input is refused before the answer starts; the answer then streams.
        req = await run_in_threadpool(parse_request, raw, settings.match_max_values)
        return StreamingResponse(self._answer(who, req), media_type=JSON)

    def _answer(self, who: Principal, req: MatchRequest) -> Iterator[bytes]:
        """The answer, batch by batch: ``results`` first (each batch's matches as they
        are found), then the counts, the alerts raised and the sightings published."""
        c = self.correlation
        stats = MatchStats()
        who_sees = audience(self.node, who)
        observe = c.observer(who) if req.keep else None
        alerts = 0
        matched: list[Result] = []
        yield b'{"results":['
        first = True
        for start in range(0, len(req.values), BATCH):
            found = list(c.matcher.match(req.values[start:start + BATCH], who_sees,
                                         stats=stats, observe=observe))
            # A match discloses the indicators it returns: record AMBER+ ones as a read.
            guarded = tuple(dict.fromkeys(h.object_id for r in found for h in r.hits
                                          if h.tlp >= Tlp.AMBER))
            if guarded:
                self.node.store.append_audit([audit.by(
                    who, self.node.clock.now_us(), "read", objects=guarded,
                    detail=f"match: {len(guarded)} TLP:AMBER or stricter objects")])
            alerts += len(c.alert_matches(who, found))
            if req.sightings:
                matched.extend(found)
            if found:
                yield (b"" if first else b",") + b",".join(orjson.dumps(r.as_json())
                                                           for r in found)
                first = False
        published = []
        if matched:
            published = sightings.publish(self.node, who, matched,
                                          c.observations if observe else None)
            c.catch_up()  # the new sightings count in scores at once
        yield b"]," + orjson.dumps({"checked": stats.checked, "recognised": stats.recognised,
                                   "matched": stats.matched, "alerts": alerts,
                                   "sightings": published})[1:]


def routes(node: Node, correlation: Correlation) -> list[Route]:
    return [Route(PATH, MatchApi(node, correlation).match, methods=["POST"])]


class IndexerTask:
    """The background indexer of ``thiqa serve``: catches the index up, then sleeps until
    woken by a write or ``interval`` passes. It is stopped by a flag, never cancelled:
    a cancelled ``asyncio.wait_for`` can swallow the cancellation (Python 3.11), and a
    cancelled thread would go on writing after the index is closed.

    While ``deferring()`` (a peer's catch-up is storing a backlog) it waits, up to
    ``defer_most`` seconds since its last round, and indexes the backlog once the
    catch-up ends, in whole windows: the catch-up has both cores meanwhile, and
    ``thiqa load`` indexes after a load the same way. ``defer_most`` 0 never waits."""

    def __init__(self, correlation: Correlation, wake: asyncio.Event, interval: float,
                 deferring: Callable[[], bool] = lambda: False, defer_most: float = 0.0,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.correlation = correlation
        self.wake = wake
        self.interval = interval
        self.deferring = deferring
        self.defer_most = defer_most
        self.now = now
        self.rounds = 0
        self.stopping = False

    async def run(self) -> None:
        last = self.now()
        while not self.stopped():
            if self.defer_most > 0 and self.deferring() \
                    and self.now() - last < self.defer_most:
                # Writes go on waking it: look again after a pause, not at each write.
                await asyncio.sleep(DEFER_LOOK_S)
                continue
            self.wake.clear()  # before the catch-up: a write during it wakes the next round
            try:
                await run_in_threadpool(self.correlation.catch_up)
                # The key filter too (read or built at the first round, then completed
                # with what was indexed): a match request then finds it ready.
                await run_in_threadpool(self.correlation.matcher.keys.current)
            except Exception:  # a failed round must not end indexing for good
                log.exception("observable indexing failed; retrying in %s s", self.interval)
            self.rounds += 1
            last = self.now()
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
