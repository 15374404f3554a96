"""Numbered schema migrations for a PostgreSQL database (the store and its audit log).

``pg_migrations`` mirrors ``migrations`` number for number (one PostgreSQL script per
SQLite script, same meaning), so that a later migration is added to both; the audit
log's scripts are in ``pg_audit_migrations`` and recorded in their own table. Each
script runs once, in its own transaction. Several processes may start at once on one
database (``thiqa serve --workers``): an advisory lock makes them migrate one at a time,
and each re-reads what is done after taking it.
"""

from __future__ import annotations

from importlib import resources

import psycopg

# Advisory locks of thiqa, (class, object) pairs: the class says which lock, the object
# is the node's schema (hashtext(current_schema())), since advisory locks are per
# database and two nodes in two schemas of one database must not wait for each other.
MIGRATE_LOCK = 0x74680001   # schema migrations
WRITE_LOCK = 0x74680002     # the single writer of entries (postgres.py)
# "SELECT ..." + LOCK_ARGS, with the lock's class as the one parameter.
LOCK_ARGS = "(%s, hashtext(current_schema()))"


def migrate(cx: psycopg.Connection[tuple[object, ...]], folder_name: str, table: str) -> None:
    """Apply the numbered scripts of ``thiqa/store/<folder_name>`` not yet recorded in
    ``table``, each in its own transaction, under the migration lock."""
    cx.execute(f"CREATE TABLE IF NOT EXISTS {table} ("
               "version INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    cx.commit()
    folder = resources.files("thiqa.store").joinpath(folder_name)
    scripts = sorted((p for p in folder.iterdir() if p.name.endswith(".sql")),
                     key=lambda p: p.name)
    cx.execute("SELECT pg_advisory_lock" + LOCK_ARGS, (MIGRATE_LOCK,))
    try:
        done = {row[0] for row in cx.execute(f"SELECT version FROM {table}")}
        cx.commit()
        for script in scripts:
            number = int(script.name.split("_", 1)[0])
            if number in done:
                continue
            try:
                # No parameters: psycopg sends the script as one simple query, so a
                # function body with semicolons in it needs no splitting.
                cx.execute(script.read_text(encoding="utf-8").encode())
                cx.execute(f"INSERT INTO {table} VALUES (%s, %s)", (number, script.name))
                cx.commit()
            except BaseException:
                cx.rollback()
                raise
    finally:
        cx.execute("SELECT pg_advisory_unlock" + LOCK_ARGS, (MIGRATE_LOCK,))
        cx.commit()
