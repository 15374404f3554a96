"""The audit log: writes, AMBER+ reads, denials and admin changes are recorded,
queryable, and cannot be changed."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from tests.conftest import TAXII, World, indicator
from thiqa.audit import AuditQuery, Event
from thiqa.cli import main
from thiqa.store.sqlite import SQLiteStore

GREEN, AMBER = indicator(1, tlp="green"), indicator(2, tlp="amber")


def _post(client: TestClient, world: World, who: str, coll: str,
          objects: list[dict[str, Any]]) -> Any:
    return client.post(f"/api/collections/{coll}/objects/",
                       headers={**world.auth(who), "Content-Type": TAXII},
                       content=json.dumps({"objects": objects}))


def _events(world: World, **q: Any) -> list[Event]:
    return world.node.audit_log(AuditQuery(**q))


def _org(world: World, who: str) -> str:
    return world.node.authenticate(f"Bearer {world.keys[who]}").org.id


def test_write_and_amber_reads_are_recorded(client: TestClient, world: World) -> None:
    assert _post(client, world, "a_analyst", "shared", [GREEN, AMBER]).status_code == 202
    [add] = _events(world, action="add")
    assert add.org_id == _org(world, "a_analyst") and add.outcome == "ok"
    assert set(add.objects) == {GREEN["id"], AMBER["id"]}
    assert add.collection == world.shared.id

    r = client.get("/api/collections/shared/objects/", headers=world.auth("b_reader"))
    assert len(r.json()["objects"]) == 2
    [read] = _events(world, action="read")
    assert read.org_id == _org(world, "b_reader")
    assert read.objects == (AMBER["id"],)  # the GREEN version is not recorded
    assert _events(world, object_id=AMBER["id"])[0].action == "read"

    client.get("/api/collections/shared/objects/", headers=world.auth("b_reader"),
               params={"match[id]": GREEN["id"]})
    assert len(_events(world, action="read")) == 1  # a GREEN-only read: nothing new
    client.get("/api/collections/shared/manifest/", headers=world.auth("b_reader"))
    assert len(_events(world, action="read")) == 2  # metadata of AMBER versions is a read


def test_denials_are_recorded(client: TestClient, world: World) -> None:
    b = _org(world, "b_analyst")
    assert _post(client, world, "b_analyst", "shared", [GREEN]).status_code == 403
    assert client.get("/api/collections/private/objects/",
                      headers=world.auth("b_analyst")).status_code == 404
    assert client.get("/api/collections/", headers={
        "Authorization": "Bearer thiqa_nope_000", "Accept": TAXII}).status_code == 401
    assert client.get("/admin/orgs/", headers=world.auth("a_analyst")).status_code == 403
    denials = _events(world, action="deny")
    details = [e.detail for e in reversed(denials)]
    assert details[0].startswith("403: may not add") and denials[-1].org_id == b
    assert details[1].startswith("404: no collection 'private'")
    assert details[2].startswith("401:") and denials[-3].org_id == ""
    assert details[3].startswith("403: admin API GET /admin/orgs/")
    assert all(e.outcome == "denied" for e in denials)


def test_refused_objects_are_a_denial(client: TestClient, world: World) -> None:
    bad = {k: v for k, v in GREEN.items() if k != "pattern"}
    assert _post(client, world, "a_analyst", "shared", [bad, AMBER]).status_code == 202
    [deny] = _events(world, action="deny")
    assert deny.objects == (GREEN["id"],) and "1 objects refused" in deny.detail


def test_admin_changes_name_who_made_them(client: TestClient, world: World) -> None:
    r = client.post("/admin/orgs/", headers=world.auth("admin"), json={"name": "Agency C"})
    assert r.status_code == 201
    [by_api] = _events(world, action="admin.org.add", limit=1)
    admin = world.node.authenticate(f"Bearer {world.keys['admin']}")
    assert (by_api.org_id, by_api.key_id) == (admin.org.id, admin.key.id)
    assert "Agency C" in by_api.detail
    world.node.create_org("Agency D")  # as the CLI does: the operator
    [by_cli] = _events(world, action="admin.org.add", limit=1)
    assert (by_cli.org_id, by_cli.key_id) == ("", "cli")
    kinds = {e.action for e in _events(world, action="admin.", limit=1000)}
    assert {"admin.org.add", "admin.key.create", "admin.collection.create"} <= kinds


def test_admin_api_queries_the_log(client: TestClient, world: World) -> None:
    _post(client, world, "a_analyst", "shared", [AMBER])
    r = client.get("/admin/audit/", headers=world.auth("admin"),
                   params={"object": AMBER["id"], "action": "add"})
    assert r.status_code == 200, r.text
    [event] = r.json()["events"]
    assert event["objects"] == [AMBER["id"]] and event["org_id"] == _org(world, "a_analyst")
    r = client.get("/admin/audit/", headers=world.auth("admin"),
                   params={"org": "Agency A", "since": "2999-01-01T00:00:00Z"})
    assert r.json() == {"events": []}
    for bad in ({"since": "yesterday"}, {"limit": "0"}, {"limit": "x"}, {"colour": "red"}):
        r = client.get("/admin/audit/", headers=world.auth("admin"), params=bad)
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["http_status"] == "400"
    assert client.get("/admin/audit/", headers=world.auth("a_analyst")).status_code == 403
    assert client.get("/admin/audit/").status_code == 401


def test_the_log_is_append_only(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "thiqa.db")
    store.append_audit([Event(1, "o", "k", "read", "ok", "c", ("x",), "d")])
    assert [e.objects for e in store.audit(AuditQuery(object_id="x"))] == [("x",)]  # indexed
    store.close()
    cx = sqlite3.connect(tmp_path / "audit.db")
    for sql in ("UPDATE events SET detail = 'forged'", "DELETE FROM events",
                "UPDATE event_objects SET object_id = 'y'", "DELETE FROM event_objects"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            cx.execute(sql)
    cx.close()
    store = SQLiteStore(tmp_path / "thiqa.db")
    assert [e.detail for e in store.audit(AuditQuery())] == ["d"]
    store.close()


def test_cli_audit_shows_loads_and_admin_changes(tmp_path: Path) -> None:
    data = str(tmp_path / "node")
    run = CliRunner().invoke
    assert run(main, ["init", "--data", data, "--json"]).exit_code == 0
    assert run(main, ["org", "add", "Agency B", "--data", data]).exit_code == 0
    bundle = tmp_path / "b.json"
    bundle.write_text(json.dumps({"type": "bundle", "id": "bundle--6e1b4d6b-6b6b-4b6b-8b6b-"
                                  "6b6b6b6b6b6b", "objects": [GREEN, AMBER]}))
    assert run(main, ["load", str(bundle), "--data", data, "--quiet"]).exit_code == 0
    r = run(main, ["audit", "--data", data, "--json"])
    assert r.exit_code == 0, r.output
    events = json.loads(r.stdout)
    assert events[0]["action"] == "add" and "2 stored" in events[0]["detail"]
    assert any(e["action"] == "admin.org.add" and "Agency B" in e["detail"] for e in events)
    r = run(main, ["audit", "--data", data, "--action", "admin.org.add"])
    assert r.exit_code == 0 and "Agency B" in r.stdout
    r = run(main, ["audit", "--data", data, "--since", "not a time"])
    assert r.exit_code == 1 and "since" in r.output
