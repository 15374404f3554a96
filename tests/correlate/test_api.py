"""POST /api/match/ over the ASGI app, and the indexer in the lifespan."""

from __future__ import annotations

import time
from typing import Any

from starlette.testclient import TestClient

from tests.conftest import World, indicator
from thiqa.audit import AuditQuery
from thiqa.taxii import create_app

TAXII = "application/taxii+json;version=2.1"
# The TAXII error message (§3.6.1): the one error shape of the whole application.
_ERROR_KEYS = {"title", "description", "error_id", "error_code", "http_status",
               "external_details", "details"}


def _post(client: TestClient, world: World, who: str, body: Any) -> Any:
    return client.post("/api/match/", json=body,
                       headers={"Authorization": f"Bearer {world.keys[who]}"})


def test_match_endpoint(world: World) -> None:
    app = create_app(world.node.settings, world.node.store, world.node.clock)
    with TestClient(app) as client:
        r = client.post("/api/collections/private/objects/", headers={
            **world.auth("a_analyst"), "Content-Type": TAXII},
            json={"objects": [indicator(1, value="6.6.6.6")]})
        assert r.status_code == 202
        deadline = time.monotonic() + 10  # the background indexer was woken by the write
        while True:
            got = _post(client, world, "a_reader", {"values": ["6.6.6.6", "nope"]}).json()
            if got["matched"] or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert got["checked"] == 2 and got["recognised"] == 1 and got["matched"] == 1
        [result] = got["results"]
        assert result["kind"] == "ipv4-addr" and result["matches"][0]["id"] == indicator(1)["id"]
        # B may not read 'private': it sees nothing, and cannot tell anything is there.
        other = _post(client, world, "b_reader", {"values": ["6.6.6.6"]})
        assert other.status_code == 200 and other.json()["results"] == []
        # The match disclosed a TLP:RED (unmarked) indicator to A's reader: audited.
        reads = world.node.audit_log(AuditQuery(action="read"))
        assert [e.objects for e in reads] == [(indicator(1)["id"],)]
        assert "match" in reads[0].detail


def test_match_errors(world: World) -> None:
    app = create_app(world.node.settings, world.node.store, world.node.clock)
    with TestClient(app) as client:
        anonymous = client.post("/api/match/", json={"values": []})
        assert anonymous.status_code == 401 and "Bearer" in anonymous.headers["WWW-Authenticate"]
        assert set(anonymous.json()) <= _ERROR_KEYS
        for body in ({"values": "1.2.3.4"}, {"values": [1]}, {"vals": []}, [1]):
            r = _post(client, world, "a_reader", body)
            assert r.status_code == 400, body
            assert r.headers["content-type"].startswith("application/json")
            assert {"title", "http_status"} <= set(r.json()) <= _ERROR_KEYS
            assert r.json()["http_status"] == "400"
        r = client.post("/api/match/", content=b"{nope",
                        headers={"Authorization": f"Bearer {world.keys['a_reader']}"})
        assert r.status_code == 400
        many = _post(client, world, "a_reader", {"values": ["1.1.1.1"] * 100_001})
        assert many.status_code == 413
