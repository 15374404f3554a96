"""The admin HTTP API (thiqa.admin_api): auth matrix, behaviour and error shapes."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import World

JSON = "application/json"
ENDPOINTS: list[tuple[str, str, Any]] = [
    ("GET", "/admin/orgs/", None),
    ("POST", "/admin/orgs/", {"name": "Agency Z"}),
    ("GET", "/admin/communities/", None),
    ("POST", "/admin/communities/", {"name": "Forum Z"}),
    ("GET", "/admin/communities/Forum/", None),
    ("POST", "/admin/communities/Forum/members/", {"org": "Agency B"}),
    ("DELETE", "/admin/communities/Forum/members/Agency A/", None),
    ("GET", "/admin/agreements/", None),
    ("POST", "/admin/agreements/", {"orgs": ["Agency A", "Agency B"]}),
]


@pytest.fixture
def forum(world: World) -> str:
    return world.node.create_community("Forum", members=["Agency A"]).community.id


def admin(world: World) -> dict[str, str]:
    return {"Authorization": world.auth("admin")["Authorization"]}


def assert_error(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == JSON
    body: dict[str, Any] = r.json()
    assert set(body) <= {"title", "description", "http_status", "details"}
    assert body["title"] and body["description"] and body["http_status"] == str(status)
    return body


@pytest.mark.usefixtures("forum")
@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_auth_matrix(client: TestClient, world: World, method: str, path: str,
                     body: Any) -> None:
    nobody = client.request(method, path, json=body)
    assert_error(nobody, 401)
    assert "Bearer" in nobody.headers["WWW-Authenticate"]
    assert_error(client.request(method, path, json=body,
                                headers={"Authorization": "Bearer thiqa_x_y"}), 401)
    for who in ("a_analyst", "a_reader", "b_analyst", "b_reader"):
        r = client.request(method, path, json=body, headers=world.auth(who))
        assert "admin role" in assert_error(r, 403)["description"]
    ok = client.request(method, path, json=body, headers=world.basic("admin"))
    assert ok.status_code in (200, 201), ok.text
    assert ok.headers["content-type"] == JSON


def test_orgs(client: TestClient, world: World, forum: str) -> None:
    made = client.post("/admin/orgs/", json={"name": "Agency C"}, headers=admin(world))
    assert made.status_code == 201 and made.json()["id"].startswith("identity--")
    listed = client.get("/admin/orgs/", headers=admin(world)).json()["orgs"]
    assert {(o["name"], o["communities"]) for o in listed} == {
        ("Agency A", 1), ("Agency B", 0), ("Agency C", 0)}
    again = client.post("/admin/orgs/", json={"name": "Agency C"}, headers=admin(world))
    assert_error(again, 409)


def test_community_lifecycle(client: TestClient, world: World) -> None:
    h = admin(world)
    r = client.post("/admin/communities/", headers=h, json={
        "name": "Sahel Forum", "description": None, "members": ["Agency A"],
        "conveners": ["Agency B"]})
    assert r.status_code == 201, r.text
    made = r.json()
    assert r.headers["Location"] == f"/admin/communities/{made['id']}/"
    assert made["collections"][0]["alias"] == "sahel-forum"
    assert [(m["name"], m["role"]) for m in made["members"]] == [("Agency B", "convener"),
                                                                ("Agency A", "member")]
    assert client.get(r.headers["Location"], headers=h).json() == made
    assert client.get("/admin/communities/Sahel Forum/", headers=h).json() == made
    c = world.node.create_org("Agency C")
    added = client.post(f"/admin/communities/{made['id']}/members/", headers=h,
                        json={"org": c.id, "role": "convener"})
    assert added.status_code == 201
    assert added.json() | {"joined": None} == {"community": made["id"], "org_id": c.id,
                                               "name": "Agency C", "role": "convener",
                                               "joined": None}
    gone = client.delete(f"/admin/communities/{made['id']}/members/Agency A/", headers=h)
    assert gone.json() == {"community": made["id"], "org_id": world.node.org("Agency A").id,
                           "removed": True}
    listed = client.get("/admin/communities/", headers=h).json()["communities"]
    assert [(x["name"], x["member_count"]) for x in listed] == [("Sahel Forum", 2)]


def test_agreements(client: TestClient, world: World) -> None:
    h = admin(world)
    r = client.post("/admin/agreements/", headers=h,
                    json={"orgs": ["Agency A", "Agency B"], "name": None})
    assert r.status_code == 201 and r.json()["kind"] == "agreement"
    assert r.json()["name"] == "Agency A & Agency B"
    [listed] = client.get("/admin/agreements/", headers=h).json()["agreements"]
    assert {m["name"] for m in listed["members"]} == {"Agency A", "Agency B"}
    assert client.get("/admin/communities/", headers=h).json() == {"communities": []}
    aid = listed["id"]
    assert "already have" in assert_error(client.post("/admin/agreements/", headers=h, json={
        "orgs": ["Agency B", "Agency A"]}), 409)["description"]
    world.node.create_org("local")
    assert_error(client.post(f"/admin/communities/{aid}/members/", headers=h,
                             json={"org": "local"}), 409)
    assert_error(client.delete(f"/admin/communities/{aid}/members/Agency A/", headers=h), 409)


@pytest.mark.parametrize(("path", "body", "status", "says"), [
    ("/admin/communities/", b"{not json", 400, "not valid JSON"),
    ("/admin/communities/", b"", 400, "not valid JSON"),
    ("/admin/communities/", b"[]", 400, "JSON object"),
    ("/admin/communities/", b'"Forum"', 400, "JSON object"),
    ("/admin/communities/", b"{}", 400, "'name' is required"),
    ("/admin/communities/", b'{"name": null}', 400, "'name' is required"),
    ("/admin/communities/", b'{"name": 5}', 400, "'name' must be a string"),
    ("/admin/communities/", b'{"name": "X", "description": []}', 400, "'description'"),
    ("/admin/communities/", b'{"name": "X", "members": "Agency A"}', 400, "list of strings"),
    ("/admin/communities/", b'{"name": "X", "members": [1]}', 400, "list of strings"),
    ("/admin/communities/", b'{"name": "X", "member": ["Agency A"]}', 400, "unknown field"),
    ("/admin/communities/", b'{"name": "X", "members": ["nobody"]}', 404, "nobody"),
    ("/admin/communities/", b'{"name": "Forum"}', 409, "already exists"),
    ("/admin/communities/", b'{"name": "  "}', 400, "needs a name"),
    ("/admin/orgs/", b'{"name": ["a"]}', 400, "'name' must be a string"),
    ("/admin/orgs/", b'{"name": ""}', 400, "needs a name"),
    ("/admin/agreements/", b'{"orgs": ["Agency A"]}', 400, "exactly two"),
    ("/admin/agreements/", b'{"orgs": ["Agency A", "Agency A"]}', 400, "two different"),
    ("/admin/agreements/", b'{"orgs": {"a": 1}}', 400, "list of strings"),
    ("/admin/agreements/", b'{"orgs": ["Agency A", "Agency B"], "name": 3}', 400, "'name'"),
    ("/admin/communities/Forum/members/", b'{"org": "Agency A"}', 409, "already a member"),
    ("/admin/communities/Forum/members/", b'{"org": "Agency B", "role": "boss"}', 400, "role"),
    ("/admin/communities/Forum/members/", b'{"role": "member"}', 400, "'org' is required"),
    ("/admin/communities/Nowhere/members/", b'{"org": "Agency B"}', 404, "Nowhere"),
])
def test_bad_requests_get_clear_errors(client: TestClient, world: World, forum: str, path: str,
                                       body: bytes, status: int, says: str) -> None:
    r = client.post(path, content=body, headers={**admin(world), "Content-Type": JSON})
    assert says in assert_error(r, status)["description"]


def test_other_errors_are_json_too(client: TestClient, world: World, forum: str) -> None:
    h = admin(world)
    assert_error(client.get("/admin/communities/Nowhere/", headers=h), 404)
    assert_error(client.delete("/admin/communities/Forum/members/Agency B/", headers=h), 404)
    assert_error(client.delete("/admin/communities/Forum/members/nobody/", headers=h), 404)
    assert "admin API" in assert_error(client.get("/admin/nothing/", headers=h), 404)[
        "description"]
    assert_error(client.put("/admin/orgs/", headers=h), 405)
    big = b'{"name": "' + b"x" * 1_100_000 + b'"}'
    assert_error(client.post("/admin/orgs/", content=big, headers=h), 413)
    # TAXII errors keep the TAXII media type.
    taxii = client.get("/api/nothing/", headers=world.auth("admin"))
    assert taxii.headers["content-type"].startswith("application/taxii+json")
