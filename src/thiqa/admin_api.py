"""The admin HTTP API: organisations, communities and agreements, as JSON under /admin/.

It does over HTTP what the admin verbs of the ``thiqa`` command do, with the same JSON
shapes (:mod:`thiqa.admin_json`) and the same service layer. Only admin-role API keys
may use it: no or unknown credentials get 401 with ``WWW-Authenticate``, keys of other
roles 403. Requests and responses are ``application/json`` (not TAXII media types);
errors have the body of a TAXII error message, produced by the application's one error
handler (:mod:`thiqa.taxii.app`). A body that is not a JSON object with the documented
fields and types is 400, naming the field.

    GET    /admin/orgs/                            list organisations
    POST   /admin/orgs/                            {"name"}
    GET    /admin/communities/                     list communities
    POST   /admin/communities/                     {"name", "description", "members",
                                                    "conveners", "default_tlp", "default_pap"}
    GET    /admin/communities/{ref}/               one community or agreement
    PATCH  /admin/communities/{ref}/               {"default_tlp", "default_pap"}
    POST   /admin/communities/{ref}/members/       {"org", "role"}
    DELETE /admin/communities/{ref}/members/{org}/ remove a member
    GET    /admin/agreements/                      list agreements
    POST   /admin/agreements/                      {"orgs": [a, b], "name", "description",
                                                    "default_tlp", "default_pap"}
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from thiqa import admin_json, audit
from thiqa.errors import BadRequest, Forbidden, NotFound
from thiqa.node import CommunityView, Node
from thiqa.taxii import bodies

PREFIX = "/admin"
JSON = "application/json"
# Admin requests are a few names; refuse anything larger before reading it.
MAX_BODY = 1_048_576


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=JSON, headers=headers)


async def _body(request: Request) -> dict[str, Any]:
    return await bodies.json_object(request, MAX_BODY,
                                    f"an admin request body has at most {MAX_BODY} bytes")


class _Fields:
    """Typed access to a request body's fields; unknown fields are refused (a typo such
    as "member" for "members" must not silently create an empty community)."""

    def __init__(self, body: dict[str, Any], allowed: tuple[str, ...]) -> None:
        unknown = sorted(set(body) - set(allowed))
        if unknown:
            raise BadRequest(f"unknown field(s) {', '.join(map(repr, unknown))}; expected "
                             f"{', '.join(map(repr, allowed))}")
        self.body = body

    def text(self, name: str, default: str | None = None) -> str:
        """A string field; null counts as absent."""
        value = self.body.get(name)
        if value is None:
            value = default
        if value is None:
            raise BadRequest(f"the field {name!r} is required")
        if not isinstance(value, str):
            raise BadRequest(f"the field {name!r} must be a string")
        return value

    def optional_text(self, name: str) -> str | None:
        return None if self.body.get(name) is None else self.text(name)

    def flag(self, name: str) -> bool:
        value = self.body.get(name)
        if not isinstance(value, bool):
            raise BadRequest(f"the field {name!r} is required and must be true or false")
        return value

    def names(self, name: str) -> list[str]:
        value = self.body.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise BadRequest(f"the field {name!r} must be a list of strings "
                             "(organisation names or identity ids)")
        return value


class AdminApi:
    """The endpoint functions, bound to one node."""

    def __init__(self, node: Node) -> None:
        self.node = node

    async def _admin(self, request: Request) -> None:
        who = await run_in_threadpool(self.node.authenticate,
                                      request.headers.get("authorization"))
        if not who.is_admin:
            await run_in_threadpool(self.node.deny, who,
                                    f"403: admin API {request.method} {request.url.path}")
            raise Forbidden("the admin API needs an API key with the admin role")
        # Changes made by this request are recorded as this key's (thiqa.audit); each
        # request runs in its own task, so the attribution ends with it.
        audit.attribute(who)

    async def audit(self, request: Request) -> Response:
        await self._admin(request)
        p = request.query_params
        unknown = set(p) - {"org", "object", "action", "since", "until", "limit"}
        if unknown:
            raise BadRequest(f"unknown filter {sorted(unknown)[0]!r}: use org, object, "
                             "action, since, until or limit")

        def find() -> list[dict[str, Any]]:
            org = self.node.org(p["org"]).id if "org" in p else None
            q = audit.query_from(org=org, object_id=p.get("object"), action=p.get("action"),
                                 since=p.get("since"), until=p.get("until"),
                                 limit=p.get("limit"))
            return [admin_json.event(e) for e in self.node.audit_log(q)]
        return _json({"events": await run_in_threadpool(find)})

    async def orgs(self, request: Request) -> Response:
        await self._admin(request)
        if request.method == "POST":
            fields = _Fields(await _body(request), ("name",))
            org = await run_in_threadpool(self.node.create_org, fields.text("name"))
            return _json(admin_json.org(org, 0), 201)

        def listing() -> list[dict[str, Any]]:
            counts = self.node.store.membership_counts()
            return [admin_json.org(o, counts.get(o.id, 0)) for o in self.node.store.list_orgs()]
        return _json({"orgs": await run_in_threadpool(listing)})

    async def collections(self, request: Request) -> Response:
        await self._admin(request)

        def listing() -> list[dict[str, Any]]:
            return [{**admin_json.collection(c), "objects": self.node.store.count(c.pk)}
                    for c in self.node.store.list_collections()]
        return _json({"collections": await run_in_threadpool(listing)})

    async def collection(self, request: Request) -> Response:
        """GET one collection; PATCH {"public": true|false} publishes its TLP:CLEAR
        versions openly or stops."""
        await self._admin(request)
        ref = request.path_params["ref"]
        if request.method == "PATCH":
            public = _Fields(await _body(request), ("public",)).flag("public")
            c = await run_in_threadpool(self.node.set_public, ref, public)
            return _json(admin_json.collection(c))
        found = await run_in_threadpool(self.node.store.get_collection, ref)
        if found is None:
            raise NotFound(f"no collection {ref!r}")
        return _json(admin_json.collection(found))

    async def communities(self, request: Request) -> Response:
        await self._admin(request)
        if request.method == "POST":
            f = _Fields(await _body(request), ("name", "description", "members", "conveners",
                                               "default_tlp", "default_pap"))
            name, description = f.text("name"), f.text("description", "")
            members, conveners = f.names("members"), f.names("conveners")
            defaults = self.node.defaults_named(f.optional_text("default_tlp"),
                                                f.optional_text("default_pap"))
            view = await run_in_threadpool(lambda: self.node.create_community(
                name, description=description, members=members, conveners=conveners,
                defaults=defaults))
            return _created(view)
        views = await run_in_threadpool(self.node.communities, "community")
        return _json({"communities": [admin_json.community(v, members=False) for v in views]})

    async def community(self, request: Request) -> Response:
        await self._admin(request)
        ref = request.path_params["ref"]
        if request.method == "PATCH":
            # Both fields are set: one left out (or null) clears that default.
            f = _Fields(await _body(request), ("default_tlp", "default_pap"))
            defaults = self.node.defaults_named(f.optional_text("default_tlp"),
                                                f.optional_text("default_pap"))
            view = await run_in_threadpool(self.node.set_defaults, ref, defaults)
        else:
            view = await run_in_threadpool(self.node.community, ref)
        return _json(admin_json.community(view))

    async def members(self, request: Request) -> Response:
        await self._admin(request)
        ref = request.path_params["ref"]
        f = _Fields(await _body(request), ("org", "role"))
        org_ref, role = f.text("org"), f.text("role", "member")

        def add() -> dict[str, Any]:
            m = self.node.add_member(ref, org_ref, role)
            return {"community": self.node.community(ref).community.id,
                    **admin_json.member(m, self.node.org(m.org_id))}
        return _json(await run_in_threadpool(add), 201)

    async def member(self, request: Request) -> Response:
        await self._admin(request)
        ref, org_ref = request.path_params["ref"], request.path_params["org"]

        def remove() -> dict[str, Any]:
            self.node.remove_member(ref, org_ref)
            return {"community": self.node.community(ref).community.id,
                    "org_id": self.node.org(org_ref).id, "removed": True}
        return _json(await run_in_threadpool(remove))

    async def agreements(self, request: Request) -> Response:
        await self._admin(request)
        if request.method == "POST":
            f = _Fields(await _body(request), ("orgs", "name", "description", "default_tlp",
                                               "default_pap"))
            orgs = f.names("orgs")
            if len(orgs) != 2:
                raise BadRequest("the field 'orgs' must name exactly two organisations")
            name, description = f.optional_text("name"), f.text("description", "")
            defaults = self.node.defaults_named(f.optional_text("default_tlp"),
                                                f.optional_text("default_pap"))
            view = await run_in_threadpool(lambda: self.node.create_agreement(
                orgs[0], orgs[1], name=name, description=description, defaults=defaults))
            return _created(view)
        views = await run_in_threadpool(self.node.communities, "agreement")
        return _json({"agreements": [admin_json.community(v) for v in views]})


def _created(view: CommunityView) -> Response:
    return _json(admin_json.community(view), 201,
                 {"Location": f"{PREFIX}/communities/{view.community.id}/"})


def routes(node: Node) -> list[Route]:
    api = AdminApi(node)
    community = PREFIX + "/communities/{ref}"
    return [
        Route(PREFIX + "/orgs/", api.orgs, methods=["GET", "POST"]),
        Route(PREFIX + "/collections/", api.collections, methods=["GET"]),
        Route(PREFIX + "/collections/{ref}/", api.collection, methods=["GET", "PATCH"]),
        Route(PREFIX + "/communities/", api.communities, methods=["GET", "POST"]),
        Route(community + "/", api.community, methods=["GET", "PATCH"]),
        Route(community + "/members/", api.members, methods=["POST"]),
        Route(community + "/members/{org}/", api.member, methods=["DELETE"]),
        Route(PREFIX + "/agreements/", api.agreements, methods=["GET", "POST"]),
        Route(PREFIX + "/audit/", api.audit, methods=["GET"]),
    ]
