"""``thiqa migrate --to postgresql://…``: a SQLite node moves to PostgreSQL whole."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tests.conftest import indicator, make_store
from tests.store.test_store import nv
from thiqa.audit import AuditQuery
from thiqa.cli import main
from thiqa.store.model import ALL, EVERYTHING, ObjectQuery, TrustedKey
from thiqa.store.postgres import PostgresStore
from thiqa.store.sqlite import SQLiteStore
from thiqa.stream.model import Window
from thiqa.stream.sqlite import event_log


def test_a_sqlite_node_moves_to_postgresql_verified(tmp_path: Path) -> None:
    target = make_store("postgresql", tmp_path)  # skips when no server answers
    assert isinstance(target, PostgresStore)
    url = target.url
    target.close()
    data = str(tmp_path / "node")
    run = CliRunner().invoke
    assert run(main, ["init", "--data", data, "--json"]).exit_code == 0
    assert run(main, ["org", "add", "Agency B", "--data", data]).exit_code == 0
    assert run(main, ["community", "create", "Forum", "--member", "Agency B",
                      "--data", data]).exit_code == 0
    bundle = tmp_path / "b.json"
    objects = [indicator(i, tlp=tlp) for i, tlp in enumerate(["green", "amber", "red", None])]
    objects.append(indicator(0, modified="2024-02-01T00:00:00.000Z", tlp="green"))
    bundle.write_text(json.dumps({"type": "bundle", "id": "bundle--6e1b4d6b-6b6b-4b6b-8b6b-"
                                  "6b6b6b6b6b6b", "objects": objects}))
    assert run(main, ["load", str(bundle), "--data", data, "--quiet"]).exit_code == 0
    # What main added since the first PostgreSQL store: tombstones, open publication,
    # pinned keys. They move too.
    before = SQLiteStore(Path(data) / "thiqa.db")
    default = before.list_collections()[0]
    assert before.delete_versions(default.pk, str(indicator(3)["id"]), ALL) == 1
    before.set_public(default.pk, True)
    before.pin_key(TrustedKey("fp1", "pub", "node--x", ("identity--x",), "X", 5))
    before.close()

    r = run(main, ["migrate", "--to", url, "--data", data, "--json"])
    assert r.exit_code == 0, r.output
    copied = {t["table"]: t["rows"] for t in json.loads(r.stdout)["tables"]}
    assert copied["entries"] == 4 and copied["versions"] == 4 and copied["orgs"] == 2
    assert copied["events"] == 1 and copied["trusted_keys"] == 1
    assert copied["audit_events"] >= 3

    source, moved = SQLiteStore(Path(data) / "thiqa.db"), PostgresStore(url)
    try:
        assert moved.list_orgs() == source.list_orgs()
        assert moved.list_keys() == source.list_keys()
        assert moved.list_communities() == source.list_communities()
        assert moved.list_collections() == source.list_collections()
        for c in source.list_collections():
            q = ObjectQuery(c.pk, versions=ALL)
            assert moved.query(q) == source.query(q)  # seq, date_added, handling, bodies
        assert moved.audit(AuditQuery(limit=1000)) == source.audit(AuditQuery(limit=1000))
        assert moved.trusted_keys() == source.trusted_keys()
        head = event_log(source).head()
        assert event_log(moved).head() == head
        window = Window(EVERYTHING, node_wide=True)
        assert event_log(moved).after(0, window, 100) == event_log(source).after(0, window, 100)
        assert [e.kind for e in event_log(moved).after(0, window, 100)].count("delete") == 1
        # The node goes on where it stopped: new seqs and dates after the copied ones.
        default = source.list_collections()[0]
        last = source.query(ObjectQuery(default.pk, versions=ALL)).records[-1]
        [ok] = moved.add_versions(default.pk, [nv(indicator(50))], 0)
        new = moved.query(ObjectQuery(default.pk, ids=(ok.id,))).records[0]
        assert ok.ok and new.seq == head + 1 and new.date_added == last.date_added + 1
        assert new.seq > last.seq
    finally:
        source.close()
        moved.close()
    r = run(main, ["load", str(bundle), "--data", data, "--db", url, "--quiet"])
    assert r.exit_code == 0, r.output
    again = run(main, ["migrate", "--to", url, "--data", data])
    assert again.exit_code == 1 and "already holds a node" in again.output
