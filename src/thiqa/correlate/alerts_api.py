"""The alerts of the caller's organisation over HTTP (docs/correlation.md "Alerts").

    GET  /api/alerts/?state=new&limit=100&next=…   → {"alerts": [...], "more", "next"}
    POST /api/alerts/{id}/ack/                     → the acknowledged alert

Any API key lists its own organisation's alerts, and only those (an admin key too: an
alert is its organisation's); a reader key may not acknowledge. Another
organisation's alert is, for the caller, absent: 404, as for an unknown id. Errors
have the TAXII error-message body, as ``application/json``.
"""

from __future__ import annotations

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from thiqa.correlate.alerts import STATES
from thiqa.correlate.service import Correlation
from thiqa.errors import BadRequest, Forbidden, NotFound
from thiqa.node import Node

PREFIX = "/api/alerts/"
JSON = "application/json"
MOST = 1000


def page_params(params: dict[str, str]) -> tuple[str | None, int, int]:
    """(state or None for all, limit, after pk) from the query string."""
    unknown = sorted(set(params) - {"state", "limit", "next"})
    if unknown:
        raise BadRequest(f"unknown query parameter(s): {', '.join(unknown)}")
    state = params.get("state", "new")
    if state not in (*STATES, "all"):
        raise BadRequest(f"state must be one of {', '.join(STATES)} or all, not {state!r}")
    raw_limit, raw_next = params.get("limit", "100"), params.get("next", "0")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MOST:
        raise BadRequest(f"limit must be a number from 1 to {MOST}")
    if not raw_next.isdigit():
        raise BadRequest("next must be the value of a previous answer's next")
    return (None if state == "all" else state), int(raw_limit), int(raw_next)


class AlertsApi:
    def __init__(self, node: Node, correlation: Correlation) -> None:
        self.node = node
        self.alerts = correlation.alerts

    async def list(self, request: Request) -> Response:
        who = await run_in_threadpool(self.node.authenticate,
                                      request.headers.get("authorization"))
        state, limit, after = page_params(dict(request.query_params))

        def work() -> bytes:
            alerts, more = self.alerts.list_for(who.org.id, state=state, after=after,
                                                limit=limit)
            body = {"alerts": [a.as_json() for a in alerts], "more": more}
            if more:
                body["next"] = str(alerts[-1].pk)
            return orjson.dumps(body)
        return Response(await run_in_threadpool(work), media_type=JSON)

    async def ack(self, request: Request) -> Response:
        who = await run_in_threadpool(self.node.authenticate,
                                      request.headers.get("authorization"))
        if who.role == "reader":
            await run_in_threadpool(self.node.deny, who, "403: a reader key may not "
                                                         "acknowledge alerts")
            raise Forbidden("a reader key may not acknowledge alerts")
        alert_id = request.path_params["aid"]
        alert = await run_in_threadpool(self.alerts.acknowledge, who.org.id, alert_id,
                                        who.key.id)
        if alert is None:
            raise NotFound(f"no alert {alert_id!r}")
        return Response(orjson.dumps(alert.as_json()), media_type=JSON)


def routes(node: Node, correlation: Correlation) -> list[Route]:
    api = AlertsApi(node, correlation)
    return [Route(PREFIX, api.list, methods=["GET"]),
            Route(PREFIX + "{aid}/ack/", api.ack, methods=["POST"])]
