"""Communities, agreements and membership in the store protocol (every backend)."""

from __future__ import annotations

import sqlite3
from importlib import resources
from pathlib import Path

import pytest

from thiqa.errors import BadRequest, Conflict
from thiqa.store import Store
from thiqa.store.model import Collection, Community, Member, Org
from thiqa.store.sqlite import SQLiteStore

T0 = 1_700_000_000_000_000


def orgs(store: Store, n: int) -> list[Org]:
    out = [Org(f"identity--00000000-0000-4000-8000-{i:012d}", f"Org {i}", T0) for i in range(n)]
    for o in out:
        store.add_org(o)
    return out


def community(n: int, kind: str = "community") -> Community:
    return Community(0, f"10000000-0000-4000-8000-{n:012d}", kind, f"C{n}",  # type: ignore[arg-type]
                     "", T0)


def coll(n: int, alias: str) -> Collection:
    return Collection(0, f"20000000-0000-4000-8000-{n:012d}", alias, alias=alias, created_us=T0)


def test_community_members_and_collection_in_one_write(store: Store) -> None:
    a, b, c = orgs(store, 3)
    members = [Member(0, a.id, "convener", T0), Member(0, b.id, "member", T0 + 1)]
    stored, [collection] = store.add_community(community(1), members, [coll(1, "c1")])
    assert stored.pk > 0 and collection.community_pk == stored.pk
    assert store.get_community(stored.id) == stored == store.get_community("C1")
    assert store.community_by_pk(stored.pk) == stored
    assert [(m.org_id, m.role) for m in store.members(stored.pk)] == [
        (a.id, "convener"), (b.id, "member")]
    assert store.get_collection("c1") == collection
    assert store.community_collections(stored.pk) == [collection]
    assert store.memberships(a.id) == {stored.pk} and store.memberships(c.id) == frozenset()
    assert store.membership_counts() == {a.id: 1, b.id: 1}


def test_add_and_remove_member(store: Store) -> None:
    a, b = orgs(store, 2)
    stored, _ = store.add_community(community(1), [], [coll(1, "c1")])
    store.add_member(Member(stored.pk, a.id, "member", T0))
    assert store.memberships(a.id) == {stored.pk}
    with pytest.raises(Conflict):
        store.add_member(Member(stored.pk, a.id, "convener", T0))
    assert store.remove_member(stored.pk, a.id)
    assert not store.remove_member(stored.pk, a.id)
    assert not store.remove_member(stored.pk, b.id)
    assert store.memberships(a.id) == frozenset()


def test_agreement_pair_is_unique_whatever_the_order(store: Store) -> None:
    a, b, c = orgs(store, 3)
    first, _ = store.add_community(community(1, "agreement"), [
        Member(0, a.id, "convener", T0), Member(0, b.id, "convener", T0)], [coll(1, "ab")])
    assert store.agreement_between(b.id, a.id) == first
    assert store.agreement_between(a.id, c.id) is None
    with pytest.raises(Conflict):
        store.add_community(community(2, "agreement"), [
            Member(0, b.id, "convener", T0), Member(0, a.id, "convener", T0)], [coll(2, "ba")])
    # The refused write left nothing behind: no community, no collection.
    assert store.get_community("C2") is None and store.get_collection("ba") is None
    with pytest.raises(BadRequest):
        store.add_community(community(3, "agreement"), [Member(0, a.id, "convener", T0)], [])
    assert [x.kind for x in store.list_communities()] == ["agreement"]
    assert store.list_communities("community") == []


def test_names_and_aliases_are_unique(store: Store) -> None:
    store.add_community(community(1), [], [coll(1, "c1")])
    with pytest.raises(Conflict):
        store.add_community(Community(0, "10000000-0000-4000-8000-000000000009", "community",
                                      "C1"), [], [])
    with pytest.raises(Conflict):
        store.add_community(community(2), [], [coll(2, "c1")])
    assert [x.name for x in store.list_communities()] == ["C1"]


def test_a_hundred_members(store: Store) -> None:
    many = orgs(store, 120)
    stored, _ = store.add_community(community(1), [Member(0, o.id, "member", T0 + i)
                                                   for i, o in enumerate(many)], [])
    assert len(store.members(stored.pk)) == 120
    assert all(store.memberships(o.id) == {stored.pk} for o in many[::17])


def test_migration_from_the_node_core_keeps_collections_plain(tmp_path: Path) -> None:
    """A database made by the node core (migration 0001 only) upgrades in place."""
    path = tmp_path / "t.db"
    core = (resources.files("thiqa.store") / "migrations" / "0001_core.sql").read_text()
    cx = sqlite3.connect(path)
    cx.executescript(core)
    cx.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    cx.execute("INSERT INTO schema_migrations VALUES (1, '0001_core.sql')")
    cx.execute("INSERT INTO collections (id, alias, title, created_us) VALUES "
               "('20000000-0000-4000-8000-000000000001', 'plain', 'plain', 5)")
    cx.commit()
    cx.close()
    s = SQLiteStore(path)
    try:
        plain = s.get_collection("plain")
        assert plain is not None and plain.community_pk is None
        stored, _ = s.add_community(community(1), [], [coll(2, "c1")])
        assert s.community_collections(stored.pk)[0].alias == "c1"
    finally:
        s.close()
