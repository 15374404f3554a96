"""TAXII 2.1 endpoints in-process (§4, §5), on every store backend."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import TAXII, World, indicator

BASE = "/api/collections"


def post(client: TestClient, world: World, coll: str, objects: list[Any], who: str = "admin",
         bundle: bool = False) -> Any:
    body: dict[str, Any] = {"objects": objects}
    if bundle:
        body = {"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", **body}
    r = client.post(f"{BASE}/{coll}/objects/", json=body,
                    headers={**world.auth(who), "Content-Type": TAXII})
    assert r.status_code == 202, r.text
    return r.json()


def test_discovery_and_api_root(client: TestClient, world: World) -> None:
    r = client.get("/taxii2/", headers=world.auth("b_reader"))
    assert r.status_code == 200
    assert r.headers["content-type"] == TAXII
    d = r.json()
    assert d["title"] == "thiqa node" and d["default"] in d["api_roots"]
    assert d["api_roots"] == ["/api/"]  # relative (§4.1.1: HTTPS absolute or relative)
    root = client.get("/api/", headers=world.auth("b_reader")).json()
    assert root["versions"] == [TAXII]
    assert root["max_content_length"] == world.node.settings.max_content_length


def test_collections_show_only_what_each_org_may_see(client: TestClient, world: World) -> None:
    listed = client.get(f"{BASE}/", headers=world.auth("b_analyst")).json()["collections"]
    by_alias = {c["alias"]: c for c in listed}
    assert set(by_alias) == {"shared", "dropbox"}
    assert (by_alias["shared"]["can_read"], by_alias["shared"]["can_write"]) == (True, False)
    assert (by_alias["dropbox"]["can_read"], by_alias["dropbox"]["can_write"]) == (False, True)
    # A reader never writes, whatever its organisation's grant says: a write-only
    # collection does not exist for it.
    b_reader = {c["alias"] for c in client.get(f"{BASE}/", headers=world.auth("b_reader"))
                .json()["collections"]}
    assert b_reader == {"shared"}
    one = client.get(f"{BASE}/{world.shared.id}/", headers=world.auth("b_analyst")).json()
    assert one["id"] == world.shared.id and one["media_types"] == [
        "application/stix+json;version=2.1"]
    assert client.get(f"{BASE}/shared/", headers=world.auth("b_analyst")).json()["id"] == \
        world.shared.id


def test_post_envelope_and_bundle_then_status(client: TestClient, world: World) -> None:
    s1 = post(client, world, "shared", [indicator(1), indicator(2)])
    assert (s1["status"], s1["total_count"], s1["success_count"], s1["failure_count"],
            s1["pending_count"]) == ("complete", 2, 2, 0, 0)
    assert {d["id"] for d in s1["successes"]} == {indicator(1)["id"], indicator(2)["id"]}
    assert "failures" not in s1 and "pendings" not in s1  # TAXII lists are never empty
    s2 = post(client, world, "shared", [indicator(3)], bundle=True)
    assert s2["success_count"] == 1
    again = client.get(f"/api/status/{s1['id']}/", headers=world.auth("admin"))
    assert again.status_code == 200 and again.json() == s1


def test_valid_objects_are_stored_beside_invalid_ones(client: TestClient, world: World) -> None:
    bad = {k: v for k, v in indicator(9).items() if k != "id"}
    nested = {"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
              "objects": [indicator(8)]}
    s = post(client, world, "shared", [indicator(1), bad, 42, nested])
    assert (s["success_count"], s["failure_count"]) == (1, 3)
    assert all(f["message"] for f in s["failures"])
    got = client.get(f"{BASE}/shared/objects/", headers=world.auth("admin")).json()
    assert [o["id"] for o in got["objects"]] == [indicator(1)["id"]]


def test_status_is_private_to_the_posting_org(client: TestClient, world: World) -> None:
    s = post(client, world, "dropbox", [indicator(1)], who="b_analyst")
    assert client.get(f"/api/status/{s['id']}/", headers=world.auth("b_reader")).status_code \
        == 200
    r = client.get(f"/api/status/{s['id']}/", headers=world.auth("a_analyst"))
    assert r.status_code == 404


def test_objects_paginate_with_next_and_headers(client: TestClient, world: World) -> None:
    post(client, world, "shared", [indicator(i, tlp="green") for i in range(25)])
    seen: list[str] = []
    url = f"{BASE}/shared/objects/?limit=10"
    pages = 0
    while True:
        r = client.get(url, headers=world.auth("b_reader"))
        assert r.status_code == 200
        assert r.headers["X-TAXII-Date-Added-First"] <= r.headers["X-TAXII-Date-Added-Last"]
        body = r.json()
        seen += [o["id"] for o in body["objects"]]
        pages += 1
        if not body["more"]:
            assert "next" not in body
            break
        assert body["next"]
        url = f"{BASE}/shared/objects/?limit=10&next={body['next']}"
    assert pages == 3 and seen == [indicator(i, tlp="green")["id"] for i in range(25)]


def test_added_after_paging_with_date_header(client: TestClient, world: World) -> None:
    post(client, world, "shared", [indicator(i) for i in range(5)])
    r = client.get(f"{BASE}/shared/objects/?limit=2", headers=world.auth("admin"))
    last = r.headers["X-TAXII-Date-Added-Last"]
    r2 = client.get(f"{BASE}/shared/objects/?limit=10&added_after={last}",
                    headers=world.auth("admin"))
    assert [o["id"] for o in r2.json()["objects"]] == [indicator(i)["id"] for i in range(2, 5)]


def test_server_limit_caps_client_limit(client: TestClient, world: World) -> None:
    post(client, world, "shared", [indicator(i) for i in range(150)])
    body = client.get(f"{BASE}/shared/objects/?limit=1000", headers=world.auth("admin")).json()
    assert len(body["objects"]) == 100 and body["more"] is True and body["next"]


def test_empty_results_are_empty_objects(client: TestClient, world: World) -> None:
    for path in ("objects/", "manifest/"):
        r = client.get(f"{BASE}/shared/{path}", headers=world.auth("admin"))
        assert r.status_code == 200 and r.json() == {}
    r = client.get(f"{BASE}/shared/objects/?added_after=2020-01-01T00:00:00Z",
                   headers=world.auth("admin"))
    assert r.json() == {}
    assert r.headers["X-TAXII-Date-Added-Last"] == "2020-01-01T00:00:00.000000Z"


def test_match_filters(client: TestClient, world: World) -> None:
    v1 = indicator(1, modified="2024-01-01T00:00:00.000Z")
    v2 = indicator(1, modified="2024-06-01T00:00:00.000Z")
    post(client, world, "shared", [v1, v2, indicator(2)])
    h = world.auth("admin")

    def get(q: str) -> list[tuple[str, str]]:
        r = client.get(f"{BASE}/shared/objects/?{q}", headers=h)
        assert r.status_code == 200, r.text
        return [(o["id"], o["modified"]) for o in r.json().get("objects", [])]

    assert get(f"match[id]={v1['id']}") == [(v1["id"], v2["modified"])]
    assert set(get(f"match[id]={v1['id']}&match[version]=all")) == {
        (v1["id"], v1["modified"]), (v1["id"], v2["modified"])}
    assert get(f"match[id]={v1['id']}&match[version]=first") == [(v1["id"], v1["modified"])]
    assert get("match[version]=2024-01-01T00:00:00Z") == [
        (v1["id"], v1["modified"]), (indicator(2)["id"], indicator(2)["modified"])]
    assert len(get("match[type]=indicator,malware")) == 2
    assert get("match[type]=malware") == []
    assert len(get("match[spec_version]=2.1")) == 2
    assert get("match[spec_version]=2.0") == []
    assert len(get("match[x_custom]=whatever")) == 2  # unknown fields are ignored (§3.4)


def test_object_versions_and_manifest(client: TestClient, world: World) -> None:
    v1 = indicator(1, modified="2024-01-01T00:00:00.000Z", tlp="green")
    v2 = indicator(1, modified="2024-06-01T00:00:00.000Z", tlp="amber")
    post(client, world, "shared", [v1, v2])
    h = world.auth("b_reader")
    r = client.get(f"{BASE}/shared/objects/{v1['id']}/", headers=h)
    assert r.status_code == 200 and r.json()["objects"] == [v2]
    assert "X-TAXII-Date-Added-First" in r.headers
    r = client.get(f"{BASE}/shared/objects/{v1['id']}/?match[version]=all", headers=h)
    assert sorted(o["modified"] for o in r.json()["objects"]) == [v1["modified"], v2["modified"]]
    r = client.get(f"{BASE}/shared/objects/{v1['id']}/versions/", headers=h)
    assert r.json() == {"more": False, "versions": [v1["modified"], v2["modified"]]}
    assert "X-TAXII-Date-Added-Last" in r.headers
    m = client.get(f"{BASE}/shared/manifest/?match[version]=all", headers=h).json()
    assert [(e["id"], e["version"]) for e in m["objects"]] == [
        (v1["id"], v1["modified"]), (v2["id"], v2["modified"])]
    assert all(e["media_type"] == "application/stix+json;version=2.1" and
               e["date_added"].endswith("Z") for e in m["objects"])
    missing = "indicator--00000000-0000-4000-8000-999999999999"
    assert client.get(f"{BASE}/shared/objects/{missing}/", headers=h).status_code == 404
    assert client.get(f"{BASE}/shared/objects/{missing}/versions/", headers=h).status_code == 404


def test_delete_removes_object_everywhere_in_the_collection(client: TestClient,
                                                            world: World) -> None:
    v1 = indicator(1, modified="2024-01-01T00:00:00.000Z")
    v2 = indicator(1, modified="2024-06-01T00:00:00.000Z")
    post(client, world, "shared", [v1, v2, indicator(2)])
    h = world.auth("a_analyst")
    r = client.delete(f"{BASE}/shared/objects/{v1['id']}/?match[version]=last", headers=h)
    assert r.status_code == 200
    gone = client.get(f"{BASE}/shared/objects/{v1['id']}/?match[version]={v2['modified']}",
                      headers=h)
    assert gone.status_code == 404  # §5.7: a deleted version is not found
    left = client.get(f"{BASE}/shared/objects/{v1['id']}/", headers=h).json()["objects"]
    assert left == [v1]
    assert client.delete(f"{BASE}/shared/objects/{v1['id']}/", headers=h).status_code == 200
    assert client.get(f"{BASE}/shared/objects/{v1['id']}/", headers=h).status_code == 404
    manifest = client.get(f"{BASE}/shared/manifest/", headers=h).json()["objects"]
    assert [e["id"] for e in manifest] == [indicator(2)["id"]]
    assert client.delete(f"{BASE}/shared/objects/{v1['id']}/", headers=h).status_code == 404


@pytest.mark.parametrize(("who", "coll", "expected"), [
    ("a_analyst", "shared", 200),   # read + write
    ("b_analyst", "shared", 403),   # read only
    ("b_analyst", "dropbox", 403),  # write only
    ("b_analyst", "private", 404),  # neither: the collection does not exist for B
    ("a_reader", "shared", 403),    # role reader never writes
])
def test_delete_permission_matrix(client: TestClient, world: World, who: str, coll: str,
                                  expected: int) -> None:
    post(client, world, coll, [indicator(1)])
    r = client.delete(f"{BASE}/{coll}/objects/{indicator(1)['id']}/", headers=world.auth(who))
    assert r.status_code == expected, r.text


def test_basic_auth_and_plain_media_type(client: TestClient, world: World) -> None:
    h = {**world.basic("b_reader"), "Accept": "application/taxii+json"}
    r = client.get(f"{BASE}/", headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == TAXII


def test_revoked_key_is_refused(client: TestClient, world: World) -> None:
    key_id = world.keys["b_reader"].split("_")[1]
    world.node.revoke_key(key_id)
    r = client.get("/taxii2/", headers=world.auth("b_reader"))
    assert r.status_code == 401
