"""Numbered schema migrations for the SQLite files (``thiqa.db`` and ``audit.db``).

Each folder under ``thiqa/store`` holds scripts named ``NNNN_what.sql``; a script runs
once, in its own transaction, and is recorded in the file's ``schema_migrations``.
"""

from __future__ import annotations

import sqlite3
from importlib import resources


def migrate(cx: sqlite3.Connection, folder_name: str) -> None:
    """Apply the numbered scripts of ``thiqa/store/<folder_name>`` not yet recorded in
    ``schema_migrations``, each in its own transaction."""
    cx.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
               "version INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    done = {row[0] for row in cx.execute("SELECT version FROM schema_migrations")}
    folder = resources.files("thiqa.store").joinpath(folder_name)
    scripts = sorted((p for p in folder.iterdir() if p.name.endswith(".sql")),
                     key=lambda p: p.name)
    for script in scripts:
        number = int(script.name.split("_", 1)[0])
        if number in done:
            continue
        sql = script.read_text(encoding="utf-8")
        cx.execute("BEGIN IMMEDIATE")
        try:
            for statement in sql.split(";\n"):
                if statement.strip():
                    cx.execute(statement)
            cx.execute("INSERT INTO schema_migrations VALUES (?, ?)", (number, script.name))
            cx.execute("COMMIT")
        except BaseException:
            cx.execute("ROLLBACK")
            raise
