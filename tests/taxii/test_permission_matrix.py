"""The TAXII 2.1 permission matrix, every endpoint × every caller × every collection.

Expected statuses are derived from the grants of the ``world`` fixture and the
rules of TAXII 2.1 — §5.1–5.2 (a collection neither readable nor writable is 404, as if
absent), §5.3–5.8 (reading needs ``can_read``, adding needs ``can_write``, deleting
needs both, else 403), §3.6 (no or unknown credentials: 401) — and the key's role
(``reader`` never writes, ``admin`` reads and writes everything). Each cell is one test,
so a regression names the endpoint, the caller and the collection at once.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import TAXII, World, indicator

# What each caller may do per collection (see the World fixture in conftest.py).
#   shared: A reads + writes, B reads.  private: A only.  dropbox: A reads + writes, B writes.
_GRANTS: dict[str, dict[str, tuple[bool, bool]]] = {
    "admin": {"shared": (True, True), "private": (True, True), "dropbox": (True, True)},
    "a_analyst": {"shared": (True, True), "private": (True, True), "dropbox": (True, True)},
    "a_reader": {"shared": (True, False), "private": (True, False), "dropbox": (True, False)},
    "b_analyst": {"shared": (True, False), "private": (False, False),
                  "dropbox": (False, True)},
    "b_reader": {"shared": (True, False), "private": (False, False),
                 "dropbox": (False, False)},
}
_CALLERS = [*_GRANTS, "nobody", "forged"]
_COLLECTIONS = ["shared", "private", "dropbox"]
# Per endpoint: what it needs of the collection ("read", "write" or "both").
_ENDPOINTS = {
    ("GET", "collection"): "visible",
    ("GET", "manifest"): "read",
    ("GET", "objects"): "read",
    ("POST", "objects"): "write",
    ("GET", "object"): "read",
    ("DELETE", "object"): "both",
    ("GET", "versions"): "read",
    ("GET", "export"): "read",  # thiqa's export beside TAXII follows the same matrix
}
OBJECT = indicator(1, tlp="green")


def _expected(caller: str, collection: str, needs: str, ok: int) -> int:
    if caller not in _GRANTS:
        return 401
    can_read, can_write = _GRANTS[caller][collection]
    if not (can_read or can_write):
        return 404
    allowed = {"visible": True, "read": can_read, "write": can_write,
               "both": can_read and can_write}[needs]
    return ok if allowed else 403


def _headers(world: World, caller: str) -> dict[str, str]:
    if caller == "nobody":
        return {"Accept": TAXII}
    if caller == "forged":
        return {"Accept": TAXII, "Authorization": "Bearer thiqa_forged_0000000000000000"}
    return world.auth(caller)


def _path(collection: str, endpoint: str) -> str:
    base = f"/api/collections/{collection}/"
    return {"collection": base, "manifest": f"{base}manifest/", "objects": f"{base}objects/",
            "object": f"{base}objects/{OBJECT['id']}/",
            "versions": f"{base}objects/{OBJECT['id']}/versions/",
            "export": f"{base}export/"}[endpoint]


def _seed(world: World) -> None:
    admin = world.node.authenticate(f"Bearer {world.keys['admin']}")
    for c in _COLLECTIONS:
        status = world.node.add_objects(admin, c, [dict(OBJECT)])
        assert not status.failures


def _check_error(r: Any, status: int) -> None:
    assert r.status_code == status, r.text
    if status >= 400:
        assert r.headers["content-type"] == TAXII
        body = r.json()
        assert body["http_status"] == str(status) and body["title"]
        if status == 401:
            assert "WWW-Authenticate" in r.headers


@pytest.mark.parametrize("collection", _COLLECTIONS)
@pytest.mark.parametrize("caller", _CALLERS)
@pytest.mark.parametrize(("method", "endpoint"), list(_ENDPOINTS))
def test_permission_matrix(client: TestClient, world: World, method: str, endpoint: str,
                           caller: str, collection: str) -> None:
    _seed(world)
    ok = 202 if method == "POST" else 200
    expected = _expected(caller, collection, _ENDPOINTS[(method, endpoint)], ok)
    headers = _headers(world, caller)
    body = None
    if method == "POST":
        headers = {**headers, "Content-Type": TAXII}
        body = b'{"objects": [' + b'{"type": "indicator", "spec_version": "2.1", ' + (
            b'"id": "indicator--00000000-0000-4000-8000-000000000002", '
            b'"created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z", '
            b'"pattern": "[ipv4-addr:value = \'10.0.0.2\']", "pattern_type": "stix", '
            b'"valid_from": "2024-01-01T00:00:00Z"}]}')
    r = client.request(method, _path(collection, endpoint), headers=headers, content=body)
    _check_error(r, expected)
    if method == "DELETE" and expected != 200:
        # A refused delete removed nothing.
        admin = world.auth("admin")
        assert client.get(_path(collection, "object"), headers=admin).status_code == 200


@pytest.mark.parametrize("caller", _CALLERS)
def test_status_is_visible_to_its_org_and_admins_only(client: TestClient, world: World,
                                                      caller: str) -> None:
    a = world.node.authenticate(f"Bearer {world.keys['a_analyst']}")
    status = world.node.add_objects(a, "shared", [dict(OBJECT)])
    r = client.get(f"/api/status/{status.id}/", headers=_headers(world, caller))
    expected = (401 if caller not in _GRANTS
                else 200 if caller in ("admin", "a_analyst", "a_reader") else 404)
    _check_error(r, expected)


@pytest.mark.parametrize("caller", _CALLERS)
def test_discovery_api_root_and_collections_need_a_key(client: TestClient, world: World,
                                                       caller: str) -> None:
    for path in ("/taxii2/", "/api/", "/api/collections/"):
        r = client.get(path, headers=_headers(world, caller))
        _check_error(r, 401 if caller not in _GRANTS else 200)
