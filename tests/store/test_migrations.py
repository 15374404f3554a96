"""Migrations that reshape data keep it: a database at the schema before a migration,
with rows in it, is migrated by the ordinary runner and loses nothing."""

from __future__ import annotations

import sqlite3
from importlib import resources
from pathlib import Path

from thiqa.store.schema import migrate

ORG_A = "identity--00000000-0000-4000-8000-00000000000a"
ORG_B = "identity--00000000-0000-4000-8000-00000000000b"


def _migrated_up_to(path: Path, last: int) -> sqlite3.Connection:
    cx = sqlite3.connect(path, isolation_level=None)
    cx.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    folder = resources.files("thiqa.store").joinpath("migrations")
    for script in sorted((p for p in folder.iterdir() if p.name.endswith(".sql")),
                         key=lambda p: p.name):
        number = int(script.name.split("_", 1)[0])
        if number > last:
            break
        for statement in script.read_text(encoding="utf-8").split(";\n"):
            if statement.strip():
                cx.execute(statement)
        cx.execute("INSERT INTO schema_migrations VALUES (?, ?)", (number, script.name))
    return cx


def test_0014_keeps_every_observation(tmp_path: Path) -> None:
    cx = _migrated_up_to(tmp_path / "t.db", 13)
    rows = [(ORG_A, 11, "ipv4", "ipv4-addr", "6.6.6.6", 1, 5, 3),
            (ORG_B, 11, "ipv4", "ipv4-addr", "6.6.6.6", 2, 2, 1),
            (ORG_A, 12, "domain", "domain-name", "evil.example", 4, 9, 2)]
    cx.executemany("INSERT INTO observations (org_id, key, family, kind, value, first_seen, "
                   "last_seen, count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    migrate(cx, "migrations")
    got = cx.execute("SELECT w.org_id, o.key, o.family, o.kind, o.value, o.first_seen, "
                     "o.last_seen, o.count FROM observations o JOIN observers w "
                     "ON w.pk = o.observer ORDER BY 1, 2").fetchall()
    assert got == sorted(rows)
    assert {r[0] for r in cx.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
            } & {"observations_seen"} == set()
