"""The ASGI application: TAXII 2.1 endpoints (§4, §5) on a :class:`thiqa.node.Node`,
and the admin API (:mod:`thiqa.admin_api`) under /admin/.

Each endpoint authenticates, negotiates the media type, parses its filters and calls
the node in a worker thread (the store is synchronous). Every error, ours or
Starlette's, leaves through :func:`_error_response` as a TAXII error message (served
as plain JSON on the admin API).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from thiqa import admin_api, definitions, exports, memory, releases, search
from thiqa.auth import Principal
from thiqa.clock import Clock
from thiqa.correlate import alerts_api
from thiqa.correlate import api as match_api
from thiqa.correlate.alerts import Alert
from thiqa.correlate.service import Correlation
from thiqa.errors import (
    BadRequest,
    NotFound,
    ThiqaError,
    Unauthenticated,
    Unprocessable,
)
from thiqa.federation.worker import Federation
from thiqa.handling import Tlp
from thiqa.ingest import envelope_objects
from thiqa.node import Node
from thiqa.scale.leader import leadership
from thiqa.settings import Settings
from thiqa.store import Store
from thiqa.store.model import ALL, LAST, ObjectQuery, Page, Release, Status, Versions
from thiqa.stream.model import Audience as StreamAudience
from thiqa.stream.service import Streams
from thiqa.taxii import bodies, cursor, media, params, resources
from thiqa.timestamps import format_us

log = logging.getLogger("thiqa.taxii")

API_ROOT = "api"
SEARCH_PATH = f"/{API_ROOT}/search/"
_CHALLENGE = 'Basic realm="thiqa", Bearer realm="thiqa"'


def _json(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type=media.TAXII, headers=headers)


def _is_admin_path(request: Request) -> bool:
    """Paths served as plain JSON (admin API, matching, search, alerts), not TAXII media types."""
    path = request.url.path
    return (path.startswith((admin_api.PREFIX + "/", alerts_api.PREFIX))
            or path in (match_api.PATH, SEARCH_PATH))


def _error_response(request: Request, exc: ThiqaError) -> Response:
    headers = {"WWW-Authenticate": _CHALLENGE} if isinstance(exc, Unauthenticated) else None
    body = resources.error(exc.http_status, exc.title, exc.description, exc.details)
    media_type = admin_api.JSON if _is_admin_path(request) else media.TAXII
    return Response(body, status_code=exc.http_status, media_type=media_type, headers=headers)


class Api:
    """The endpoint functions, bound to one node."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.settings = node.settings
        # Set after every write, so the observable indexer catches up at once.
        self.wrote = asyncio.Event()

    async def _who(self, request: Request) -> Principal:
        return await run_in_threadpool(self._principal, request.headers)

    def _principal(self, headers: Headers) -> Principal:
        """The caller (401 first), then the media type it accepts (406)."""
        who = self.node.authenticate(headers.get("authorization"))
        media.check_accept(headers.get("accept"))
        return who

    # -- server information (§4) ----------------------------------------------------
    async def discovery(self, request: Request) -> Response:
        await self._who(request)
        # §4.1.1: API root URLs are HTTPS absolute URLs or relative ones. Relative is right
        # behind any proxy and never echoes a caller-supplied Host header.
        root = f"/{API_ROOT}/"
        out: dict[str, Any] = {"title": self.settings.title,
                               "description": self.settings.description,
                               "default": root, "api_roots": [root]}
        if self.settings.contact:
            out["contact"] = self.settings.contact
        return _json(orjson.dumps(out))

    async def api_root(self, request: Request) -> Response:
        await self._who(request)
        return _json(orjson.dumps({
            "title": self.settings.title,
            "description": self.settings.description,
            "versions": [media.TAXII],
            "max_content_length": self.settings.max_content_length,
        }))

    async def status(self, request: Request) -> Response:
        who = await self._who(request)
        status = await run_in_threadpool(self.node.status, who, request.path_params["sid"])
        return _json(resources.status(status))

    # -- collections (§5) -----------------------------------------------------------
    async def collections(self, request: Request) -> Response:
        who = await self._who(request)
        views = await run_in_threadpool(self.node.collections, who)
        if not views:
            return _json(b"{}")
        return _json(orjson.dumps({"collections": [resources.collection(v) for v in views]}))

    async def collection(self, request: Request) -> Response:
        who = await self._who(request)
        view = await run_in_threadpool(self.node.collection, who, request.path_params["cid"])
        return _json(orjson.dumps(resources.collection(view)))

    async def _page(self, request: Request, *, match: tuple[str, ...], default: Versions,
                    object_id: str | None, bodies: bool,
                    render: Callable[[Page, str | None], bytes]) -> Response:
        """The shared body of manifest, objects, object and versions (§5.3, 5.4, 5.6, 5.8).
        Authentication, the collection's lookup and the read take one trip to a worker
        thread: a page is the hot path of every reader."""
        headers = request.headers
        items = request.query_params.multi_items()
        ref = request.path_params["cid"]

        def read() -> tuple[Page, str | None, int | None]:
            who = self._principal(headers)
            f = params.parse(items, match=match, page_size=self.settings.page_size,
                             default_versions=default)
            view = self.node.collection(who, ref)
            secret, cid = self.node.cursor_secret, view.collection.id
            after = cursor.decode(f.next, secret, cid) if f.next else None
            q = ObjectQuery(0, (object_id,) if object_id else f.ids, f.types, f.versions,
                            f.spec_versions, f.added_after, after, f.limit)
            page = self.node.read_in(who, view, q, bodies=bodies)
            if object_id and not page.records and after is None and f.added_after is None:
                # §5.6/§5.7: an object (or the requested versions of it) that is not in
                # the collection, including a deleted version, is 404 rather than an empty
                # envelope.
                raise NotFound(f"no object {object_id!r} (with the requested versions) in "
                               "this collection")
            token = cursor.encode(page.cursor, secret, cid) if page.more and page.cursor \
                else None
            return page, token, f.added_after

        page, token, added_after = await run_in_threadpool(read)
        return _json(render(page, token), headers=_date_headers(page, added_after))

    async def manifest(self, request: Request) -> Response:
        return await self._page(request, match=params.KNOWN_MATCH, default=LAST,
                                object_id=None, bodies=False, render=resources.manifest)

    async def objects(self, request: Request) -> Response:
        if request.method == "POST":
            return await self.add_objects(request)
        return await self._page(request, match=params.KNOWN_MATCH, default=LAST,
                                object_id=None, bodies=True, render=resources.envelope)

    async def object(self, request: Request) -> Response:
        if request.method == "DELETE":
            return await self.delete_object(request)
        return await self._page(request, match=("version", "spec_version"), default=LAST,
                                object_id=request.path_params["oid"], bodies=True,
                                render=resources.envelope)

    async def versions(self, request: Request) -> Response:
        return await self._page(request, match=("spec_version",), default=ALL,
                                object_id=request.path_params["oid"], bodies=False,
                                render=resources.versions)

    async def add_objects(self, request: Request) -> Response:
        who = await self._who(request)
        media.check_content_type(request.headers.get("content-type"))
        ref = request.path_params["cid"]
        # Refuse before reading what may be a 100 MB body.
        await run_in_threadpool(self.node.writable, who, ref)
        raw = await _body(request, self.settings.max_content_length)
        status = await run_in_threadpool(self._ingest, who, ref, raw)
        self.wrote.set()
        return _json(resources.status(status), 202)

    def _ingest(self, who: Principal, ref: str, raw: bytes) -> Status:
        """Parse and store a POST body, off the event loop: a body may be 100 MB."""
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise Unprocessable(f"the body is not valid JSON: {exc}") from None
        return self.node.add_objects(who, ref, envelope_objects(body))

    async def retractions(self, request: Request) -> Response:
        """``POST /api/retractions/`` (a thiqa extension beside TAXII): the originator
        withdraws an object, from the named collections or from all."""
        who = await self._who(request)
        body = await _json_body(request, self.settings.max_content_length)
        if set(body) - {"id", "collections"}:
            raise BadRequest("the body must be a JSON object with 'id' and optionally "
                             "'collections'")
        object_id, refs = body.get("id"), body.get("collections")
        if not isinstance(object_id, str) or "--" not in object_id:
            raise BadRequest("'id' must be the STIX id of the object to retract")
        if refs is not None and not (isinstance(refs, list) and refs
                                     and all(isinstance(r, str) for r in refs)):
            raise BadRequest("'collections' must be a non-empty list of collection ids or "
                             "aliases")
        left = await run_in_threadpool(self.node.retract, who, object_id, refs)
        return _json(orjson.dumps({"id": object_id, "collections": [c.id for c in left]}))

    async def export(self, request: Request) -> Response:
        """``GET /api/collections/{cid}/export/`` (a thiqa extension beside TAXII): every
        version the caller may see (filters as for objects, no paging) as one STIX
        bundle, or JSON lines with ``format=jsonl``; see thiqa.exports."""
        who = await run_in_threadpool(self.node.authenticate,
                                      request.headers.get("authorization"))
        items = request.query_params.multi_items()
        fmt = exports.format_named(dict(items).get("format", "bundle"))
        items = [(k, v) for k, v in items if k != "format"]
        if any(k in ("limit", "next") for k, _ in items):
            raise BadRequest("an export is not paged: leave out limit and next")
        f = params.parse(items, match=params.KNOWN_MATCH, page_size=self.settings.page_size,
                         default_versions=LAST)
        selection = exports.Selection(f.ids, f.types, f.versions, f.spec_versions,
                                      f.added_after)
        ref = request.path_params["cid"]
        view = await run_in_threadpool(self.node.collection, who, ref)
        chunks = await run_in_threadpool(exports.export, self.node, who, ref, selection, fmt)
        name = (view.collection.alias or view.collection.id) + exports.SUFFIXES[fmt]
        return StreamingResponse(chunks, media_type=exports.MEDIA_TYPES[fmt], headers={
            "Content-Disposition": f'attachment; filename="{name}"'})

    async def definitions(self, request: Request) -> Response:
        """``GET /api/definitions/`` (thiqa, beside TAXII): the extension-definitions of
        the properties thiqa adds to objects, and their creator (thiqa.definitions)."""
        await self._who(request)
        return _json(definitions.envelope())

    async def search_objects(self, request: Request) -> Response:
        """``GET /api/search/?q=…`` (a thiqa extension beside TAXII): the latest visible
        versions, across the collections the caller may read, with that STIX id or
        containing that text; ``type`` (repeatable) and ``limit`` narrow it."""
        who = await run_in_threadpool(self.node.authenticate,
                                      request.headers.get("authorization"))
        p = request.query_params
        unknown = set(p) - {"q", "type", "limit"}
        if unknown:
            raise BadRequest(f"unknown parameter {sorted(unknown)[0]!r}: use q, type or limit")
        raw_limit = p.get("limit", "100")
        if not raw_limit.isdigit():
            raise BadRequest(f"limit must be a positive integer, not {raw_limit!r}")
        found = await run_in_threadpool(lambda: search.search(
            self.node, who, p.get("q", ""), types=tuple(p.getlist("type")),
            limit=int(raw_limit)))
        return Response(search.render(found), media_type=admin_api.JSON)

    # -- release requests (thiqa extension; see thiqa.releases) -----------------------
    async def releases(self, request: Request) -> Response:
        who = await self._who(request)
        if request.method == "GET":
            found = await run_in_threadpool(releases.listing, self.node, who)
            return _json(orjson.dumps({"releases": await self._releases(found)}))
        body = await _json_body(request, self.settings.max_content_length)
        if set(body) - {"id", "collection", "reason"}:
            raise BadRequest("a release request has 'id', 'collection' and optionally "
                             "'reason'")
        object_id, target, reason = body.get("id"), body.get("collection"), body.get("reason", "")
        if not isinstance(object_id, str) or not isinstance(target, str) or not isinstance(
                reason, str):
            raise BadRequest("'id' (a STIX id), 'collection' (id or alias) and 'reason' must "
                             "be strings")
        made = await run_in_threadpool(releases.request, self.node, who, object_id, target,
                                       reason)
        return _json(orjson.dumps({"releases": await self._releases(made)}), 201)

    async def release_decision(self, request: Request) -> Response:
        who = await self._who(request)
        decision = request.path_params["decision"]
        if decision not in ("grant", "refuse"):
            raise NotFound(f"no such decision {decision!r}: use grant/ or refuse/")
        grant = decision == "grant"
        r = await run_in_threadpool(releases.decide, self.node, who, request.path_params["rid"],
                                    grant=grant)
        return _json(orjson.dumps((await self._releases([r]))[0]))

    async def _releases(self, found: list[Release]) -> list[dict[str, Any]]:
        collections = {c.pk: c.id for c in await run_in_threadpool(
            self.node.store.list_collections)}
        return [_release_json(r, collections) for r in found]

    async def delete_object(self, request: Request) -> Response:
        who = await self._who(request)
        f = params.parse(request.query_params.multi_items(), match=("version", "spec_version"),
                         page_size=self.settings.page_size, default_versions=ALL, paged=False)
        await run_in_threadpool(self.node.delete, who, request.path_params["cid"],
                                request.path_params["oid"], f.versions, f.spec_versions)
        self.wrote.set()
        return _json(b"{}")


def _release_json(r: Release, collections: dict[int, str]) -> dict[str, Any]:
    return {"id": r.id, "object_id": r.object_id, "requester": r.requester,
            "originator": r.originator, "collection": collections.get(r.collection_pk),
            "reason": r.reason, "state": r.state, "created": format_us(r.created_us),
            "decided": format_us(r.decided_us) if r.decided_us is not None else None,
            "grant": orjson.loads(r.grant_record) if r.grant_record else None,
            "signature": r.signature, "signer": r.signer}


def _date_headers(page: Page, added_after: int | None) -> dict[str, str]:
    """X-TAXII-Date-Added-First/Last (§3.2). An empty page repeats the caller's added_after,
    the only position that is safe to disclose."""
    if page.records:
        return {"X-TAXII-Date-Added-First": format_us(page.records[0].date_added),
                "X-TAXII-Date-Added-Last": format_us(page.records[-1].date_added)}
    if added_after is not None:
        stamp = format_us(added_after)
        return {"X-TAXII-Date-Added-First": stamp, "X-TAXII-Date-Added-Last": stamp}
    return {}


async def _json_body(request: Request, limit: int) -> dict[str, Any]:
    """A small JSON object body (the thiqa extensions beside TAXII)."""
    return await bodies.json_object(request, limit, _too_large(request, limit))


async def _body(request: Request, limit: int) -> bytes:
    return await bodies.read(request, limit, _too_large(request, limit))


def _too_large(request: Request, limit: int) -> str:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return f"the body of {declared} bytes exceeds max_content_length ({limit} bytes)"
    return f"the body exceeds max_content_length ({limit} bytes)"


async def _thiqa_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ThiqaError)
    return _error_response(request, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error = ThiqaError(exc.detail or "")
    error.http_status, error.title = exc.status_code, exc.detail or "HTTP error"
    if exc.status_code == 404:
        kind = "an admin API" if _is_admin_path(request) else "a TAXII"
        error.description = f"{request.url.path} is not {kind} endpoint of this server"
    return _error_response(request, error)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return _error_response(request, ThiqaError("the server failed to process the request; "
                                      "nothing was changed by it"))


class Duties:
    """What runs once per node, in its leader (thiqa.scale.leader): the observable
    indexer (and the retro-hunt after it), webhook delivery and the peers' links."""

    def __init__(self, api: Api, correlation: Correlation, streams: Streams,
                 federation: Federation) -> None:
        self.api = api
        self.correlation = correlation
        self.streams = streams
        self.federation = federation
        self._indexer: match_api.IndexerTask | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        settings = self.api.settings
        indexer = match_api.IndexerTask(self.correlation, self.api.wrote,
                                        settings.index_interval,
                                        deferring=lambda: bool(self.federation.catchups),
                                        defer_most=settings.catchup_index_wait)
        self._indexer = indexer
        self._tasks = [asyncio.create_task(indexer.run()),
                       asyncio.create_task(self._relay(indexer))]
        await self.streams.start_duties()
        await self.federation.start()

    async def _relay(self, indexer: match_api.IndexerTask) -> None:
        """Writes through other workers wake this one's indexer too (through the bus)."""
        waiter = self.streams.bus.subscribe()
        try:
            while not indexer.stopping:
                waiter.clear()
                if await waiter.wait(float(self.api.settings.stream_heartbeat)):
                    self.api.wrote.set()
        finally:
            waiter.close()

    async def stop(self) -> None:
        await self.federation.stop()
        await self.streams.stop_duties()
        if self._indexer is not None:
            # Not IndexerTask.stop(): that interrupts the indexer for good, and this
            # process may lead again. The window in progress ends first.
            self._indexer.stopping = True
            self.api.wrote.set()
            self.streams.bus.publish()  # ends the relay's wait
        for task in self._tasks:
            await task
        self._indexer, self._tasks = None, []

    def interrupt(self) -> None:
        """At shutdown, before :meth:`stop`: the indexer stops after the window in
        progress, and never indexes again (the store is about to close)."""
        self.correlation.indexer.interrupt()


def create_app(settings: Settings, store: Store, clock: Clock | None = None) -> Starlette:
    """The node's ASGI application. It closes ``store`` when the server shuts it down:
    uvicorn re-raises SIGTERM after a graceful shutdown, so code after ``uvicorn.run``
    never runs then."""
    api = Api(Node(settings, store, clock))
    correlation = Correlation(settings, store, api.node.clock)
    streams = Streams(api.node)

    def deliver(alert: Alert) -> None:
        # An alert is its organisation's alone: RED with that org as originator, on the
        # node-wide stream (thiqa.stream.model.Audience).
        streams.alert(orjson.dumps(alert.as_json()), StreamAudience(alert.org_id, Tlp.RED))

    correlation.alerts.subscribe(deliver)

    def wrote() -> None:  # a peer's versions were stored: wake streams and the indexer
        streams.publish()
        api.wrote.set()

    federation = Federation(api.node, streams.log, streams.bus, wrote)
    root = f"/{API_ROOT}"
    collection = root + "/collections/{cid}"
    obj = collection + "/objects/{oid}"
    routes = [
        Route("/taxii2/", api.discovery, methods=["GET"]),
        Route(root + "/", api.api_root, methods=["GET"]),
        Route(root + "/status/{sid}/", api.status, methods=["GET"]),
        Route(root + "/collections/", api.collections, methods=["GET"]),
        Route(collection + "/", api.collection, methods=["GET"]),
        Route(collection + "/manifest/", api.manifest, methods=["GET"]),
        Route(collection + "/objects/", api.objects, methods=["GET", "POST"]),
        Route(obj + "/", api.object, methods=["GET", "DELETE"]),
        Route(obj + "/versions/", api.versions, methods=["GET"]),
        Route(collection + "/export/", api.export, methods=["GET"]),
        Route(root + "/retractions/", api.retractions, methods=["POST"]),
        Route(SEARCH_PATH, api.search_objects, methods=["GET"]),
        Route(root + "/definitions/", api.definitions, methods=["GET"]),
        Route(root + "/releases/", api.releases, methods=["GET", "POST"]),
        Route(root + "/releases/{rid}/{decision:str}/", api.release_decision,
              methods=["POST"]),
        *admin_api.routes(api.node),
        *match_api.routes(api.node, correlation),
        *streams.routes(),
        *alerts_api.routes(api.node, correlation),
        *federation.routes(),
    ]

    duties = Duties(api, correlation, streams, federation)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await streams.start()
        leader = leadership(store, duties.start, duties.stop)
        await leader.start()
        app.state.leader = leader
        trimmer = asyncio.create_task(memory.trim_when_idle())
        try:
            yield
        finally:
            trimmer.cancel()
            duties.interrupt()  # a catch-up in progress ends after its window
            await leader.stop()
            await streams.stop()
            correlation.close()
            store.close()

    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        ThiqaError: _thiqa_error,
        HTTPException: _http_error,
        Exception: _unexpected,
    }
    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan,
                    middleware=[streams.middleware()])
    app.state.node = api.node
    app.state.streams = streams
    app.state.federation = federation
    app.state.correlation = correlation
    return app
