"""Release requests and signed grants: the originator's consent lets a received
version go where the re-sharing rules alone would refuse it, and nothing else does."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from starlette.testclient import TestClient

from tests.conftest import TAXII, World, indicator
from thiqa import signing
from thiqa.audit import AuditQuery
from thiqa.store.sqlite import SQLiteStore

X = indicator(1, tlp="amber")


def _call(client: TestClient, world: World, who: str, method: str, path: str,
          body: Any = None) -> Any:
    return client.request(method, path, headers={**world.auth(who), "Content-Type": TAXII},
                          content=None if body is None else json.dumps(body))


def _post(client: TestClient, world: World, who: str, coll: str) -> dict[str, Any]:
    r = _call(client, world, who, "POST", f"/api/collections/{coll}/objects/", {"objects": [X]})
    assert r.status_code == 202, r.text
    body: dict[str, Any] = r.json()
    return body


def _ask(client: TestClient, world: World) -> dict[str, Any]:
    r = _call(client, world, "b_analyst", "POST", "/api/releases/",
              {"id": X["id"], "collection": "dropbox", "reason": "our SOC needs it"})
    assert r.status_code == 201, r.text
    [release] = r.json()["releases"]
    return dict(release)


def test_grant_lets_the_version_through_keeping_its_originator(client: TestClient,
                                                                world: World) -> None:
    a = world.node.authenticate(f"Bearer {world.keys['a_analyst']}").org.id
    _post(client, world, "a_analyst", "shared")  # B reads shared: it receives X
    refused = _post(client, world, "b_analyst", "dropbox")
    assert refused["failure_count"] == 1 and "rule 2" in refused["failures"][0]["message"]
    release = _ask(client, world)
    assert (release["state"], release["originator"]) == ("pending", a)
    # The originator sees the request; it is not the requester's to decide.
    listed = _call(client, world, "a_analyst", "GET", "/api/releases/").json()["releases"]
    assert [r["id"] for r in listed] == [release["id"]]
    assert _call(client, world, "b_analyst", "POST",
                 f"/api/releases/{release['id']}/grant/").status_code == 404
    r = _call(client, world, "a_analyst", "POST", f"/api/releases/{release['id']}/grant/")
    assert r.status_code == 200, r.text
    granted = r.json()
    assert granted["state"] == "granted" and granted["grant"]["grantee"] != a
    assert signing.verify(granted["signer"], granted["grant"], granted["signature"])
    assert granted["signer"] == world.node.node_key().public
    ok = _post(client, world, "b_analyst", "dropbox")
    assert ok["success_count"] == 1, ok
    # Stored in dropbox as A's AMBER version (A reads dropbox).
    got = _call(client, world, "admin", "GET", f"/api/collections/dropbox/objects/{X['id']}/")
    assert got.json()["objects"][0]["object_marking_refs"] == X["object_marking_refs"]
    again = _call(client, world, "a_analyst", "POST", f"/api/releases/{release['id']}/refuse/")
    assert again.status_code == 409
    actions = {e.action for e in world.node.audit_log(AuditQuery(action="release."))}
    assert actions == {"release.request", "release.grant"}


def test_a_refused_or_tampered_grant_releases_nothing(client: TestClient, world: World) -> None:
    _post(client, world, "a_analyst", "shared")
    first = _ask(client, world)
    r = _call(client, world, "a_analyst", "POST", f"/api/releases/{first['id']}/refuse/")
    assert r.json()["state"] == "refused"
    assert _post(client, world, "b_analyst", "dropbox")["failure_count"] == 1
    second = _ask(client, world)
    _call(client, world, "a_analyst", "POST", f"/api/releases/{second['id']}/grant/")
    # Someone with access to the database rewrites the grant to another collection's id.
    store = world.node.store
    if isinstance(store, SQLiteStore):
        cx: Any = sqlite3.connect(store.path)
        mark = "?"
    else:
        import psycopg

        cx, mark = psycopg.connect(store.url), "%s"  # type: ignore[attr-defined]
    record = json.loads(bytes(cx.execute(f"SELECT grant_record FROM releases WHERE id = {mark}",
                                         (second["id"],)).fetchone()[0]))
    record["collection"] = world.private.id
    cx.execute(f"UPDATE releases SET grant_record = {mark} WHERE id = {mark}",
               (signing.canonical(record), second["id"]))
    cx.commit()
    cx.close()
    assert _post(client, world, "b_analyst", "dropbox")["failure_count"] == 1


def test_release_requests_need_a_received_object_and_a_writable_target(
        client: TestClient, world: World) -> None:
    _post(client, world, "a_analyst", "shared")
    # A's own object: nothing to ask anyone.
    own = _call(client, world, "a_analyst", "POST", "/api/releases/",
                {"id": X["id"], "collection": "dropbox"})
    assert own.status_code == 404
    never = _call(client, world, "b_analyst", "POST", "/api/releases/",
                  {"id": indicator(9)["id"], "collection": "dropbox"})
    assert never.status_code == 404
    # A collection B may not write: 403; one it cannot see: 404.
    assert _call(client, world, "b_analyst", "POST", "/api/releases/",
                 {"id": X["id"], "collection": "shared"}).status_code == 403
    assert _call(client, world, "b_analyst", "POST", "/api/releases/",
                 {"id": X["id"], "collection": "private"}).status_code == 404
    assert _call(client, world, "b_reader", "POST", "/api/releases/",
                 {"id": X["id"], "collection": "dropbox"}).status_code == 403
    for bad in ([], {"id": X["id"]}, {"id": 1, "collection": "dropbox"},
                {"id": X["id"], "collection": "dropbox", "extra": 1}):
        r = _call(client, world, "b_analyst", "POST", "/api/releases/", bad)
        assert r.status_code == 400, (bad, r.text)
    assert _call(client, world, "a_analyst", "POST", "/api/releases/x/approve/").status_code \
        == 404


def test_canonical_json_follows_rfc8785_ordering_and_escapes() -> None:
    value = {"b": [1, True, None], "a": "é\n\u001f\"", "\ufb33": 0, "\U0001f600": 1}
    text = signing.canonical(value).decode()
    # Members sorted by UTF-16 code units: U+1F600 (surrogates D83D DE00) sorts before
    # U+FB33, although its code point is higher (RFC 8785 §3.2.3).
    assert text == '{"a":"é\\n\\u001f\\"","b":[1,true,null],"\U0001f600":1,"\ufb33":0}'
