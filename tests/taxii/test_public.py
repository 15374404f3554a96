"""Open publication (DESIGN rule 1, "or it is CLEAR and published openly"): a public
collection shows its TLP:CLEAR versions to every organisation, through every read path,
and nothing else in it to anyone outside its scope."""

from __future__ import annotations

import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import TAXII, World, indicator
from tests.taxii.test_handling import NO_SUCH, get, obj, post
from thiqa.audit import AuditQuery
from thiqa.handling import Tlp
from thiqa.taxii import create_app

CLEAR, GREEN, AMBER = (indicator(n)["id"] for n in (1, 2, 3))


@pytest.fixture
def outsider(world: World) -> str:
    """Agency C: no grant and no membership anywhere; an analyst key."""
    c = world.node.create_org("Agency C")
    return world.node.create_key(c.id, "analyst")[1]


@pytest.fixture
def client(world: World) -> Any:
    with TestClient(create_app(world.node.settings, world.node.store, world.node.clock)) as c:
        yield c


def _publish(client: TestClient, world: World) -> None:
    status = post(client, world.keys["a_analyst"], "private",
                  [obj(1, Tlp.CLEAR), obj(2, Tlp.GREEN), obj(3, Tlp.AMBER)])
    assert status["success_count"] == 3
    world.node.set_public("private", True)


def test_outsiders_see_only_the_clear_part(client: TestClient, world: World,
                                          outsider: str) -> None:
    _publish(client, world)
    listed = get(client, outsider, "").json()["collections"]
    [view] = [c for c in listed if c["alias"] == "private"]
    assert view["can_read"] is True and view["can_write"] is False

    objects = get(client, outsider, "private/objects/").json()["objects"]
    assert [o["id"] for o in objects] == [CLEAR]
    manifest = get(client, outsider, "private/manifest/").json()["objects"]
    assert [o["id"] for o in manifest] == [CLEAR]
    assert get(client, outsider, f"private/objects/{CLEAR}/").status_code == 200
    assert get(client, outsider, f"private/objects/{CLEAR}/versions/").status_code == 200
    # GREEN and AMBER in it look exactly like an object that was never there.
    for oid in (GREEN, AMBER):
        for path in ("private/objects/{}/", "private/objects/{}/versions/"):
            r = get(client, outsider, path.format(oid))
            absent = get(client, outsider, path.format(NO_SUCH))
            assert r.status_code == absent.status_code == 404
            assert r.text.replace(oid, NO_SUCH) == absent.text
    # The members' view is unchanged: A sees all three.
    mine = get(client, world.keys["a_reader"], "private/objects/").json()["objects"]
    assert {o["id"] for o in mine} == {CLEAR, GREEN, AMBER}


def test_open_reading_gives_no_right_to_write_or_delete(client: TestClient, world: World,
                                                       outsider: str) -> None:
    _publish(client, world)
    headers = {"Authorization": f"Bearer {outsider}", "Accept": TAXII, "Content-Type": TAXII}
    r = client.post("/api/collections/private/objects/", headers=headers,
                    json={"objects": [indicator(9)]})
    assert r.status_code == 403
    r = client.delete(f"/api/collections/private/objects/{CLEAR}/", headers=headers)
    assert r.status_code == 403
    assert get(client, outsider, "private/objects/").json()["objects"][0]["id"] == CLEAR


def test_a_newer_version_outsiders_cannot_see_does_not_hide_the_clear_one(
        client: TestClient, world: World, outsider: str) -> None:
    _publish(client, world)
    later = obj(1, Tlp.GREEN, modified="2024-06-01T00:00:00.000Z")
    assert post(client, world.keys["a_analyst"], "private", [later])["success_count"] == 1
    [last] = get(client, outsider, "private/objects/").json()["objects"]
    assert last["id"] == CLEAR and last["modified"] == "2024-01-01T00:00:00.000Z"
    [member_last] = [o for o in get(client, world.keys["a_reader"],
                                    "private/objects/").json()["objects"] if o["id"] == CLEAR]
    assert member_last["modified"] == "2024-06-01T00:00:00.000Z"


def test_closing_it_again_hides_it_completely(client: TestClient, world: World,
                                              outsider: str) -> None:
    _publish(client, world)
    world.node.set_public("private", False)
    assert get(client, outsider, "private/objects/").status_code == 404
    listed = get(client, outsider, "").json().get("collections", [])
    assert all(c["alias"] != "private" for c in listed)


def test_matching_sees_only_the_clear_part(client: TestClient, world: World,
                                          outsider: str) -> None:
    values = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]  # the patterns of indicators 1-3
    _publish(client, world)
    deadline = time.monotonic() + 10
    while True:
        got = client.post("/api/match/", json={"values": values},
                          headers={"Authorization": f"Bearer {world.keys['a_reader']}"}).json()
        if got["matched"] == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert got["matched"] == 3  # indexed: the member sees all three
    seen = client.post("/api/match/", json={"values": values},
                       headers={"Authorization": f"Bearer {outsider}"}).json()
    assert [m["id"] for r in seen["results"] for m in r["matches"]] == [CLEAR]


def test_admin_api_publishes_and_lists(client: TestClient, world: World,
                                       outsider: str) -> None:
    admin = {"Authorization": f"Bearer {world.keys['admin']}"}
    r = client.patch("/admin/collections/private/", json={"public": True}, headers=admin)
    assert r.status_code == 200 and r.json()["public"] is True
    listed = client.get("/admin/collections/", headers=admin).json()["collections"]
    assert {c["alias"]: c["public"] for c in listed}["private"] is True
    bad = client.patch("/admin/collections/private/", json={"public": "yes"}, headers=admin)
    assert bad.status_code == 400 and "true or false" in bad.json()["title"] + bad.json().get(
        "description", "")
    denied = client.patch("/admin/collections/private/", json={"public": False},
                          headers={"Authorization": f"Bearer {outsider}"})
    assert denied.status_code == 403
    assert world.node.store.get_collection("private").public is True  # type: ignore[union-attr]
    [event] = world.node.audit_log(AuditQuery(action="admin.collection.publish"))
    assert event.collection == world.private.id  # an admin change, recorded
