"""Real published STIX 2.1 data loads completely and reads back JSON-equal.

ATT&CK (ICS, Mobile, Enterprise gzip), CAPEC (two objects with a URL that starts with
a space must be rejected, and only those), and the abuse.ch SSL Blacklist feed (146
bundles with 434 repeated ids: stored once).
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import DATA
from thiqa.bulk import load_files
from thiqa.clock import FakeClock
from thiqa.store import Store
from thiqa.store.model import ALL, Collection, ObjectQuery

ATTACK = DATA / "attack"
ABUSE = DATA / "ioc-feeds" / "abusech-sslbl-stix21-feeds2stix"


def objects_of(path: Path) -> list[dict[str, Any]]:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    objs: list[dict[str, Any]] = orjson.loads(raw)["objects"]
    return objs


def read_all(store: Store, collection: Collection) -> dict[tuple[str, str], Any]:
    out: dict[tuple[str, str], Any] = {}
    after = None
    while True:
        page = store.query(ObjectQuery(collection.pk, versions=ALL, after=after, limit=5000))
        for r in page.records:
            obj = orjson.loads(r.body or b"")
            # Objects without created/modified are versioned by the node (first arrival).
            out[key(obj)] = obj
        if not page.more:
            return out
        after = page.cursor


def key(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["id"], obj.get("modified") or obj.get("created") or ""


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ics-attack-18.1.stix21.json", "mobile-attack-17.1.stix21.json",
                                  "enterprise-attack-18.1.stix21.json.gz"])
def test_attack_loads_completely_and_reads_back_equal(store: Store, name: str) -> None:
    c = store.add_collection(Collection(0, "c0000000-0000-4000-8000-000000000001", "ATT&CK"))
    path = ATTACK / name
    report = load_files(store, c, [path], clock=FakeClock())
    expected = {key(o): o for o in objects_of(path)}
    assert report.rejected == []
    assert report.read == report.stored == len(expected)
    assert read_all(store, c) == expected


@pytest.mark.slow
def test_capec_rejects_exactly_the_urls_with_a_leading_space(store: Store) -> None:
    c = store.add_collection(Collection(0, "c0000000-0000-4000-8000-000000000002", "CAPEC"))
    path = ATTACK / "capec-2.1.stix21.json"
    objs = objects_of(path)
    spaced = {o["id"] for o in objs
              if any(str(r.get("url", "")).startswith(" ")
                     for r in o.get("external_references", []))}
    assert len(spaced) == 2
    report = load_files(store, c, [path], clock=FakeClock())
    assert {r.id for r in report.rejected} == spaced
    assert all("url" in r.message for r in report.rejected)
    stored = read_all(store, c)
    assert stored == {key(o): o for o in objs if o["id"] not in spaced}


@pytest.mark.slow
def test_abusech_feed_loads_with_duplicates_stored_once(store: Store) -> None:
    c = store.add_collection(Collection(0, "c0000000-0000-4000-8000-000000000003", "abuse.ch"))
    files = sorted(ABUSE.rglob("*.json"))
    assert len(files) == 146
    report = load_files(store, c, files, clock=FakeClock())
    expected = {key(o): o for f in files for o in objects_of(f)}
    assert report.rejected == []
    assert report.read == 46_616 and report.stored == report.read
    assert store.count(c.pk) == len(expected) == 46_182
    assert read_all(store, c) == expected
