"""What only the PostgreSQL store has to show: migrations in step with SQLite, several
processes writing one database, the append-only audit table, clear errors for a
database that cannot be reached, a driver that is missing or a value it cannot hold."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from tests.conftest import indicator, make_store
from tests.store.test_store import T0, coll, nv
from thiqa.audit import AuditQuery, Event
from thiqa.clock import FakeClock
from thiqa.errors import StoreError
from thiqa.federation import sync
from thiqa.federation.peers import LinkState, PeerTable
from thiqa.federation.peers import Peer as FedPeer
from thiqa.node import Node
from thiqa.settings import Settings
from thiqa.store.model import ALL, EVERYTHING, ObjectQuery
from thiqa.store.postgres import PostgresStore
from thiqa.stream.model import Window
from thiqa.stream.sqlite import event_log
from thiqa.taxii import create_app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[PostgresStore]:
    s = make_store("postgresql", tmp_path)
    assert isinstance(s, PostgresStore)
    yield s
    s.close()


def _numbers(folder: str) -> dict[int, str]:
    files = resources.files("thiqa.store").joinpath(folder).iterdir()
    return {int(p.name.split("_", 1)[0]): p.name.split("_", 1)[1]
            for p in files if p.name.endswith(".sql")}


def test_migrations_are_numbered_in_step_with_sqlite() -> None:
    assert _numbers("pg_migrations") == _numbers("migrations")
    assert _numbers("pg_audit_migrations") == _numbers("audit_migrations")


def test_writes_survive_reopening_and_the_clock_continues(pg: PostgresStore) -> None:
    c = coll(pg)
    pg.add_versions(c.pk, [nv(indicator(i)) for i in range(10)], T0)
    pg.close()
    again = PostgresStore(pg.url)  # migrations already applied: nothing to do
    try:
        assert again.count(c.pk) == 10
        again.add_versions(c.pk, [nv(indicator(99))], 5)
        assert again.query(ObjectQuery(c.pk)).records[-1].date_added == T0 + 10
    finally:
        again.close()


WRITER = """
import sys, orjson
from thiqa.store.postgres import PostgresStore
from thiqa.store.model import NewVersion
from thiqa.timestamps import version_key
url, pk, who = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = PostgresStore(url)
for batch in range(40):
    items = []
    for i in range(25):
        n = who * 100_000 + batch * 100 + i
        oid = f"indicator--00000000-0000-4000-8000-{n:012d}"
        when = "2024-01-01T00:00:00.000Z"
        body = orjson.dumps({"type": "indicator", "id": oid, "modified": when})
        items.append(NewVersion(oid, "indicator", "2.1", when, version_key(when), body))
    # A stalled clock: every process claims the same instant.
    assert all(o.ok for o in s.add_versions(pk, items, 1_700_000_000_000_000))
s.close()
"""


def test_processes_writing_at_once_get_increasing_seq_and_date_added(
        pg: PostgresStore) -> None:
    c = coll(pg)
    env = {"PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", "PATH": "/usr/bin:/bin"}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, pg.url, str(c.pk), str(w)],
                              env=env) for w in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    records = pg.query(ObjectQuery(c.pk, limit=10_000)).records
    assert len(records) == 3 * 40 * 25
    # In date order the seqs increase too, and no two entries share a date: a reader
    # paging by date_added never skips an entry committed by another process.
    seqs = [r.seq for r in records]
    dates = [r.date_added for r in records]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert dates == sorted(set(dates))


def test_the_audit_table_is_append_only(pg: PostgresStore) -> None:
    import psycopg

    pg.append_audit([Event(1, "o", "k", "read", "ok", "c", ("x", "y"), "d")])
    assert [e.objects for e in pg.audit(AuditQuery(object_id="y"))] == [("x", "y")]
    with psycopg.connect(pg.url, autocommit=True) as cx:
        for sql in ("UPDATE audit_events SET detail = 'forged'", "DELETE FROM audit_events",
                    "TRUNCATE audit_events"):
            with pytest.raises(psycopg.errors.IntegrityError, match="append-only"):
                cx.execute(sql)
    assert [e.detail for e in pg.audit(AuditQuery())] == ["d"]


def test_an_unreachable_server_is_a_store_error_without_the_password() -> None:
    with pytest.raises(StoreError, match="cannot open the database") as err:
        PostgresStore("postgresql://thiqa:s3cret@127.0.0.1:1/nodb?connect_timeout=2")
    assert "s3cret" not in str(err.value)


def test_without_the_driver_open_store_says_what_to_install() -> None:
    code = ("import sys; sys.modules['psycopg'] = None\n"
            "from thiqa.errors import ConfigError\n"
            "from thiqa.store import open_store\n"
            "try:\n    open_store('postgresql://127.0.0.1/test', '.')\n"
            "except ConfigError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT / "src")}, check=True).stdout
    assert "pip install 'thiqa[postgres]'" in out


def test_a_nul_character_is_a_bad_request_and_changes_nothing(pg: PostgresStore,
                                                              tmp_path: Path) -> None:
    settings = Settings(data=str(tmp_path))
    node = Node(settings, pg, FakeClock())
    org = node.create_org("Agency A")
    key = node.create_key(org.id, "admin")[1]
    with TestClient(create_app(settings, pg, node.clock)) as client:
        r = client.post("/admin/orgs/", json={"name": "x\u0000y"},
                        headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 400 and "NUL" in r.json()["description"], r.text
    assert [o.name for o in pg.list_orgs()] == ["Agency A"]
    pg.append_audit([Event(1, "o", "k", "deny", "denied", "c", ("x\x00",), "named x\x00y")])
    assert pg.audit(AuditQuery(limit=1))[0].detail == "named x\ufffdy"


def test_the_log_head_moves_only_when_a_write_commits(pg: PostgresStore) -> None:
    # A sequence shows values drawn by transactions still open: the head must not, or a
    # consumer would move past an event it then never reads.
    c = coll(pg)
    pg.add_versions(c.pk, [nv(indicator(1))], T0)
    log = event_log(pg)
    head = log.head()
    with pg._tx() as cx:
        cx.execute("DELETE FROM entries")  # the trigger draws the tombstone's seq
        drawn = cx.execute("SELECT last_value FROM entries_seq_seq").fetchone()
        assert drawn is not None and drawn[0] == head + 1
        assert log.head() == head  # read on another connection: not committed yet
    assert log.head() == head + 1
    [tombstone] = log.after(head, Window(EVERYTHING, node_wide=True), 10)
    assert (tombstone.kind, tombstone.object_id) == ("delete", indicator(1)["id"])


def test_peering_keeps_its_links_and_knows_what_it_holds(pg: PostgresStore) -> None:
    c = coll(pg)
    table = PeerTable(pg)
    table.add(FedPeer("node--b", "http://127.0.0.1:9", "identity--b", "k", "fp", None,
                      "both", T0), {c.pk: "remote"})
    assert table.maps("node--b") == {c.pk: "remote"}
    first = LinkState("node--b", c.pk, "pull", "remote", cursor=5, failures=2)
    table.save(first)
    table.save(replace(first, cursor=9, failures=0, last_error="gone"))  # replaced whole
    assert table.links("node--b") == [replace(first, cursor=9, failures=0, last_error="gone")]

    # What a collection lacks: neither held nor removed here (a tombstone counts as held,
    # so a peer's copy of a deleted version does not come back).
    pg.add_versions(c.pk, [nv(indicator(1)), nv(indicator(2))], T0)
    assert pg.delete_versions(c.pk, str(indicator(2)["id"]), ALL) == 1
    node = Node(Settings(data="unused"), pg, FakeClock())
    version = str(indicator(1)["modified"])
    pairs = [(str(indicator(n)["id"]), version) for n in (1, 2, 3, 3)]
    assert sync.lacking(node, c.pk, pairs) == [2]
    assert table.remove("node--b") and table.all() == []


def test_a_page_of_one_type_is_read_in_index_order_not_sorted(
        pg: PostgresStore, monkeypatch: pytest.MonkeyPatch) -> None:
    # match[type] with one value: the (collection, type, date_added) index yields the
    # page in date order, so the server reads limit + 1 entries. With "= ANY(array)"
    # it read and sorted every entry of the type (1.2 s a page at 1M).
    c = coll(pg)
    pg.add_versions(c.pk, [nv(indicator(i)) for i in range(200)], T0)
    seen: list[tuple[str, list[Any]]] = []
    read = pg._read

    def spy(sql: str, params: Sequence[Any] = ()) -> list[Any]:
        seen.append((sql, list(params)))
        return read(sql, params)

    monkeypatch.setattr(pg, "_read", spy)
    page = pg.query(ObjectQuery(c.pk, types=("indicator",), limit=10))
    assert len(page.records) == 10 and page.more
    sql, params = seen[-1]
    with psycopg.connect(pg.url, autocommit=True) as cx:
        plan = cx.execute("EXPLAIN (FORMAT JSON) " + sql, params).fetchone()[0]
    assert "Sort" not in json.dumps(plan)
