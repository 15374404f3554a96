"""GET /api/alerts/, POST /api/alerts/{id}/ack/ and sightings from POST /api/match/."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.testclient import TestClient

from tests.conftest import TAXII, World, indicator
from thiqa.stream.feed import Feed
from thiqa.taxii import create_app

_ERROR_KEYS = {"title", "description", "error_id", "error_code", "http_status",
               "external_details", "details"}


def _bearer(world: World, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.keys[who]}"}


def _publish(client: TestClient, world: World, where: str, *objects: dict[str, Any]) -> None:
    r = client.post(f"/api/collections/{where}/objects/",
                    headers={**world.auth("a_analyst"), "Content-Type": TAXII},
                    json={"objects": list(objects)})
    assert r.status_code == 202 and r.json()["success_count"] == len(objects), r.json()
    client.app.state.correlation.catch_up()  # type: ignore[attr-defined]


def _match(client: TestClient, world: World, who: str, **body: Any) -> Any:
    r = client.post("/api/match/", json=body, headers=_bearer(world, who))
    assert r.status_code == 200, r.text
    return r.json()


def test_alerts_listed_and_acknowledged(world: World) -> None:
    app = create_app(world.node.settings, world.node.store, world.node.clock)
    with TestClient(app) as client:
        _publish(client, world, "shared", indicator(1, value="6.6.6.6", tlp="green"))
        got = _match(client, world, "b_reader", values=["6.6.6.6", "7.7.7.7"])
        assert got["matched"] == 1 and got["alerts"] == 1
        assert got["results"][0]["matches"][0]["score"] is not None
        listed = client.get("/api/alerts/", headers=_bearer(world, "b_reader")).json()
        [alert] = listed["alerts"]
        assert listed["more"] is False
        assert alert["kind"] == "match" and alert["value"] == "6.6.6.6"
        assert alert["matches"][0]["id"] == indicator(1)["id"] and alert["state"] == "new"
        # Only the organisation's own alerts: A has none, and cannot touch B's.
        assert client.get("/api/alerts/", headers=_bearer(world, "a_analyst")).json() == {
            "alerts": [], "more": False}
        assert client.post(f"/api/alerts/{alert['id']}/ack/",
                           headers=_bearer(world, "a_analyst")).status_code == 404
        reader = client.post(f"/api/alerts/{alert['id']}/ack/", headers=_bearer(world, "b_reader"))
        assert reader.status_code == 403
        done = client.post(f"/api/alerts/{alert['id']}/ack/",
                           headers=_bearer(world, "b_analyst")).json()
        assert done["state"] == "acknowledged" and done["acknowledged_by"]
        assert client.get("/api/alerts/", headers=_bearer(world, "b_reader")).json()[
            "alerts"] == []
        every = client.get("/api/alerts/?state=all", headers=_bearer(world, "b_reader")).json()
        assert [a["id"] for a in every["alerts"]] == [alert["id"]]
        # The same value again raises nothing new; keep=false keeps nothing.
        assert _match(client, world, "b_reader", values=["6.6.6.6"], keep=False)["alerts"] == 0


def test_alert_pages(world: World) -> None:
    app = create_app(world.node.settings, world.node.store, world.node.clock)
    with TestClient(app) as client:
        _publish(client, world, "shared",
                 *(indicator(n, value=f"6.6.6.{n}", tlp="green") for n in range(1, 6)))
        _match(client, world, "b_reader", values=[f"6.6.6.{n}" for n in range(1, 6)])
        seen, query = [], "/api/alerts/?limit=2"
        while True:
            page = client.get(query, headers=_bearer(world, "b_reader")).json()
            seen += [a["value"] for a in page["alerts"]]
            if not page["more"]:
                break
            query = f"/api/alerts/?limit=2&next={page['next']}"
        assert seen == [f"6.6.6.{n}" for n in range(1, 6)]


def test_alert_errors(world: World) -> None:
    app = create_app(world.node.settings, world.node.store, world.node.clock)
    with TestClient(app) as client:
        anonymous = client.get("/api/alerts/")
        assert anonymous.status_code == 401 and set(anonymous.json()) <= _ERROR_KEYS
        for query in ("state=old", "limit=0", "limit=x", "next=abc", "colour=red"):
            r = client.get(f"/api/alerts/?{query}", headers=_bearer(world, "b_reader"))
            assert r.status_code == 400, query
            assert r.headers["content-type"].startswith("application/json")
            assert {"title", "http_status"} <= set(r.json()) <= _ERROR_KEYS
        r = client.post("/api/alerts/nope/ack/", headers=_bearer(world, "b_analyst"))
        assert r.status_code == 404 and r.json()["http_status"] == "404"
        for body in ({"values": [], "keep": "yes"}, {"values": [], "sightings": 1},
                     {"values": [], "extra": True}):
            bad = client.post("/api/match/", json=body, headers=_bearer(world, "b_reader"))
            assert bad.status_code == 400, body


def test_sightings_are_published_to_the_originator(world: World) -> None:
    node = world.node
    a, b = node.org("Agency A"), node.org("Agency B")
    node.create_community("A and B", members=[a.id, b.id])
    app = create_app(node.settings, node.store, node.clock)
    with TestClient(app) as client:
        _publish(client, world, "a-and-b", indicator(1, value="6.6.6.6", tlp="amber"))
        before = _match(client, world, "b_analyst", values=["6.6.6.6"])
        score = before["results"][0]["matches"][0]["score"]
        got = _match(client, world, "b_analyst", values=["6.6.6.6", "6.6.6.6"], sightings=True)
        [published] = got["sightings"]
        assert published["sighting_of_ref"] == indicator(1)["id"] and "error" not in published
        # The originator reads it in the community's collection, with the indicator's TLP.
        page = client.get("/api/collections/a-and-b/objects/?match[type]=sighting",
                          headers=world.auth("a_reader")).json()
        [s] = page["objects"]
        assert s["sighting_of_ref"] == indicator(1)["id"]
        assert s["where_sighted_refs"] == [b.id] and s["created_by_ref"] == b.id
        assert s["count"] == 3  # three submissions of the value kept for B
        assert s["object_marking_refs"] == indicator(1, tlp="amber")["object_marking_refs"]
        # The sighting now counts in the indicator's score.
        after = _match(client, world, "b_analyst", values=["6.6.6.6"])
        assert after["results"][0]["matches"][0]["score"] > score
        # B may not write 'shared': the sighting is refused, with the reason.
        _publish(client, world, "shared", indicator(2, value="5.5.5.5", tlp="green"))
        [refused] = _match(client, world, "b_analyst", values=["5.5.5.5"],
                           sightings=True)["sightings"]
        assert "error" in refused and refused["sighting_of_refs"] == [indicator(2)["id"]]


def test_alerts_are_delivered_on_their_organisations_stream(world: World) -> None:
    """Every alert also goes onto the node-wide event stream, for its organisation alone."""
    app = create_app(world.node.settings, world.node.store, world.node.clock)
    with TestClient(app) as client:
        log = client.app.state.streams.log  # type: ignore[attr-defined]

        def feed(who: str) -> Feed:
            f = Feed(world.node, log, lambda: world.node.authenticate(
                f"Bearer {world.keys[who]}"), None, "test")
            f.start(0)
            return f

        _publish(client, world, "shared", indicator(1, value="6.6.6.6", tlp="green"))
        b, a = feed("b_reader"), feed("a_reader")
        assert _match(client, world, "b_reader", values=["6.6.6.6"])["alerts"] == 1
        [alert] = client.get("/api/alerts/", headers=_bearer(world, "b_reader")).json()["alerts"]
        b_alerts = [e for e in b.next(100).events if e.kind == "alert"]
        assert [orjson.loads(e.body or b"{}")["id"] for e in b_alerts] == [alert["id"]]
        assert [e for e in a.next(100).events if e.kind == "alert"] == []
