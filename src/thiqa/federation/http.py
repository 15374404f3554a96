"""The endpoints a partner node calls (thiqa's namespace, beside TAXII):

    GET  /api/collections/{id}/federation/[?after=SEQ]
         {"collection", "node", "head"[, "behind"]}: this node's id and the head of its
         event log; with ``after``, how many events after SEQ the caller may see (its lag).
    POST /api/collections/{id}/federation/fetch/   {"versions": [[object id, version], …]}
         {"objects": […], "unsigned": [ids]}: the named versions the caller may read,
         each with its signed provenance and this node's hop (at most 1,000 a call).
    POST /api/collections/{id}/federation/objects/
         {"node": node id, "objects": […],
          "removed": [{"kind", "id", "version", "tombstone"}, …]}
         a push: the objects go through the verification gate (Node.receive), the
         signed tombstones through theirs (thiqa.federation.tombstones.receive).
    POST /api/collections/{id}/federation/tombstones/   {"events": [seq, …]}
         {"tombstones": [{"kind", "id", "version", "seq", "tombstone"}, …]}: the signed
         tombstones of the named removal events the caller may see in its stream, each
         with this node's hop when it was received (at most 1,000 events a call).

All follow the TAXII permission matrix for the caller's key (404 invisible, 403 not
allowed) and answer errors as TAXII error messages. A push must come from a node whose
key is pinned here for the caller's organisation.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from thiqa.auth import Principal
from thiqa.errors import BadRequest, Forbidden
from thiqa.federation import keys, sync, tombstones
from thiqa.federation.export import Encoded, Trees
from thiqa.node import Node
from thiqa.stream.feed import Feed
from thiqa.stream.model import EventLog
from thiqa.taxii import bodies, media

PREFIX = "/api/collections/{cid}/federation"


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type=media.TAXII)


class PeerApi:
    def __init__(self, node: Node, log: EventLog, wrote: Any) -> None:
        self.node = node
        self.log = log
        self.wrote = wrote  # called after a push stored something (wakes streams, index)
        self.trees = Trees()  # batch trees, shared by the fetches of every peer
        self.encoded = Encoded()  # originated versions' exported JSON, likewise

    async def _who(self, request: Request) -> Principal:
        return await run_in_threadpool(self.node.authenticate,
                                       request.headers.get("authorization"))

    async def _body(self, request: Request) -> dict[str, Any]:
        limit = self.node.settings.max_content_length
        return await bodies.json_object(request, limit, f"the body exceeds "
                                        f"max_content_length ({limit} bytes)")

    async def info(self, request: Request) -> Response:
        who = await self._who(request)
        ref = request.path_params["cid"]
        after = request.query_params.get("after")

        def run() -> dict[str, Any]:
            collection = self.node.readable(who, ref)
            out: dict[str, Any] = {"collection": collection.id,
                                   "node": keys.node_id(self.node), "head": self.log.head()}
            if after is not None:
                if not after.isdigit():
                    raise BadRequest("after must be a sequence number of this node's log")
                feed = Feed(self.node, self.log, lambda: who, ref, "peer status")
                feed.cursor = int(after)
                out["behind"] = feed.backlog(100_000)
            return out

        return _json(await run_in_threadpool(run))

    async def fetch(self, request: Request) -> Response:
        who = await self._who(request)
        body = await self._body(request)
        raw = body.get("versions")
        if not isinstance(raw, list) or set(body) != {"versions"}:
            raise BadRequest("the body must be {\"versions\": [[object id, version], …]}")
        pairs = [sync.pair(*v) if isinstance(v, list) and len(v) == 2
                 else sync.pair(None, None) for v in raw]
        answer = await run_in_threadpool(sync.fetch_answer, self.node, who,
                                         request.path_params["cid"], pairs, self.trees,
                                         self.encoded)
        return Response(answer, media_type=media.TAXII)

    async def tombstones(self, request: Request) -> Response:
        who = await self._who(request)
        body = await self._body(request)
        seqs = body.get("events")
        if set(body) != {"events"} or not isinstance(seqs, list) \
                or not all(type(s) is int and s > 0 for s in seqs):
            raise BadRequest("the body must be {\"events\": [seq, …]}: sequence numbers "
                             "of this node's log")
        if len(seqs) > tombstones.ASK_MOST:
            raise BadRequest(f"ask for the tombstones of at most {tombstones.ASK_MOST} "
                             f"events, not {len(seqs)}")
        found = await run_in_threadpool(tombstones.served, self.node, self.log, who,
                                        request.path_params["cid"], seqs)
        return _json({"tombstones": found})

    async def push(self, request: Request) -> Response:
        who = await self._who(request)
        ref = request.path_params["cid"]
        collection = await run_in_threadpool(self.node.writable, who, ref)
        body = await self._body(request)
        peer, objects, removed = body.get("node"), body.get("objects", []), \
            body.get("removed", [])
        if set(body) - {"node", "objects", "removed"} or not isinstance(peer, str) \
                or not isinstance(objects, list) or not isinstance(removed, list):
            raise BadRequest("the body must be {\"node\": node id, \"objects\": [...], "
                             "\"removed\": [{\"kind\", \"id\", \"version\"}, ...]}")
        try:
            removals = tombstones.pushed(removed)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None

        def run() -> dict[str, Any]:
            pins = [k for k in self.node.store.trusted_keys(peer) if k.revoked_us is None]
            if not any(who.org.id in k.orgs for k in pins):
                self.node.deny(who, f"403: push as {peer}, not pinned for this organisation",
                               collection.id)
                raise Forbidden(f"{peer} is not a node pinned here for your organisation")
            versions = [(o.get("id", ""), o.get("modified") or o.get("created") or "")
                        if isinstance(o, dict) else ("", "") for o in objects]
            fresh = [objects[i] for i in sync.lacking(self.node, collection.pk, versions)]
            got = self.node.receive(peer, collection.id, fresh) if fresh else None
            gone = tombstones.receive(self.node, peer, collection, removals)
            return {"stored": len(got.stored) if got else 0,
                    "already_held": len(objects) - len(fresh), "withdrawn": gone.withdrawn,
                    "rejected": [{"id": o.id, "version": o.version, "reason": o.message}
                                 for o in (got.rejected if got else [])]
                    + [{"id": i, "version": v, "reason": why} for i, v, why in gone.refused]}

        out = await run_in_threadpool(run)
        if out["stored"] or out["withdrawn"]:
            self.wrote()
        return _json(out)


def routes(api: PeerApi) -> list[Route]:
    return [Route(PREFIX + "/", api.info, methods=["GET"]),
            Route(PREFIX + "/fetch/", api.fetch, methods=["POST"]),
            Route(PREFIX + "/objects/", api.push, methods=["POST"]),
            Route(PREFIX + "/tombstones/", api.tombstones, methods=["POST"])]
