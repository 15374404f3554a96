"""thiqa.policy: the visibility predicate, its store filter (they must agree, proved by
hypothesis on the SQLite store), and the re-sharing rules."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thiqa import policy
from thiqa.access import Access
from thiqa.handling import Handling, Marks, Pap, Tlp
from thiqa.policy import Version, Viewer, visible
from thiqa.store.model import ALL, LAST, Collection, Held, NewVersion, ObjectQuery, Origin, Stamp
from thiqa.store.sqlite import SQLiteStore
from thiqa.timestamps import version_key

ORGS = [f"identity--00000000-0000-4000-8000-{n:012d}" for n in range(4)]
A, B, C, D = ORGS
READ = Access(True, True)
NONE = Access(False, False)


def version(tlp: Tlp, originator: str = A, recipients: tuple[str, ...] = ()) -> Version:
    return Version(1, originator, Handling(tlp, Pap.GREEN, False, recipients))


@pytest.mark.parametrize("tlp", [Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT])
def test_below_red_everyone_in_scope_sees(tlp: Tlp) -> None:
    assert visible(Viewer(B), version(tlp), READ)
    assert not visible(Viewer(B), version(tlp), NONE)  # out of scope: nothing


def test_red_named_recipients_and_the_originator_only() -> None:
    red = version(Tlp.RED, A, (B,))
    assert visible(Viewer(A), red, READ) and visible(Viewer(B), red, READ)
    assert not visible(Viewer(C), red, READ)
    assert not visible(Viewer(B), red, NONE)  # a recipient still needs the collection
    assert visible(Viewer(D, is_admin=True), red, READ)


def test_a_public_collection_opens_its_clear_versions_only() -> None:
    outsider = Access(True, False, clear_only=True)
    assert visible(Viewer(C), version(Tlp.CLEAR), outsider)
    for tlp in (Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED):
        assert not visible(Viewer(C), version(tlp), outsider)
    # Neither originating nor being named opens more than the CLEAR part to an outsider.
    assert not visible(Viewer(B), version(Tlp.RED, A, (B,)), outsider)
    assert not visible(Viewer(A), version(Tlp.GREEN, A), outsider)


def test_unmarked_is_the_originators_alone() -> None:
    unmarked = Version(1, A, Marks().resolve())
    assert visible(Viewer(A), unmarked, READ)
    assert not visible(Viewer(B), unmarked, READ)


# -- the predicate and the SQL filter agree ---------------------------------------------
_entry = st.tuples(
    st.integers(0, 2),                                   # collection
    st.integers(0, 3),                                   # object
    st.integers(0, 2),                                   # version
    st.integers(0, 3),                                   # originator
    st.sampled_from(list(Tlp)),
    st.frozensets(st.integers(0, 3), max_size=3),        # recipients
)


def _access(ci: int, readable: frozenset[int], public: frozenset[int], admin: bool) -> Access:
    """As thiqa.access grants it: in scope, else the open part of a public collection."""
    if admin or ci in readable:
        return Access(True, False)
    return Access(True, False, clear_only=True) if ci in public else NONE


def _store(folder: str) -> tuple[SQLiteStore, list[Collection]]:
    store = SQLiteStore(Path(folder) / "t.db")
    colls = [store.add_collection(Collection(0, f"c{i}", f"C{i}")) for i in range(3)]
    return store, colls


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=st.lists(_entry, max_size=25, unique_by=lambda e: e[:3]),
       org=st.integers(0, 3), admin=st.booleans(),
       readable=st.frozensets(st.integers(0, 2)), public=st.frozensets(st.integers(0, 2)))
def test_sql_filter_agrees_with_the_predicate(entries: list[tuple[int, int, int, int, Tlp,
                                                                  frozenset[int]]],
                                              org: int, admin: bool,
                                              readable: frozenset[int],
                                              public: frozenset[int]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store, colls = _store(folder)
        try:
            expected: set[tuple[int, str, str]] = set()
            who = Viewer(ORGS[org], admin)
            for ci, n, v, o, tlp, rec in entries:
                oid = f"indicator--00000000-0000-4000-8000-{n:012d}"
                stamp = f"2024-01-0{v + 1}T00:00:00.000Z"
                marks = Marks(tlp, Pap.GREEN, False, tuple(ORGS[r] for r in sorted(rec)))
                item = NewVersion(oid, "indicator", "2.1", stamp, version_key(stamp),
                                  f'{{"n":{n},"v":{v}}}'.encode(), marks)
                [out] = store.add_versions(colls[ci].pk, [item], 1, Origin(ORGS[o]))
                assert out.ok
                access = _access(ci, readable, public, admin)
                held = Version(colls[ci].pk, ORGS[o], marks.resolve())
                if visible(who, held, access):
                    expected.add((ci, oid, stamp))
            pks = frozenset(colls[i].pk for i in readable)
            open_pks = frozenset(colls[i].pk for i in public)
            for ci, coll in enumerate(colls):
                access = _access(ci, readable, public, admin)
                filters = [policy.read_filter(who, coll, access),
                           policy.seen_filter(who, None if admin else pks, open_pks)]
                for vis in filters:
                    page = store.query(ObjectQuery(coll.pk, versions=ALL, visibility=vis,
                                                   limit=100))
                    got = {(ci, r.id, r.version) for r in page.records}
                    assert got == {e for e in expected if e[0] == ci}
                    # first/last are taken among the visible versions only.
                    last = store.query(ObjectQuery(coll.pk, versions=LAST, visibility=vis,
                                                   limit=100))
                    want = {}
                    for _, oid, stamp in sorted(e for e in expected if e[0] == ci):
                        want[oid] = stamp
                    assert {r.id: r.version for r in last.records} == want
        finally:
            store.close()


# -- re-sharing (rules 2-4) -------------------------------------------------------------
COMMUNITY = Collection(10, "x", "Community X", community_pk=1)
OTHER_COMMUNITY = Collection(11, "y", "Community Y", community_pk=2)
SAME_COMMUNITY = Collection(12, "x2", "Community X, second collection", community_pk=1)
PLAIN = Collection(13, "p", "Plain")


def held(tlp: Tlp, control: bool = False) -> Held:
    return Held(COMMUNITY.pk, 1, A, Handling(tlp, Pap.GREEN, control))


@pytest.mark.parametrize(("tlp", "control", "target", "allowed"), [
    (Tlp.CLEAR, True, PLAIN, True),
    (Tlp.CLEAR, False, OTHER_COMMUNITY, True),
    (Tlp.GREEN, False, OTHER_COMMUNITY, True),
    (Tlp.GREEN, True, OTHER_COMMUNITY, False),
    (Tlp.GREEN, False, PLAIN, False),
    (Tlp.AMBER, False, OTHER_COMMUNITY, False),
    (Tlp.AMBER_STRICT, False, PLAIN, False),
    (Tlp.RED, False, OTHER_COMMUNITY, False),
    # rule 4: within the original scope is not re-sharing
    (Tlp.RED, True, SAME_COMMUNITY, True),
    (Tlp.AMBER, True, COMMUNITY, True),
    (Tlp.AMBER_STRICT, False, SAME_COMMUNITY, True),
])
def test_reshare_matrix(tlp: Tlp, control: bool, target: Collection, allowed: bool) -> None:
    why = policy.reshare(target, held(tlp, control))
    assert (why is None) is allowed
    if why is not None:
        assert why.startswith("rule 2" if tlp > Tlp.GREEN else "rule 3")
        assert "release grant" in why and "Community X" not in why


def test_gate_keeps_the_originator_and_never_relaxes() -> None:
    gate = policy.reshare_gate(OTHER_COMMUNITY)
    mine = Stamp(B, Handling(Tlp.CLEAR, Pap.CLEAR))
    out = gate("x--1", mine, [held(Tlp.GREEN)])
    assert out == Stamp(A, Handling(Tlp.GREEN, Pap.GREEN))
    assert isinstance(gate("x--1", mine, [held(Tlp.AMBER)]), str)
    # Any copy received under terms that allow it is enough.
    assert gate("x--1", mine, [held(Tlp.AMBER), held(Tlp.CLEAR)]) == Stamp(
        A, Handling(Tlp.CLEAR, Pap.GREEN))


def test_a_verified_release_opens_the_gate_for_that_object_and_originator_only() -> None:
    gate = policy.reshare_gate(OTHER_COMMUNITY, frozenset({("x--1", A)}))
    mine = Stamp(B, Handling(Tlp.CLEAR, Pap.CLEAR))
    # Released: stored with the originator kept and the stricter (AMBER) handling.
    assert gate("x--1", mine, [held(Tlp.AMBER)]) == Stamp(A, Handling(Tlp.AMBER, Pap.GREEN))
    assert isinstance(gate("x--2", mine, [held(Tlp.AMBER)]), str)
