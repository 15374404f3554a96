"""Every error leaves as a TAXII error message (§3.6.1) with the right status, on every
endpoint; bad input never yields a 500 and never changes what is stored."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import TAXII, World, indicator

OBJ = indicator(1)["id"]
ENDPOINTS = [
    ("GET", "/taxii2/"),
    ("GET", "/api/"),
    ("GET", "/api/status/00000000-0000-4000-8000-000000000001/"),
    ("GET", "/api/collections/"),
    ("GET", "/api/collections/shared/"),
    ("GET", "/api/collections/shared/manifest/"),
    ("GET", "/api/collections/shared/objects/"),
    ("POST", "/api/collections/shared/objects/"),
    ("GET", f"/api/collections/shared/objects/{OBJ}/"),
    ("DELETE", f"/api/collections/shared/objects/{OBJ}/"),
    ("GET", f"/api/collections/shared/objects/{OBJ}/versions/"),
]


def assert_error(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == TAXII
    body: dict[str, Any] = r.json()
    assert set(body) <= {"title", "description", "error_id", "error_code", "http_status",
                         "external_details", "details"}
    assert body["title"] and body["description"] and body["http_status"] == str(status)
    return body


def send(client: TestClient, method: str, path: str, headers: dict[str, str],
         body: bytes | None = None) -> Any:
    if method == "POST":
        headers = {"Content-Type": TAXII, **headers}
        body = body if body is not None else b'{"objects": []}'
    return client.request(method, path, headers=headers, content=body)


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_unauthenticated_gets_401_with_challenge(client: TestClient, method: str,
                                                 path: str) -> None:
    r = send(client, method, path, {"Accept": TAXII})
    assert_error(r, 401)
    assert "Basic" in r.headers["WWW-Authenticate"]
    bad = send(client, method, path, {"Accept": TAXII, "Authorization": "Bearer thiqa_x_y"})
    assert_error(bad, 401)


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_unacceptable_accept_gets_406(client: TestClient, world: World, method: str,
                                      path: str) -> None:
    for accept in ("text/html", "application/taxii+json;version=2.0", "application/json"):
        r = send(client, method, path, {**world.auth("admin"), "Accept": accept})
        assert_error(r, 406)


@pytest.mark.parametrize(("method", "path"), ENDPOINTS[4:])
def test_invisible_collection_is_404_like_a_missing_one(client: TestClient, world: World,
                                                        method: str, path: str) -> None:
    private = send(client, method, path.replace("shared", "private"), world.auth("b_analyst"))
    missing = send(client, method, path.replace("shared", "no-such-collection"),
                   world.auth("b_analyst"))
    assert assert_error(private, 404)["title"] == assert_error(missing, 404)["title"]
    assert private.json()["description"].replace("private", "X") == \
        missing.json()["description"].replace("no-such-collection", "X")


@pytest.mark.parametrize("query", [
    "added_after=yesterday", "added_after=2024-13-01T00:00:00Z", "added_after=2024-01-01",
    "limit=0", "limit=-5", "limit=ten", "next=garbage", "next=",
    "match[version]=all,last", "match[version]=last,last", "match[version]=2024-99-01T00:00:00Z",
    "match[type]=Not A Type", "match[type]=indicator,,malware", "match[id]=not-an-id",
    "match[spec_version]=two", "limit=1&limit=2",
])
def test_bad_filters_get_400(client: TestClient, world: World, query: str) -> None:
    r = client.get(f"/api/collections/shared/objects/?{query}", headers=world.auth("admin"))
    assert_error(r, 400)
    r = client.get(f"/api/collections/shared/manifest/?{query}", headers=world.auth("admin"))
    assert_error(r, 400)


def test_match_fields_of_other_endpoints_are_refused(client: TestClient, world: World) -> None:
    r = client.get(f"/api/collections/shared/objects/{OBJ}/?match[type]=indicator",
                   headers=world.auth("admin"))
    assert_error(r, 400)


def test_cursor_from_another_collection_is_refused(client: TestClient, world: World) -> None:
    post = {**world.auth("admin"), "Content-Type": TAXII}
    client.post("/api/collections/private/objects/", headers=post,
                json={"objects": [indicator(i) for i in range(3)]})
    token = client.get("/api/collections/private/objects/?limit=1",
                       headers=world.auth("admin")).json()["next"]
    r = client.get(f"/api/collections/shared/objects/?next={token}", headers=world.auth("admin"))
    assert_error(r, 400)


@pytest.mark.parametrize(("body", "status"), [
    (b"{not json", 422),
    (b'{"objects": [1, 2,]}', 422),
    (b"[]", 422),
    (b'{"objects": {}}', 422),
    (b'{"objects": []}', 422),
    (b'{"more": false}', 422),
    (b"", 422),
])
def test_unprocessable_bodies(client: TestClient, world: World, body: bytes, status: int) -> None:
    client.post("/api/collections/shared/objects/", json={"objects": [indicator(1)]},
                headers={**world.auth("admin"), "Content-Type": TAXII})
    r = send(client, "POST", "/api/collections/shared/objects/", world.auth("admin"), body)
    assert_error(r, status)
    # Nothing already stored was lost.
    got = client.get("/api/collections/shared/objects/", headers=world.auth("admin")).json()
    assert [o["id"] for o in got["objects"]] == [indicator(1)["id"]]


@pytest.mark.parametrize("content_type", ["application/json", "text/plain",
                                          "application/taxii+json;version=2.0", ""])
def test_wrong_content_type_gets_415(client: TestClient, world: World, content_type: str) -> None:
    r = client.post("/api/collections/shared/objects/", content=b'{"objects": []}',
                    headers={**world.auth("admin"), "Content-Type": content_type})
    assert_error(r, 415)


def test_oversize_body_gets_413(client: TestClient, world: World) -> None:
    limit = world.node.settings.max_content_length
    big = b'{"objects": [' + b" " * (limit + 1) + b"]}"
    r = send(client, "POST", "/api/collections/shared/objects/", world.auth("admin"), big)
    assert_error(r, 413)

    def chunks() -> Any:  # no Content-Length: the limit holds while streaming
        yield b'{"objects": ['
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536
        yield b"]}"
    r = client.post("/api/collections/shared/objects/", content=chunks(),
                    headers={**world.auth("admin"), "Content-Type": TAXII})
    assert_error(r, 413)


@pytest.mark.parametrize(("who", "coll", "expected"), [
    ("b_analyst", "shared", 403),  # may read, not write
    ("b_reader", "shared", 403),
    ("b_analyst", "private", 404),
    ("b_analyst", "dropbox", 202),
])
def test_post_permissions(client: TestClient, world: World, who: str, coll: str,
                          expected: int) -> None:
    r = client.post(f"/api/collections/{coll}/objects/", json={"objects": [indicator(1)]},
                    headers={**world.auth(who), "Content-Type": TAXII})
    if expected == 202:
        assert r.status_code == 202
    else:
        assert_error(r, expected)


def test_read_of_write_only_collection_is_403(client: TestClient, world: World) -> None:
    for path in ("objects/", "manifest/", f"objects/{OBJ}/", f"objects/{OBJ}/versions/"):
        r = client.get(f"/api/collections/dropbox/{path}", headers=world.auth("b_analyst"))
        assert_error(r, 403)


def test_unknown_path_and_method(client: TestClient, world: World) -> None:
    assert_error(client.get("/api/nothing-here/", headers=world.auth("admin")), 404)
    assert_error(client.put("/api/collections/", headers=world.auth("admin")), 405)
