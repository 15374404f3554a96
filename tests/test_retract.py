"""Retraction and scope narrowing: the originator withdraws its versions, wherever
the node holds them, and nobody else can."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from tests.conftest import TAXII, World, indicator
from thiqa.audit import AuditQuery
from thiqa.cli import main
from thiqa.handling import Defaults, Tlp

X = indicator(1, tlp="green")


def _post(client: TestClient, world: World, who: str, coll: str, obj: dict[str, Any]) -> None:
    r = client.post(f"/api/collections/{coll}/objects/",
                    headers={**world.auth(who), "Content-Type": TAXII},
                    content=json.dumps({"objects": [obj]}))
    assert r.status_code == 202 and r.json()["success_count"] == 1, r.text


def _retract(client: TestClient, world: World, who: str, body: Any) -> Any:
    return client.post("/api/retractions/", headers={**world.auth(who), "Content-Type": TAXII},
                       content=json.dumps(body))


def _held(client: TestClient, world: World, coll: str) -> bool:
    r = client.get(f"/api/collections/{coll}/objects/{X['id']}/", headers=world.auth("admin"))
    return r.status_code == 200


def test_originator_narrows_then_retracts(client: TestClient, world: World) -> None:
    _post(client, world, "a_analyst", "shared", X)
    _post(client, world, "a_analyst", "private", X)
    r = _retract(client, world, "a_analyst", {"id": X["id"], "collections": ["shared"]})
    assert r.status_code == 200, r.text
    assert r.json() == {"id": X["id"], "collections": [world.shared.id]}
    assert not _held(client, world, "shared") and _held(client, world, "private")
    r = _retract(client, world, "a_analyst", {"id": X["id"]})
    assert r.json()["collections"] == [world.private.id]
    assert not _held(client, world, "private")
    again = _retract(client, world, "a_analyst", {"id": X["id"]})
    assert again.status_code == 404
    [event, _] = world.node.audit_log(AuditQuery(action="retract"))
    assert event.objects == (X["id"],) and "every collection" in event.detail


def test_only_the_originator_may_retract(client: TestClient, world: World) -> None:
    _post(client, world, "a_analyst", "shared", X)
    absent = _retract(client, world, "b_analyst", {"id": X["id"]})
    never = _retract(client, world, "b_analyst", {"id": indicator(99)["id"]})
    # Not theirs and not there look the same.
    assert absent.status_code == never.status_code == 404
    assert absent.json()["description"].replace(X["id"], "?") == \
        never.json()["description"].replace(indicator(99)["id"], "?")
    assert _held(client, world, "shared")
    assert _retract(client, world, "a_reader", {"id": X["id"]}).status_code == 403
    assert _held(client, world, "shared")
    assert client.post("/api/retractions/", content=b"{}").status_code == 401


def test_forwarded_copies_are_withdrawn_too(client: TestClient, world: World) -> None:
    node = world.node
    c = node.create_org("Agency C")
    b = node.authenticate(f"Bearer {world.keys['b_analyst']}").org
    forum = node.create_community("B and C", members=[b.id, c.id],
                                  defaults=Defaults(Tlp.GREEN)).collections[0]
    _post(client, world, "a_analyst", "shared", X)
    # B forwards A's GREEN version into a closed community A is not in (DESIGN rule 3).
    assert forum.alias is not None
    _post(client, world, "b_analyst", forum.alias, X)
    assert _held(client, world, forum.alias)
    r = _retract(client, world, "a_analyst", {"id": X["id"]})
    # Withdrawn there too, but A is only told about the collections it can see.
    assert r.json()["collections"] == [world.shared.id]
    assert not _held(client, world, forum.alias) and not _held(client, world, "shared")


@pytest.mark.parametrize("body", [[], {"id": 5}, {"id": "x"}, {"id": X["id"], "collections": []},
                                  {"id": X["id"], "collections": "shared"},
                                  {"id": X["id"], "reason": "oops"}])
def test_bad_retraction_bodies(client: TestClient, world: World, body: Any) -> None:
    r = _retract(client, world, "a_analyst", body)
    assert r.status_code == 400 and r.json()["http_status"] == "400", r.text


def test_cli_retract(client: TestClient, world: World) -> None:
    _post(client, world, "a_analyst", "shared", X)
    data = world.node.settings.data
    db = getattr(world.node.store, "url", "")  # the PostgreSQL store's; SQLite: in data
    r = CliRunner().invoke(main, ["retract", X["id"], "--org", "Agency A", "--from", "shared",
                                  "--data", data, "--db", db, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["collections"] == [world.shared.id]
    assert not _held(client, world, "shared")
