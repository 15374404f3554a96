"""The store protocol, run against every backend (the ``store`` fixture is parametrised)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import indicator
from thiqa.store import Store
from thiqa.store.model import (
    ALL,
    LAST,
    Collection,
    NewVersion,
    ObjectQuery,
    Versions,
)
from thiqa.store.sqlite import SQLiteStore
from thiqa.timestamps import version_key

T0 = 1_700_000_000_000_000


def nv(obj: dict[str, Any]) -> NewVersion:
    version = obj.get("modified") or obj.get("created")
    return NewVersion(obj["id"], obj["type"], "2.1", version,
                      version_key(version) if version else None, orjson.dumps(obj))


def coll(store: Store, alias: str = "c") -> Collection:
    return store.add_collection(Collection(0, f"0000000{len(alias)}-0000-4000-8000-{alias:0>12}"
                                           if len(alias) < 12 else alias, alias, alias=alias))


def ids(page_records: Any) -> list[str]:
    return [r.id for r in page_records]


def test_add_and_read_back_byte_for_byte(store: Store) -> None:
    c = coll(store)
    objs = [indicator(i) for i in range(5)]
    outcomes = store.add_versions(c.pk, [nv(o) for o in objs], T0)
    assert all(o.ok for o in outcomes)
    page = store.query(ObjectQuery(c.pk))
    assert [orjson.loads(r.body or b"") for r in page.records] == objs
    assert not page.more


def test_date_added_strictly_increases_even_when_the_clock_stalls(store: Store) -> None:
    c = coll(store)
    store.add_versions(c.pk, [nv(indicator(i)) for i in range(3)], T0)
    store.add_versions(c.pk, [nv(indicator(i)) for i in range(3, 6)], T0 - 10)  # clock went back
    dates = [r.date_added for r in store.query(ObjectQuery(c.pk)).records]
    assert dates == sorted(set(dates)) and len(dates) == 6
    assert dates[0] == T0


def test_exact_duplicate_is_success_and_stored_once(store: Store) -> None:
    c = coll(store)
    o = indicator(1)
    store.add_versions(c.pk, [nv(o)], T0)
    again = store.add_versions(c.pk, [nv(o), nv(o)], T0 + 5)
    assert [x.ok for x in again] == [True, True]
    assert store.count(c.pk) == 1


def test_same_version_different_content_is_refused_and_original_kept(store: Store) -> None:
    c = coll(store)
    o = indicator(1)
    store.add_versions(c.pk, [nv(o)], T0)
    changed = {**o, "name": "tampered"}
    [outcome] = store.add_versions(c.pk, [nv(changed)], T0 + 1)
    assert not outcome.ok and "immutable" in (outcome.message or "")
    [r] = store.query(ObjectQuery(c.pk)).records
    assert orjson.loads(r.body or b"")["name"] == "indicator 1"


def test_key_order_does_not_make_a_different_object(store: Store) -> None:
    c = coll(store)
    o = indicator(1)
    store.add_versions(c.pk, [nv(o)], T0)
    reordered = dict(reversed(list(o.items())))
    [outcome] = store.add_versions(c.pk, [nv(reordered)], T0 + 1)
    assert outcome.ok


def test_version_selection_first_last_all_and_exact(store: Store) -> None:
    c = coll(store)
    v1, v2, v3 = (indicator(1, modified=f"2024-0{m}-01T00:00:00.000Z") for m in (1, 2, 3))
    # Arrive out of order: the middle one last.
    store.add_versions(c.pk, [nv(v3), nv(v1)], T0)
    store.add_versions(c.pk, [nv(v2)], T0 + 10)

    def versions(sel: Versions) -> list[str]:
        return [r.version for r in store.query(ObjectQuery(c.pk, versions=sel)).records]

    assert versions(LAST) == ["2024-03-01T00:00:00.000Z"]
    assert versions(Versions(first=True)) == ["2024-01-01T00:00:00.000Z"]
    assert sorted(versions(ALL)) == [v["modified"] for v in (v1, v2, v3)]
    assert versions(Versions(keys=(version_key("2024-02-01T00:00:00Z"),))) == [
        "2024-02-01T00:00:00.000Z"]
    assert len(versions(Versions(first=True, last=True))) == 2


def test_filters_by_type_id_spec_version_and_added_after(store: Store) -> None:
    c = coll(store)
    ind = [indicator(i) for i in range(4)]
    marking = {"type": "marking-definition", "spec_version": "2.1",
               "id": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
               "created": "2017-01-20T00:00:00.000Z", "definition_type": "statement",
               "definition": {"statement": "Copyright 2017"}}
    store.add_versions(c.pk, [nv(o) for o in ind], T0)
    store.add_versions(c.pk, [nv(marking)], T0 + 100)
    assert ids(store.query(ObjectQuery(c.pk, types=("marking-definition",))).records) == [
        marking["id"]]
    assert len(store.query(ObjectQuery(c.pk, types=("indicator", "marking-definition"))
                           ).records) == 5
    assert ids(store.query(ObjectQuery(c.pk, ids=(ind[2]["id"], ind[0]["id"]))).records) == [
        ind[0]["id"], ind[2]["id"]]
    assert store.query(ObjectQuery(c.pk, spec_versions=("2.0",))).records == []
    later = store.query(ObjectQuery(c.pk, added_after=T0 + 3)).records
    assert ids(later) == [marking["id"]]


def test_collections_are_separate_but_share_one_body(store: Store) -> None:
    a, b = coll(store, "a"), coll(store, "b")
    o = indicator(1)
    store.add_versions(a.pk, [nv(o)], T0)
    assert store.query(ObjectQuery(b.pk)).records == []
    store.add_versions(b.pk, [nv(o)], T0 + 1)
    assert store.count(b.pk) == 1
    assert store.delete_versions(a.pk, str(o["id"]), ALL) == 1
    assert store.count(a.pk) == 0
    assert len(store.query(ObjectQuery(b.pk)).records) == 1


def test_immutability_is_per_collection_and_reveals_nothing_elsewhere(store: Store) -> None:
    a, b = coll(store, "a"), coll(store, "b")
    o = indicator(1)
    store.add_versions(a.pk, [nv(o)], T0)
    other = {**o, "name": "B's own copy"}
    [outcome] = store.add_versions(b.pk, [nv(other)], T0 + 1)
    assert outcome.ok
    [ra] = store.query(ObjectQuery(a.pk)).records
    [rb] = store.query(ObjectQuery(b.pk)).records
    assert orjson.loads(ra.body or b"")["name"] == "indicator 1"
    assert orjson.loads(rb.body or b"")["name"] == "B's own copy"
    assert store.delete_versions(b.pk, str(o["id"]), ALL) == 1
    assert orjson.loads(store.query(ObjectQuery(a.pk)).records[0].body or b"") == o


def test_delete_one_version_moves_last_flag(store: Store) -> None:
    c = coll(store)
    v1 = indicator(1, modified="2024-01-01T00:00:00.000Z")
    v2 = indicator(1, modified="2024-02-01T00:00:00.000Z")
    store.add_versions(c.pk, [nv(v1), nv(v2)], T0)
    removed = store.delete_versions(c.pk, str(v1["id"]), Versions(last=True))
    assert removed == 1
    [r] = store.query(ObjectQuery(c.pk)).records
    assert r.version == "2024-01-01T00:00:00.000Z"
    assert store.delete_versions(c.pk, str(v1["id"]), Versions(last=True)) == 1
    assert store.delete_versions(c.pk, str(v1["id"]), ALL) == 0


def test_unversioned_objects_get_one_stable_version(store: Store) -> None:
    c = coll(store)
    sco = {"type": "ipv4-addr", "spec_version": "2.1",
           "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "198.51.100.3"}
    item = NewVersion(sco["id"], "ipv4-addr", "2.1", None, None, orjson.dumps(sco))
    [first] = store.add_versions(c.pk, [item, item], T0)[:1]
    [again] = store.add_versions(c.pk, [item], T0 + 50)
    assert first.ok and again.ok and first.version == again.version
    assert store.count(c.pk) == 1


def test_writes_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    s = SQLiteStore(path)
    c = coll(s)
    s.add_versions(c.pk, [nv(indicator(i)) for i in range(10)], T0)
    s.close()
    s2 = SQLiteStore(path)
    assert s2.count(c.pk) == 10
    # The clock continues after the last date handed out, whatever the wall clock says.
    s2.add_versions(c.pk, [nv(indicator(99))], 5)
    dates = [r.date_added for r in s2.query(ObjectQuery(c.pk)).records]
    assert dates[-1] == T0 + 10
    s2.close()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(min_value=0, max_value=60),
    limit=st.integers(min_value=1, max_value=25),
    versions_per=st.integers(min_value=1, max_value=3),
    pick=st.sampled_from(["last", "first", "all"]),
)
def test_pagination_equals_unpaginated(tmp_path_factory: pytest.TempPathFactory, n: int,
                                       limit: int, versions_per: int, pick: str) -> None:
    s = SQLiteStore(tmp_path_factory.mktemp("p") / "p.db")
    try:
        c = coll(s)
        items = [nv(indicator(i, modified=f"2024-01-0{v + 1}T00:00:00.000Z"))
                 for v in range(versions_per) for i in range(n)]
        for start in range(0, len(items), 7):
            s.add_versions(c.pk, items[start:start + 7], T0 + start)
        sel = {"last": LAST, "first": Versions(first=True), "all": ALL}[pick]
        whole = s.query(ObjectQuery(c.pk, versions=sel, limit=10_000)).records
        pages, after = [], None
        while True:
            page = s.query(ObjectQuery(c.pk, versions=sel, after=after, limit=limit))
            pages.extend(page.records)
            if not page.more:
                break
            after = page.cursor
        assert [r.seq for r in pages] == [r.seq for r in whole]
        assert len(whole) == (n * versions_per if pick == "all" else n)
    finally:
        s.close()
