"""Search (thiqa.search, GET /api/search/): by STIX id or text, across the collections
the caller may read, finding only what the one policy lets it see; and the definitions
of thiqa's extensions (GET /api/definitions/)."""

from __future__ import annotations

from typing import Any

import pytest
import stix2
from starlette.testclient import TestClient

from tests.conftest import TAXII, World, indicator
from thiqa.audit import AuditQuery
from thiqa.federation.extension import PROVENANCE_ID
from thiqa.handling import EXTENSION_ID
from thiqa.stix.validate import validate
from thiqa.taxii import create_app


@pytest.fixture
def client(world: World) -> Any:
    with TestClient(create_app(world.node.settings, world.node.store, world.node.clock)) as c:
        yield c


def _post(client: TestClient, world: World, coll: str, objects: list[Any]) -> None:
    r = client.post(f"/api/collections/{coll}/objects/", json={"objects": objects},
                    headers={**world.auth("a_analyst"), "Content-Type": TAXII})
    assert r.status_code == 202 and r.json()["failure_count"] == 0, r.text


def _search(client: TestClient, world: World, who: str, query: str) -> Any:
    return client.get(f"/api/search/{query}",
                      headers={"Authorization": world.auth(who)["Authorization"]})


def _named(n: int, name: str, **kw: Any) -> dict[str, Any]:
    return {**indicator(n, **kw), "name": name}


def test_text_and_id_across_collections(client: TestClient, world: World) -> None:
    _post(client, world, "shared", [_named(1, "Hawala network Alpha", tlp="green"),
                                    _named(2, "hawala courier", tlp="amber"),
                                    _named(3, "unrelated", tlp="green"),
                                    _named(4, "Hawala, unmarked")])  # RED: A's alone
    _post(client, world, "private", [_named(5, "HAWALA ledger", tlp="green")])
    a = _search(client, world, "a_reader", "?q=hawala").json()
    assert {(r["collection"], r["object"]["id"]) for r in a["results"]} == {
        (world.shared.id, indicator(1)["id"]), (world.shared.id, indicator(2)["id"]),
        (world.shared.id, indicator(4)["id"]), (world.private.id, indicator(5)["id"])}
    # B reads 'shared' only, and not A's RED indicator: it finds two, and nothing betrays
    # the other two.
    b = _search(client, world, "b_reader", "?q=HAWALA").json()
    assert [r["object"]["id"] for r in b["results"]] == [indicator(1)["id"],
                                                         indicator(2)["id"]]
    assert b["more"] is False
    by_id = _search(client, world, "b_reader", f"?q={indicator(2)['id']}").json()
    assert [r["object"]["name"] for r in by_id["results"]] == ["hawala courier"]
    hidden = _search(client, world, "b_reader", f"?q={indicator(5)['id']}").json()
    assert hidden == {"results": [], "more": False}
    # An AMBER result is a disclosure: audited.
    reads = world.node.audit_log(AuditQuery(action="read"))
    assert any(indicator(2)["id"] in e.objects for e in reads)


def test_latest_version_limit_and_type(client: TestClient, world: World) -> None:
    _post(client, world, "shared", [_named(1, "alpha one", tlp="green"),
                                    _named(1, "alpha two", tlp="green",
                                           modified="2024-03-01T00:00:00.000Z"),
                                    *[_named(n, f"alpha {n}", tlp="green")
                                      for n in range(2, 6)]])
    got = _search(client, world, "b_reader", "?q=alpha&limit=3").json()
    assert len(got["results"]) == 3 and got["more"] is True
    assert got["results"][0]["object"]["name"] == "alpha two"  # the latest version only
    every = _search(client, world, "b_reader", "?q=alpha").json()
    assert len(every["results"]) == 5
    assert _search(client, world, "b_reader", "?q=alpha&type=malware").json()["results"] == []
    assert len(_search(client, world, "b_reader",
                       "?q=alpha&type=indicator").json()["results"]) == 5


def test_search_errors(client: TestClient, world: World) -> None:
    for query in ("?q=ab", "?q=alpha&limit=0", "?q=alpha&limit=x", "?q=alpha&limit=5000",
                  "?q=alpha&colour=red", ""):
        r = _search(client, world, "b_reader", query)
        assert r.status_code == 400 and r.json()["http_status"] == "400", query
        assert r.headers["content-type"].startswith("application/json")
    assert client.get("/api/search/?q=alpha").status_code == 401


def test_definitions_are_served_and_valid_stix(client: TestClient, world: World) -> None:
    r = client.get("/api/definitions/", headers=world.auth("b_reader"))
    assert r.status_code == 200 and r.headers["content-type"].startswith(
        "application/taxii+json")
    objects = r.json()["objects"]
    exts = {o["id"]: o for o in objects if o["type"] == "extension-definition"}
    assert set(exts) == {EXTENSION_ID, PROVENANCE_ID}
    for ext in exts.values():
        [creator] = [o for o in objects if o["id"] == ext["created_by_ref"]]
        assert creator["type"] == "identity"
    for o in objects:
        stix2.parse(o, allow_custom=False)
        assert validate(o) == [], o["id"]
    assert client.get("/api/definitions/").status_code == 401
