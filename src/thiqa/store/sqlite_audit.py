"""The audit log on SQLite: its own file (``audit.db``), its own connection and lock.

Separate from ``thiqa.db`` so that recording a read never waits for the data writer
(a bulk load holds its lock for seconds); append-only by triggers (migration 0001 of
``audit_migrations``). ``synchronous=NORMAL`` in WAL mode: an appended event survives
a crash of the process at once, and a power cut once the WAL is checkpointed (at most
~1,000 pages later) — an fsync per audited read would cost more than the read.

An event is one row, its object ids a JSON list in it: appending costs ~0.1 ms
whatever the number of objects. The index by object (``event_objects``) is brought up
to date in one batch when a query asks for an object: one row per object and event,
inserted as each page is served, cost ~6 ms a page of 1,000 objects (random keys, a
commit each) — more than serving the page.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from thiqa.audit import AuditQuery, Event
from thiqa.errors import StoreError
from thiqa.store.schema import migrate


class SQLiteAuditLog:
    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        try:
            self._cx = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                       timeout=60)
            self._cx.execute("PRAGMA journal_mode=WAL")
            self._cx.execute("PRAGMA synchronous=NORMAL")
            self._cx.execute("PRAGMA busy_timeout=60000")
            migrate(self._cx, "audit_migrations")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the audit log {path}: {exc}") from exc

    def append(self, events: Sequence[Event]) -> None:
        with self._lock:
            cx = self._cx
            try:
                cx.execute("BEGIN IMMEDIATE")
                cx.executemany(
                    "INSERT INTO events (at_us, org_id, key_id, action, outcome, collection, "
                    "detail, objects) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(e.at_us, e.org_id, e.key_id, e.action, e.outcome, e.collection, e.detail,
                      orjson.dumps(e.objects)) for e in events])
                cx.execute("COMMIT")
            except sqlite3.Error as exc:
                if cx.in_transaction:
                    cx.execute("ROLLBACK")
                raise StoreError(f"cannot record in the audit log: {exc}") from exc

    def query(self, q: AuditQuery) -> list[Event]:
        conds: list[str] = []
        params: list[Any] = []
        if q.org_id is not None:
            conds.append("e.org_id = ?")
            params.append(q.org_id)
        if q.action is not None:
            if q.action.endswith("."):
                conds.append("substr(e.action, 1, ?) = ?")
                params.extend([len(q.action), q.action])
            else:
                conds.append("e.action = ?")
                params.append(q.action)
        if q.since_us is not None:
            conds.append("e.at_us >= ?")
            params.append(q.since_us)
        if q.until_us is not None:
            conds.append("e.at_us < ?")
            params.append(q.until_us)
        if q.object_id is not None:
            conds.append("e.seq IN (SELECT seq FROM event_objects WHERE object_id = ?)")
            params.append(q.object_id)
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        with self._lock:
            try:
                if q.object_id is not None:
                    self._index()
                rows = self._cx.execute(
                    "SELECT e.seq, e.at_us, e.org_id, e.key_id, e.action, e.outcome, "
                    f"e.collection, e.detail, e.objects FROM events e {where} "
                    "ORDER BY e.seq DESC LIMIT ?", [*params, q.limit]).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read the audit log: {exc}") from exc
        return [Event(at, org, key, action, outcome, coll, tuple(orjson.loads(objects)),
                      detail, seq)
                for seq, at, org, key, action, outcome, coll, detail, objects in rows]

    def _index(self) -> None:
        """Bring event_objects up to date with the events appended since last time."""
        cx = self._cx
        cx.execute("BEGIN IMMEDIATE")
        try:
            upto = cx.execute("SELECT upto FROM indexed").fetchone()[0]
            last = upto
            for seq, objects in cx.execute("SELECT seq, objects FROM events WHERE seq > ? "
                                           "ORDER BY seq", (upto,)).fetchall():
                ids = orjson.loads(objects)
                if ids:
                    cx.executemany("INSERT OR IGNORE INTO event_objects VALUES (?, ?)",
                                   [(oid, seq) for oid in ids])
                last = seq
            if last != upto:
                cx.execute("UPDATE indexed SET upto = ?", (last,))
            cx.execute("COMMIT")
        except BaseException:
            if cx.in_transaction:
                cx.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock:
            self._cx.close()
