"""The audit log on SQLite: its own file (``audit.db``), its own connection and lock.

Separate from ``thiqa.db`` so that recording a read never waits for the data writer
(a bulk load holds its lock for seconds); append-only by triggers (migration 0001 of
``audit_migrations``). ``synchronous=NORMAL`` in WAL mode: an appended event survives
a crash of the process at once, and a power cut once the WAL is checkpointed (at most
~1,000 pages later) — an fsync per audited read would cost more than the read.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from thiqa.audit import AuditQuery, Event
from thiqa.errors import StoreError


class SQLiteAuditLog:
    def __init__(self, path: Path) -> None:
        from thiqa.store.sqlite import migrate  # the one migration runner

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
                for e in events:
                    cur = cx.execute(
                        "INSERT INTO events (at_us, org_id, key_id, action, outcome, "
                        "collection, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (e.at_us, e.org_id, e.key_id, e.action, e.outcome, e.collection,
                         e.detail))
                    if e.objects:
                        seq = cur.lastrowid
                        cx.executemany("INSERT INTO event_objects VALUES (?, ?)",
                                       [(seq, o) for o in e.objects])
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
                rows = self._cx.execute(
                    "SELECT e.seq, e.at_us, e.org_id, e.key_id, e.action, e.outcome, "
                    f"e.collection, e.detail FROM events e {where} ORDER BY e.seq DESC "
                    "LIMIT ?", [*params, q.limit]).fetchall()
                objects: dict[int, list[str]] = {}
                seqs = [r[0] for r in rows]
                for start in range(0, len(seqs), 500):
                    chunk = seqs[start : start + 500]
                    for seq, oid in self._cx.execute(
                            "SELECT seq, object_id FROM event_objects WHERE seq IN "
                            f"({','.join('?' * len(chunk))})", chunk):
                        objects.setdefault(seq, []).append(oid)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read the audit log: {exc}") from exc
        return [Event(at, org, key, action, outcome, coll, tuple(objects.get(seq, ())),
                      detail, seq) for seq, at, org, key, action, outcome, coll, detail in rows]

    def close(self) -> None:
        with self._lock:
            self._cx.close()
