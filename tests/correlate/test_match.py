"""The index and matching on a node: semantics, versions, visibility, warninglists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import DATA
from tests.correlate.conftest import Corr, ind
from thiqa.correlate.service import Correlation
from thiqa.correlate.warninglists import Warninglist, Warninglists
from thiqa.handling import EXTENSION_ID, TLP2_IDS, Tlp
from thiqa.settings import Settings
from thiqa.store.model import ALL
from thiqa.store.sqlite import SQLiteStore


def test_match_semantics(corr: Corr) -> None:
    corr.add("shared",
             ind(1, "[ipv4-addr:value ISSUBSET '10.0.0.0/8']"),
             ind(2, "[ipv4-addr:value ISSUBSET '10.1.0.0/16']", confidence=90),
             ind(3, "[domain-name:value LIKE '%.example.com']"),
             ind(4, "[domain-name:value = 'example.com']"),
             ind(5, "[url:value LIKE 'http://evil.org/%']"),
             ind(6, "[ipv6-addr:value ISSUBSET '2001:db8::/32']"),
             ind(7, "[file:hashes.'SHA-256' = '" + "A" * 64 + "']"),
             {"type": "x-misp-object-btc", "spec_version": "2.1",
              "id": "x-misp-object-btc--91ae0a21-c7ae-4c7f-b84b-b84a7ce53d1f",
              "created": "2021-03-11T13:59:57.000Z", "modified": "2021-03-11T13:59:57.000Z",
              "x_misp_value": "1E38kt7ryhbRXUzbam6iQ6sd93VHUUdjEE"})
    assert corr.ids("10.1.2.3") == ["01", "02"]
    assert corr.ids("10.200.0.1") == ["01"]
    assert corr.ids("11.0.0.1") == []
    assert corr.ids("a.b.example.com") == ["03"]
    assert corr.ids("Example.COM.") == ["04"]  # subdomain tests do not match the name itself
    assert corr.ids("http://evil.org/gate.php") == ["05"]
    assert corr.ids("http://x.example.com/p") == ["03"]  # via the URL's host
    assert corr.ids("2001:DB8:0:0::5") == ["06"]
    assert corr.ids("a" * 64) == ["07"]
    assert corr.ids("1E38kt7ryhbRXUzbam6iQ6sd93VHUUdjEE") == ["1f"]
    hit = corr.match("10.1.2.3")["10.1.2.3"].hits
    by_id = {h.object_id[-2:]: h for h in hit}
    assert by_id["02"].confidence == 90 and by_id["02"].mode == "cidr"
    assert by_id["02"].matched == "10.1.0.0/16" and by_id["02"].name == "indicator 2"


def test_only_the_latest_unrevoked_unexpired_version_matches(corr: Corr) -> None:
    corr.add("shared", ind(1, "[ipv4-addr:value = '1.1.1.1']"))
    assert corr.ids("1.1.1.1") == ["01"]
    corr.add("shared", ind(1, "[ipv4-addr:value = '2.2.2.2']",
                           modified="2024-02-01T00:00:00.000Z"))
    assert corr.ids("1.1.1.1") == [] and corr.ids("2.2.2.2") == ["01"]
    corr.add("shared", ind(1, "[ipv4-addr:value = '2.2.2.2']", revoked=True,
                           modified="2024-03-01T00:00:00.000Z"))
    assert corr.ids("2.2.2.2") == []


def test_valid_until_in_the_past_stops_matching(corr: Corr) -> None:
    corr.add("shared", ind(2, "[ipv4-addr:value = '3.3.3.3']",
                           valid_until="2024-06-01T00:00:00Z"))
    assert corr.ids("3.3.3.3") == ["02"]  # the fake clock starts in November 2023
    corr.clock.advance(400 * 86_400 * 1_000_000)
    assert corr.ids("3.3.3.3") == []


def test_deleted_versions_leave_the_index(corr: Corr) -> None:
    corr.add("shared", ind(1, "[ipv4-addr:value = '1.1.1.1']"))
    before = corr.correlation.reader.size()["observables"]
    corr.node.delete(corr.a, "shared", ind(1, "")["id"], ALL, ())  # type: ignore[arg-type]
    assert corr.correlation.reader.size()["observables"] == before - 1
    assert corr.ids("1.1.1.1") == []


def test_visibility_follows_read_access(corr: Corr) -> None:
    corr.add("private", ind(1, "[ipv4-addr:value = '1.1.1.1']"))
    corr.add("shared", ind(2, "[ipv4-addr:value = '1.1.1.1']",
                           object_marking_refs=[TLP2_IDS[Tlp.GREEN]]))
    assert corr.ids("1.1.1.1", who=corr.a) == ["01", "02"]
    assert corr.ids("1.1.1.1", who=corr.b) == ["02"]
    corr.add("private", ind(3, "[ipv4-addr:value = '9.9.9.9']"))
    assert "9.9.9.9" not in corr.match("9.9.9.9", who=corr.b)  # nothing reveals it exists


def test_visibility_follows_the_handling_policy(corr: Corr) -> None:
    """B may read 'shared', but not the TLP:RED versions there it is not named in
    (unmarked ones are RED with no recipients: DESIGN rule 5)."""
    red = [TLP2_IDS[Tlp.RED]]
    corr.add("shared",
             ind(1, "[ipv4-addr:value = '4.4.4.4']", object_marking_refs=red),
             ind(2, "[ipv4-addr:value = '4.4.4.4']"),
             ind(3, "[ipv4-addr:value = '4.4.4.4']", object_marking_refs=red,
                 extensions={EXTENSION_ID: {"extension_type": "property-extension",
                                            "recipients": [corr.b.org.id]}}),
             ind(4, "[ipv4-addr:value = '4.4.4.4']",
                 object_marking_refs=[TLP2_IDS[Tlp.AMBER]]))
    assert corr.ids("4.4.4.4", who=corr.a) == ["01", "02", "03", "04"]  # the originator
    assert corr.ids("4.4.4.4", who=corr.b) == ["03", "04"]


def test_indexer_is_incremental_and_rebuildable(corr: Corr) -> None:
    corr.add("shared", ind(1, "[ipv4-addr:value = '1.1.1.1']"))
    again = corr.correlation.indexer.catch_up()
    assert again.entries == 0
    corr.correlation.indexer.rebuild()
    assert corr.ids("1.1.1.1") == []
    assert corr.correlation.indexer.catch_up().entries == 1
    assert corr.ids("1.1.1.1") == ["01"]


def test_streams_in_batches(corr: Corr) -> None:
    corr.add("shared", *(ind(i, f"[ipv4-addr:value = '10.0.{i // 256}.{i % 256}']")
                         for i in range(1, 300)))
    values = (f"10.0.{i // 256}.{i % 256}" if i % 3 == 0 else f"11.0.0.{i % 256}"
              for i in range(1, 3000))
    results = list(corr.correlation.matcher.match(values, batch=100))
    assert len(results) == 99 and all(len(r.hits) == 1 for r in results)


def test_warninglists_flag_known_benign(corr: Corr, tmp_path: Path) -> None:
    folder = DATA / "misp" / "warninglists"
    lists = Warninglists.load(folder)
    assert len(lists.lists) == 14
    corr.correlation.matcher.warninglists = lists
    corr.add("shared", ind(1, "[ipv4-addr:value = '192.168.1.1']"),
             ind(2, "[domain-name:value = 'www.google.com']"),
             ind(3, "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']"),
             ind(4, "[ipv4-addr:value = '5.6.7.8']"))
    got = corr.match("192.168.1.1", "www.google.com", "D41D8CD98F00B204E9800998ECF8427E",
                     "5.6.7.8")
    assert "List of RFC 1918 CIDR blocks" in got["192.168.1.1"].known_benign
    assert any("Tranco" in name for name in got["www.google.com"].known_benign)
    assert got["D41D8CD98F00B204E9800998ECF8427E"].known_benign  # the empty file's MD5
    assert got["5.6.7.8"].known_benign == []


def test_warninglist_types() -> None:
    def wl(kind: str, entries: list[str], attrs: list[str] | None = None) -> Warninglist:
        data: dict[str, object] = {"name": kind, "type": kind, "list": entries}
        if attrs is not None:
            data["matching_attributes"] = attrs
        return Warninglist.from_json(data, "test")

    from thiqa.correlate.detect import detect

    def hit(w: Warninglist, value: str) -> bool:
        o = detect(value)
        assert o is not None
        return w.hit(o)

    assert hit(wl("cidr", ["10.0.0.0/8", "2001:db8::/32"]), "10.9.9.9")
    assert hit(wl("cidr", ["10.0.0.0/8", "2001:db8::/32"]), "2001:db8::1")
    assert not hit(wl("cidr", ["10.0.0.0/8"]), "11.0.0.1")
    assert hit(wl("hostname", [".dyndns.org"]), "a.b.dyndns.org")
    assert hit(wl("hostname", ["bit.ly"]), "https://bit.ly/xyz")
    assert hit(wl("substring", ["mailinator"], ["email-dst"]), "x@mailinator.com")
    assert not hit(wl("substring", ["mailinator"], ["email-dst"]), "mailinator.com")
    assert hit(wl("regex", [r"/^(security|abuse)\@.*$/i"]), "Abuse@example.org")
    md5 = "d41d8cd98f00b204e9800998ecf8427e"
    assert hit(wl("string", [md5.upper()]), md5)


def test_operator_lists_from_the_data_directory(corr: Corr, tmp_path: Path) -> None:
    own = tmp_path / "warninglists"
    own.mkdir(exist_ok=True)
    (own / "ours.json").write_text(json.dumps({"name": "our scanners", "type": "cidr",
                                               "list": ["5.6.7.0/24"], "version": 1,
                                               "description": "x"}))
    c = Correlation(Settings(data=str(tmp_path)), corr.node.store, corr.clock)
    try:
        corr.add("shared", ind(4, "[ipv4-addr:value = '5.6.7.8']"))
        got = {r.value: r for r in c.matcher.match(["5.6.7.8"])}
        assert got["5.6.7.8"].known_benign == ["our scanners"]
    finally:
        c.close()


def test_an_indexer_restores_the_unindex_trigger(corr: Corr) -> None:
    import sqlite3

    from thiqa.correlate.index import Indexer

    if not isinstance(corr.node.store, SQLiteStore):
        pytest.skip("SQLite's trigger; on PostgreSQL migration 0005 owns it")
    path = corr.correlation.indexer.path
    cx = sqlite3.connect(path)
    cx.execute("DROP TRIGGER observables_unindex")
    cx.commit()
    Indexer(path).close()
    names = {r[0] for r in cx.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    cx.close()
    assert "observables_unindex" in names
