"""Membership of communities and agreements decides what TAXII shows (thiqa.access via
every collection endpoint), and a change of membership applies to the next request."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests.conftest import TAXII, World, indicator
from thiqa.clock import FakeClock
from thiqa.handling import Defaults, Tlp
from thiqa.node import Node
from thiqa.settings import Settings
from thiqa.store.model import Collection
from thiqa.store.sqlite import SQLiteStore
from thiqa.taxii import create_app

BASE = "/api/collections"


@pytest.fixture
def forum(world: World) -> Collection:
    """A community of Agency A alone (B is outside it), TLP:GREEN by default."""
    [collection] = world.node.create_community("Forum", members=["Agency A"],
                                               defaults=Defaults(Tlp.GREEN)).collections
    return collection


def listed(client: TestClient, world: World, who: str) -> dict[str, tuple[bool, bool]]:
    r = client.get(f"{BASE}/", headers=world.auth(who))
    assert r.status_code == 200
    return {c["id"]: (c["can_read"], c["can_write"]) for c in r.json().get("collections", [])}


def post(client: TestClient, world: World, who: str, coll: str, n: int = 1) -> int:
    r = client.post(f"{BASE}/{coll}/objects/", json={"objects": [indicator(n)]},
                    headers={**world.auth(who), "Content-Type": TAXII})
    return r.status_code


@pytest.mark.parametrize(("who", "access", "get", "write"), [
    ("admin", (True, True), 200, 202),
    ("a_analyst", (True, True), 200, 202),
    ("a_reader", (True, False), 200, 403),
    ("b_analyst", None, 404, 404),
    ("b_reader", None, 404, 404),
])
def test_membership_decides_access_for_every_role(client: TestClient, world: World,
                                                  forum: Collection, who: str,
                                                  access: tuple[bool, bool] | None, get: int,
                                                  write: int) -> None:
    assert listed(client, world, who).get(forum.id) == access
    for path in ("", "objects/", "manifest/"):
        r = client.get(f"{BASE}/{forum.alias}/{path}", headers=world.auth(who))
        assert r.status_code == get
    assert post(client, world, who, forum.id) == write


def test_joining_and_leaving_apply_at_once(client: TestClient, world: World,
                                           forum: Collection) -> None:
    node = world.node
    for n in range(3):
        assert post(client, world, "a_analyst", forum.id, n) == 202
    assert forum.id not in listed(client, world, "b_analyst")
    node.add_member("Forum", "Agency B")
    assert listed(client, world, "b_analyst")[forum.id] == (True, True)
    assert listed(client, world, "b_reader")[forum.id] == (True, False)
    assert post(client, world, "b_analyst", forum.id, 9) == 202
    page = client.get(f"{BASE}/{forum.id}/objects/?limit=1", headers=world.auth("b_reader"))
    token = page.json()["next"]
    node.remove_member("Forum", "Agency B")
    assert forum.id not in listed(client, world, "b_analyst")
    # A cursor handed out while B was a member grants nothing now (re-authorised on use).
    r = client.get(f"{BASE}/{forum.id}/objects/?next={token}", headers=world.auth("b_reader"))
    assert r.status_code == 404
    assert post(client, world, "b_analyst", forum.id, 10) == 404
    # What B wrote while a member stays in the community for its members.
    objects = client.get(f"{BASE}/{forum.id}/objects/", headers=world.auth("a_reader")).json()
    assert len(objects["objects"]) == 4


def test_agreement_collection_is_for_its_two_parties(client: TestClient, world: World) -> None:
    node = world.node
    node.create_org("Agency C")
    _, c_key = node.create_key("Agency C", "analyst")
    world.keys["c_analyst"] = c_key
    [pact] = node.create_agreement("Agency A", "Agency B").collections
    assert listed(client, world, "a_analyst")[pact.id] == (True, True)
    assert listed(client, world, "b_analyst")[pact.id] == (True, True)
    assert listed(client, world, "b_reader")[pact.id] == (True, False)
    assert pact.id not in listed(client, world, "c_analyst")
    assert client.get(f"{BASE}/{pact.id}/", headers=world.auth("c_analyst")).status_code == 404


def test_grants_keep_working_beside_communities(client: TestClient, world: World,
                                                forum: Collection) -> None:
    b = listed(client, world, "b_analyst")
    assert b == {world.shared.id: (True, False), world.dropbox.id: (False, True)}


def test_a_hundred_member_community_over_taxii(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "t.db")
    node = Node(Settings(data=str(tmp_path)), store, FakeClock())
    orgs = [node.create_org(f"State {i:03d}") for i in range(110)]
    [coll] = node.create_community("Global Forum", members=[o.id for o in orgs[:100]]
                                   ).collections
    keys = {i: node.create_key(orgs[i].id, "analyst")[1] for i in (0, 57, 99, 100, 109)}
    client = TestClient(create_app(node.settings, store, node.clock))
    try:
        for i, key in keys.items():
            r = client.get(f"{BASE}/{coll.alias}/", headers={"Authorization": f"Bearer {key}",
                                                            "Accept": TAXII})
            assert r.status_code == (200 if i < 100 else 404)
    finally:
        store.close()


# -- property: for random memberships, an org sees exactly what it should ----------------

ACCESS = st.sampled_from([(True, False), (False, True), (True, True)])


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(min_value=2, max_value=5))
    org = st.integers(min_value=0, max_value=n - 1)
    communities = draw(st.lists(st.sets(org), max_size=4))
    pairs = st.tuples(org, org).filter(lambda p: p[0] < p[1])
    agreements = draw(st.sets(pairs, max_size=3))
    plain = draw(st.lists(st.dictionaries(org, ACCESS), max_size=3))
    toggles = (draw(st.lists(st.tuples(st.integers(0, len(communities) - 1), org), max_size=6))
               if communities else [])
    return {"n": n, "communities": communities, "agreements": sorted(agreements),
            "plain": plain, "toggles": toggles}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(w=worlds())
def test_an_org_sees_exactly_its_communities_and_grants(w: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "t.db")
        try:
            _check_world(w, store, Settings(data=tmp))
        finally:
            store.close()


def _check_world(w: dict[str, Any], store: SQLiteStore, cfg: Settings) -> None:
    node = Node(cfg, store, FakeClock())
    orgs = [node.create_org(f"Org {i}") for i in range(w["n"])]
    keys = {(i, role): node.create_key(o.id, role)[1]
            for i, o in enumerate(orgs) for role in ("analyst", "reader")}
    # Expected access of each org, as collection id -> (can_read, can_write) for an analyst.
    expected: list[dict[str, tuple[bool, bool]]] = [{} for _ in orgs]
    members: list[tuple[str, set[int]]] = []
    for c, who in enumerate(w["communities"]):
        view = node.create_community(f"C{c}", members=[orgs[i].id for i in who])
        members.append((view.collections[0].id, set(who)))
    for c, i in w["toggles"]:
        cid, now = members[c]
        if i in now:
            node.remove_member(f"C{c}", orgs[i].id)
            now.discard(i)
        else:
            node.add_member(f"C{c}", orgs[i].id)
            now.add(i)
    for a, b in w["agreements"]:
        members.append((node.create_agreement(orgs[a].id, orgs[b].id).collections[0].id,
                        {a, b}))
    for cid, who in members:
        for i in who:
            expected[i][cid] = (True, True)
    for p, grants in enumerate(w["plain"]):
        coll = node.create_collection(f"P{p}",
                                      readers=[orgs[i].id for i, g in grants.items() if g[0]],
                                      writers=[orgs[i].id for i, g in grants.items() if g[1]])
        for i, g in grants.items():
            expected[i][coll.id] = g
    client = TestClient(create_app(cfg, store, node.clock))
    for i in range(len(orgs)):
        for role in ("analyst", "reader"):
            r = client.get(f"{BASE}/", headers={"Authorization": f"Bearer {keys[(i, role)]}",
                                                "Accept": TAXII})
            assert r.status_code == 200
            seen = {c["id"]: (c["can_read"], c["can_write"])
                    for c in r.json().get("collections", [])}
            want = expected[i] if role == "analyst" else {
                cid: (True, False) for cid, (read, _) in expected[i].items() if read}
            assert seen == want, (i, role)
