"""The PostgreSQL half of the ``store`` fixture: one schema per test process.

The server is the one on the machine (127.0.0.1:5432, trust auth, database ``test``;
``THIQA_TEST_PG`` names another). Each pytest process (each xdist worker) creates its
own schema once, migrates it once, and empties it before every test: DELETE from every
table (children first), sequences restarted, the rows the migrations seeded put back.
Far cheaper than migrating a fresh schema per test, and than TRUNCATE … RESTART
IDENTITY too (measured: 6 ms against 74 ms a test; TRUNCATE makes new files for
every table). The schema is dropped when the process ends;
schemas left by processes that died are dropped by the next run.

When no server answers, :func:`unavailable` says why and the PostgreSQL half of the
suite is skipped — loudly, in the terminal summary (see ``tests/conftest.py``).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

PREFIX = "thiqa_t_"
_state: dict[str, Any] = {}   # the server
_slots: dict[str, dict[str, Any]] = {}  # the schemas, by slot


def _server() -> str | None:
    """A URL of the test database that accepts a connection, or None (and why in
    ``_state['why']``)."""
    try:
        import psycopg
    except ModuleNotFoundError:
        _state["why"] = "psycopg is not installed (pip install -e '.[test]')"
        return None
    explicit = os.environ.get("THIQA_TEST_PG")
    users = [os.environ.get("USER", ""), "postgres", "root"]
    candidates = [explicit] if explicit else [
        f"postgresql://{u}@127.0.0.1:5432/test" for u in dict.fromkeys(u for u in users if u)]
    errors = []
    for url in candidates:
        try:
            psycopg.connect(url, connect_timeout=3).close()
            return url
        except psycopg.Error as exc:
            errors.append(f"{url}: {str(exc).strip().splitlines()[0]}")
    _state["why"] = "no PostgreSQL server reachable (" + "; ".join(errors) + ")"
    return None


def unavailable() -> str | None:
    """Why the PostgreSQL tests cannot run in this process, or None when they can."""
    if "url" not in _state:
        _state["url"] = _server()
    return None if _state["url"] else str(_state["why"])


def schema_or_skip(slot: str = "") -> str:
    """:func:`schema_url`, or the test skipped (and counted in the loud summary) when no
    server can be reached."""
    why = unavailable()
    if why is not None:
        import pytest

        pytest.skip(f"PostgreSQL store not tested: {why}")
    return schema_url(slot)


async def until(check: Callable[[], object], timeout: float = 10.0) -> bool:
    """Poll ``check`` every 50 ms until it is true (True) or ``timeout`` passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.05)
    return False


def schema_url(slot: str = "") -> str:
    """This process's migrated schema, emptied: a URL for :class:`PostgresStore`. A test
    that needs several PostgreSQL nodes names a ``slot`` (letters) for each other one."""
    import psycopg

    from thiqa.audit import AuditQuery
    from thiqa.store.postgres import PostgresStore

    st = _slots.setdefault(slot, {})
    if "schema" not in st:
        base = _state["url"]
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        schema = (f"{PREFIX}{re.sub(r'[^a-z0-9]', '', worker.lower())}{slot}"
                  f"_{os.getpid()}")
        with psycopg.connect(base, autocommit=True) as cx:
            _drop_orphans(cx)
            cx.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            cx.execute(f"CREATE SCHEMA {schema}")
        sep = "&" if "?" in base else "?"
        url = f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
        store = PostgresStore(url)  # migrate once, the audit log too
        store.audit(AuditQuery())
        store.close()
        cx = psycopg.connect(url, autocommit=False)
        tables = [r[0] for r in cx.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename NOT LIKE "
            "'%%schema_migrations' ORDER BY tablename", (schema,))]
        seeds = {t: cx.execute(f"SELECT * FROM {t}").fetchall() for t in tables}
        sequences = [r[0] for r in cx.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'S' AND n.nspname = %s", (schema,))]
        refs = cx.execute("SELECT conrelid::regclass::text, confrelid::regclass::text FROM "
                          "pg_constraint WHERE contype = 'f' AND connamespace = %s::regnamespace",
                          (schema,)).fetchall()
        cx.commit()
        # The audit log refuses DELETE by a trigger: its owner (this test process) lifts
        # it for the moment of emptying the schema, in the same transaction.
        # Emptying entries must not leave tombstones behind (the event log's trigger).
        statements = ["ALTER TABLE audit_events DISABLE TRIGGER USER",
                      "ALTER TABLE entries DISABLE TRIGGER USER",
                      *(f"DELETE FROM {t}" for t in _children_first(tables, refs)),
                      "ALTER TABLE entries ENABLE TRIGGER USER",
                      "ALTER TABLE audit_events ENABLE TRIGGER USER",
                      *(f"ALTER SEQUENCE {s} RESTART" for s in sequences)]
        st.update(schema=schema, schema_url=url, cx=cx, reset="; ".join(statements),
                      seeds={t: rows for t, rows in seeds.items() if rows})
    _reset(st)
    return str(st["schema_url"])


def _children_first(tables: list[str], refs: list[tuple[str, str]]) -> list[str]:
    """``tables`` ordered so that a table comes before every table it references."""
    order: list[str] = []
    left = list(tables)
    while left:
        ready = [t for t in left if not any(child in left and child != t and parent == t
                                            for child, parent in refs)]
        if not ready:
            raise RuntimeError(f"foreign keys form a cycle among {left}")
        order.extend(ready)
        left = [t for t in left if t not in ready]
    return order


def _reset(st: dict[str, Any]) -> None:
    cx = st["cx"]
    cx.execute(st["reset"])
    for table, rows in st["seeds"].items():
        marks = ", ".join(["%s"] * len(rows[0]))
        cx.cursor().executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
    cx.commit()


def _drop_orphans(cx: Any) -> None:
    for (name,) in cx.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s",
                              (PREFIX + "%",)).fetchall():
        pid = name.rsplit("_", 1)[-1]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            cx.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def drop() -> None:
    """Drop this process's schemas (at the end of the session)."""
    if not _slots:
        return
    import psycopg

    with psycopg.connect(_state["url"], autocommit=True) as cx:
        for st in _slots.values():
            if "schema" in st:
                st["cx"].close()
                cx.execute(f"DROP SCHEMA IF EXISTS {st['schema']} CASCADE")
    _slots.clear()
