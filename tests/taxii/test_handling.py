"""Handling enforced through TAXII: every read path shows an organisation exactly the
versions rule 1 allows it, invisible objects look absent, and re-sharing follows rules
2-4 (DESIGN.md). Ends with a hypothesis property over random worlds."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests.conftest import TAXII, World, indicator
from thiqa.clock import FakeClock
from thiqa.handling import EXTENSION_ID, TLP2_IDS, Tlp
from thiqa.node import Node
from thiqa.settings import Settings
from thiqa.store.sqlite import SQLiteStore
from thiqa.taxii import create_app

BASE = "/api/collections"
NO_SUCH = "indicator--00000000-0000-4000-8000-999999999999"


def obj(n: int, tlp: Tlp | None, *, modified: str = "2024-01-01T00:00:00.000Z",
        recipients: list[str] | None = None, control: bool = False) -> dict[str, Any]:
    o: dict[str, Any] = indicator(n, modified=modified)
    if tlp is not None:
        o["object_marking_refs"] = [TLP2_IDS[tlp]]
    if recipients or control:
        ext: dict[str, Any] = {"extension_type": "property-extension"}
        if recipients:
            ext["recipients"] = recipients
        if control:
            ext["originator_control"] = True
        o["extensions"] = {EXTENSION_ID: ext}
    return o


def post(client: TestClient, key: str, coll: str, objects: list[Any]) -> dict[str, Any]:
    r = client.post(f"{BASE}/{coll}/objects/", json={"objects": objects},
                    headers={"Authorization": f"Bearer {key}", "Accept": TAXII,
                             "Content-Type": TAXII})
    assert r.status_code == 202, r.text
    body: dict[str, Any] = r.json()
    return body


def get(client: TestClient, key: str, path: str) -> Any:
    return client.get(f"{BASE}/{path}", headers={"Authorization": f"Bearer {key}",
                                                 "Accept": TAXII})


@pytest.fixture
def third(world: World) -> str:
    """Agency C, with read access to ``shared`` and an analyst key."""
    node = world.node
    c = node.create_org("Agency C")
    node.grant("shared", c.id, read=True, write=False)
    return node.create_key(c.id, "analyst")[1]


def test_red_is_for_named_recipients_and_invisible_looks_absent(
        client: TestClient, world: World, third: str) -> None:
    b = world.node.org("Agency B").id
    red = obj(1, Tlp.RED, recipients=[b])
    post(client, world.keys["a_analyst"], "shared", [red, obj(2, Tlp.GREEN)])
    key_b, key_c = world.keys["b_reader"], third
    assert {o["id"] for o in get(client, key_b, "shared/objects/").json()["objects"]} == {
        red["id"], indicator(2)["id"]}
    page = get(client, key_c, "shared/objects/")
    assert [o["id"] for o in page.json()["objects"]] == [indicator(2)["id"]]
    # Headers are computed over the visible versions only.
    assert page.headers["X-TAXII-Date-Added-First"] == page.headers["X-TAXII-Date-Added-Last"]
    assert [m["id"] for m in get(client, key_c, "shared/manifest/").json()["objects"]] == [
        indicator(2)["id"]]
    for path in (f"shared/objects/{red['id']}/", f"shared/objects/{red['id']}/versions/"):
        hidden, absent = get(client, key_c, path), get(client, key_c,
                                                       path.replace(red["id"], NO_SUCH))
        assert hidden.status_code == absent.status_code == 404
        assert hidden.json()["title"] == absent.json()["title"]
        assert hidden.json()["description"].replace(red["id"], NO_SUCH) == \
            absent.json()["description"]
    assert get(client, world.keys["admin"], f"shared/objects/{red['id']}/").status_code == 200


def test_last_version_is_the_last_visible_one(client: TestClient, world: World) -> None:
    v1 = obj(1, Tlp.GREEN, modified="2024-01-01T00:00:00.000Z")
    v2 = obj(1, Tlp.RED, modified="2024-06-01T00:00:00.000Z")
    post(client, world.keys["a_analyst"], "shared", [v1, v2])
    key_b = world.keys["b_reader"]
    assert get(client, key_b, f"shared/objects/{v1['id']}/").json()["objects"] == [v1]
    assert get(client, key_b, f"shared/objects/{v1['id']}/versions/").json()["versions"] == [
        v1["modified"]]
    assert get(client, key_b, "shared/objects/").json()["objects"] == [v1]
    assert get(client, world.keys["a_reader"], "shared/objects/").json()["objects"] == [v2]


def test_community_default_applies_to_unmarked_versions(client: TestClient,
                                                        world: World) -> None:
    admin = {"Authorization": f"Bearer {world.keys['admin']}"}
    r = client.post("/admin/communities/", headers=admin, json={
        "name": "Forum", "members": ["Agency A", "Agency B"], "default_tlp": "green"})
    assert r.status_code == 201 and r.json()["default_tlp"] == "green"
    forum = r.json()["collections"][0]["id"]
    post(client, world.keys["a_analyst"], forum, [indicator(1)])
    assert len(get(client, world.keys["b_reader"], f"{forum}/objects/").json()["objects"]) == 1
    r = client.patch("/admin/communities/Forum/", headers=admin, json={"default_tlp": None})
    assert r.status_code == 200 and r.json()["default_tlp"] is None
    post(client, world.keys["a_analyst"], forum, [indicator(2)])  # now most restrictive
    assert len(get(client, world.keys["b_reader"], f"{forum}/objects/").json()["objects"]) == 1
    r = client.patch("/admin/communities/Forum/", headers=admin, json={"default_tlp": "pink"})
    assert r.status_code == 400 and "pink" in r.json()["description"]


@pytest.mark.parametrize(("tlp", "control", "target", "ok", "rule"), [
    (Tlp.CLEAR, False, "dropbox", True, None),
    (Tlp.GREEN, False, "other", True, None),
    (Tlp.GREEN, True, "other", False, "rule 3"),
    (Tlp.GREEN, False, "dropbox", False, "rule 3"),
    (Tlp.AMBER, False, "other", False, "rule 2"),
    (Tlp.AMBER_STRICT, False, "other", False, "rule 2"),
    (Tlp.RED, False, "other", False, "rule 2"),
])
def test_reshare_through_taxii(client: TestClient, world: World, tlp: Tlp, control: bool,
                               target: str, ok: bool, rule: str | None) -> None:
    node = world.node
    b = node.org("Agency B").id
    c = node.create_org("Agency C")
    [x] = node.create_community("X", members=["Agency A", "Agency B"]).collections
    [y] = node.create_community("Y", members=["Agency B", c.id]).collections
    o = obj(1, tlp, control=control, recipients=[b] if tlp is Tlp.RED else None)
    post(client, world.keys["a_analyst"], x.id, [o])
    dest = y.id if target == "other" else "dropbox"
    status = post(client, world.keys["b_analyst"], dest, [o])
    assert status["success_count"] == (1 if ok else 0)
    if not ok:
        [failure] = status["failures"]
        assert failure["message"].startswith(rule or "") and "X" not in failure["message"]
    elif target == "other":
        # C, a member of Y only, now reads it there.
        key_c = node.create_key(c.id, "reader")[1]
        assert [x["id"] for x in get(client, key_c, f"{y.id}/objects/").json()["objects"]] == [
            o["id"]]
    # Within the original scope it is not re-sharing: B may post it back into X.
    assert post(client, world.keys["b_analyst"], x.id, [o])["success_count"] == 1


def test_a_version_the_writer_cannot_see_does_not_collide(client: TestClient,
                                                          world: World) -> None:
    secret = obj(1, Tlp.RED)
    post(client, world.keys["a_analyst"], "dropbox", [secret])
    mine = obj(1, Tlp.GREEN)  # same id and version, different body, by B
    status = post(client, world.keys["b_analyst"], "dropbox", [mine])
    assert status["success_count"] == 1  # nothing tells B that A's version exists


# -- the property: random worlds ------------------------------------------------------
ORGS = ("Org 0", "Org 1", "Org 2")
LEVELS = [None, *Tlp]


@dataclass
class Copy:
    collection: str
    originator: int
    tlp: Tlp
    recipients: frozenset[int]
    control: bool
    body: dict[str, Any] = field(default_factory=dict)


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, Any]:
    members = [draw(st.frozensets(st.integers(0, 2), min_size=1)) for _ in range(2)]
    defaults = [draw(st.sampled_from(LEVELS)) for _ in range(2)]
    grants = draw(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=3, max_size=3))
    actions = draw(st.lists(st.tuples(
        st.integers(0, 2),                      # who
        st.integers(0, 2),                      # collection: 0, 1 communities, 2 plain
        st.integers(0, 4),                      # object n
        st.sampled_from(LEVELS),
        st.frozensets(st.integers(0, 2), max_size=2),
        st.booleans(),                          # originator control
        st.integers(0, 1),                      # version
        st.booleans(),                          # re-post a copy held elsewhere instead
    ), min_size=1, max_size=10))
    return {"members": members, "defaults": defaults, "grants": grants, "actions": actions,
            "public": draw(st.booleans())}  # the plain collection's CLEAR part is open


def _level(name: Tlp | None) -> str | None:
    return None if name is None else name.label


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(w=worlds())
def test_no_org_sees_a_forbidden_version_and_sees_every_permitted_one(w: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(Path(folder) / "t.db")
        node = Node(Settings(data=folder, page_size=3), store, FakeClock())
        orgs = [node.create_org(name).id for name in ORGS]
        keys = [node.create_key(o, "analyst")[1] for o in orgs]
        colls: list[str] = []
        community: list[int | None] = []
        for i in range(2):
            view = node.create_community(
                f"C{i}", members=[orgs[m] for m in sorted(w["members"][i])],
                defaults=node.defaults_named(_level(w["defaults"][i]), None))
            colls.append(view.collections[0].id)
            community.append(i)
        plain = node.create_collection("Plain")
        for o, (r, wr) in zip(orgs, w["grants"], strict=True):
            node.grant(plain.id, o, read=r, write=wr)
        if w["public"]:
            node.set_public(plain.id, True)
        colls.append(plain.id)
        community.append(None)

        def in_scope(org: int, coll: int) -> bool:
            if coll < 2:
                return org in w["members"][coll]
            return bool(w["grants"][org][0])

        def reads(org: int, coll: int) -> bool:
            return in_scope(org, coll) or (coll == 2 and w["public"])

        def writes(org: int, coll: int) -> bool:
            return in_scope(org, coll) if coll < 2 else bool(w["grants"][org][1])

        def sees(org: int, c: Copy) -> bool:
            ci = colls.index(c.collection)
            if not in_scope(org, ci):
                return reads(org, ci) and c.tlp is Tlp.CLEAR  # published openly
            return c.tlp < Tlp.RED or org == c.originator or org in c.recipients

        held: list[Copy] = []
        modified = ("2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z")
        with TestClient(create_app(node.settings, store, node.clock)) as client:
            for who, ci, n, tlp, rec, control, v, repost in w["actions"]:
                if not writes(who, ci):
                    continue
                coll = colls[ci]
                mine = [c for c in held if c.body["id"] == indicator(n)["id"]
                        and c.body["modified"] == modified[v]]
                if any(c.collection == coll for c in mine):
                    continue  # one entry per version and collection keeps the oracle simple
                received = [c for c in mine if c.originator != who and sees(who, c)]
                if repost and received:
                    body = received[0].body
                else:
                    if mine:
                        continue
                    body = obj(n, tlp, modified=modified[v],
                               recipients=[orgs[r] for r in sorted(rec)] or None,
                               control=control)
                    received = []
                default = w["defaults"][ci] if ci < 2 else None
                published = tlp_of(body)
                if published is None:
                    published = default if default is not None else Tlp.RED
                rec_ids = frozenset(orgs.index(r) for r in recipients_of(body)
                                    if published is Tlp.RED)
                copy = Copy(coll, who, published, rec_ids, control_of(body), body)
                if received:
                    allowed = [c for c in sorted(received, key=lambda c: (
                                   c.tlp, colls.index(c.collection), orgs[c.originator]))
                               if c.collection == coll or (community[colls.index(c.collection)]
                                                           is not None and community[
                                   colls.index(c.collection)] == community[ci])
                               or c.tlp is Tlp.CLEAR
                               or (c.tlp is Tlp.GREEN and community[ci] is not None
                                   and not c.control)]
                    status = post(client, keys[who], coll, [body])
                    assert status["success_count"] == (1 if allowed else 0), (status, received)
                    if not allowed:
                        continue
                    src = allowed[0]
                    tlp_new = max(published, src.tlp)
                    copy = Copy(coll, src.originator, tlp_new,
                                src.recipients if src.tlp is Tlp.RED else rec_ids,
                                copy.control or src.control, body)
                else:
                    assert post(client, keys[who], coll, [body])["success_count"] == 1
                held.append(copy)

            # Every id published, and one never published (it must look the same).
            ids = sorted({c.body["id"] for c in held} | {NO_SUCH})
            for org in range(3):
                for ci, coll in enumerate(colls):
                    if not reads(org, ci):
                        status = get(client, keys[org], f"{coll}/objects/").status_code
                        assert status == (403 if writes(org, ci) else 404)
                        continue
                    want = {(c.body["id"], c.body["modified"]) for c in held
                            if c.collection == coll and sees(org, c)}
                    assert _paged(client, keys[org], f"{coll}/objects/?match[version]=all",
                                  "objects") == want
                    assert _paged(client, keys[org], f"{coll}/manifest/?match[version]=all",
                                  "objects") == want
                    last: dict[str, str] = {}
                    for oid, mod in sorted(want):
                        last[oid] = mod
                    assert _paged(client, keys[org], f"{coll}/objects/", "objects") == set(
                        last.items())
                    for oid in ids:
                        mine = {m for i, m in want if i == oid}
                        r = get(client, keys[org], f"{coll}/objects/{oid}/?match[version]=all")
                        rv = get(client, keys[org], f"{coll}/objects/{oid}/versions/")
                        if not mine:
                            assert r.status_code == rv.status_code == 404
                        else:
                            assert {o["modified"] for o in r.json()["objects"]} == mine
                            assert set(rv.json()["versions"]) == mine
        store.close()


def _paged(client: TestClient, key: str, path: str, field_name: str) -> set[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    url = path + ("&" if "?" in path else "?") + "limit=2"
    while True:
        r = get(client, key, url)
        assert r.status_code == 200
        body = r.json()
        for o in body.get(field_name, []):
            out.append((o["id"], o.get("modified") or o.get("version")))
        if not body.get("more"):
            break
        url = path + ("&" if "?" in path else "?") + f"limit=2&next={body['next']}"
    assert len(out) == len(set(out))
    return set(out)


def tlp_of(body: dict[str, Any]) -> Tlp | None:
    refs = body.get("object_marking_refs") or []
    return next((lvl for lvl, mid in TLP2_IDS.items() if mid in refs), None)


def recipients_of(body: dict[str, Any]) -> list[str]:
    return list(body.get("extensions", {}).get(EXTENSION_ID, {}).get("recipients", []))


def control_of(body: dict[str, Any]) -> bool:
    return bool(body.get("extensions", {}).get(EXTENSION_ID, {}).get("originator_control"))
