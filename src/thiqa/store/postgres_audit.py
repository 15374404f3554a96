"""The audit log on PostgreSQL: a table of the node's database (``audit_events``), on
its own connection and lock.

Its own connection so that recording a read never waits for the data writer (a bulk
load holds the write lock for seconds); append-only by triggers that refuse UPDATE,
DELETE and TRUNCATE (``pg_audit_migrations/0001``). An event is one row, its object ids
a text array under a GIN index, so a query by object needs no derived table (SQLite
builds ``event_objects`` in batches instead). Each append commits with
``synchronous_commit = on``: a group of events appended is durable when it returns.

**Group commit.** Every audited read appends, and a commit waits for the server's WAL
flush (milliseconds on a virtual disk): one commit per request, one at a time on the
one connection, would cap the whole process at a few hundred audited requests a second
while its CPU idles. So appends that arrive while a commit is in flight queue up, and
the next commit takes them all: each caller still returns only once its own events are
committed (or raises if that commit failed), but N concurrent requests cost one flush,
not N.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import psycopg

from thiqa.audit import AuditQuery, Event
from thiqa.errors import StoreError
from thiqa.store.pg_schema import migrate


def _text(s: str) -> str:
    # PostgreSQL text cannot hold NUL, and a refused event must still be recorded: a NUL
    # a caller sent (in a name, say) is recorded as U+FFFD.
    return s.replace("\x00", "\ufffd") if "\x00" in s else s


_Row = tuple[Any, ...]
_KEEP_FAILURES = 64  # failed batches remembered for their callers to find


class PostgresAuditLog:
    def __init__(self, url: str) -> None:
        self._url = url
        self._lock = threading.Lock()  # the connection
        self._queue_cv = threading.Condition()  # the queue, the batch numbers, the writer
        self._queue: list[_Row] = []
        self._collecting = 0  # the batch the queue's rows will be committed in
        self._committed = -1  # every batch up to this one is done (committed or failed)
        self._writing = False
        self._failed: dict[int, StoreError] = {}
        try:
            self._cx = self._connect()
            migrate(self._cx, "pg_audit_migrations", "audit_schema_migrations")
        except psycopg.Error as exc:
            raise StoreError(f"cannot open the audit log: {exc}") from exc

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        cx = psycopg.connect(self._url, autocommit=False, connect_timeout=10)
        cx.execute("SET synchronous_commit = on")
        cx.commit()
        return cx

    def _conn(self) -> psycopg.Connection[tuple[Any, ...]]:
        if self._cx.broken or self._cx.closed:
            self._cx = self._connect()
        return self._cx

    def append(self, events: Sequence[Event]) -> None:
        """Record ``events``; returns once they are committed (see Group commit)."""
        rows = [(e.at_us, _text(e.org_id), _text(e.key_id), e.action, e.outcome,
                 _text(e.collection), _text(e.detail), [_text(o) for o in e.objects])
                for e in events]
        with self._queue_cv:
            self._queue.extend(rows)
            mine = self._collecting
            while self._committed < mine and self._writing:
                self._queue_cv.wait()
            if self._committed >= mine:  # another caller's commit took these rows
                failed = self._failed.get(mine)
                if failed is not None:
                    raise failed
                return
            # Nobody is writing: this caller commits the queue, its rows and any others.
            self._writing = True
            batch, self._queue = self._queue, []
            self._collecting += 1
        error: StoreError | None = None
        try:
            self._write(batch)
        except Exception as exc:  # every caller of the batch learns that it failed
            error = exc if isinstance(exc, StoreError) else StoreError(
                f"cannot record in the audit log: {exc}")
        finally:
            with self._queue_cv:
                self._writing = False
                self._committed = mine
                if error is not None:
                    self._failed[mine] = error
                    for old in [n for n in self._failed if n <= mine - _KEEP_FAILURES]:
                        del self._failed[old]
                self._queue_cv.notify_all()
        if error is not None:
            raise error

    def _write(self, rows: list[_Row]) -> None:
        with self._lock:
            try:
                cx = self._conn()
                with cx.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO audit_events (at_us, org_id, key_id, action, outcome, "
                        "collection, detail, objects) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                        rows)
                cx.commit()
            except psycopg.Error as exc:
                if not self._cx.broken:
                    self._cx.rollback()
                raise StoreError(f"cannot record in the audit log: {exc}") from exc

    def query(self, q: AuditQuery) -> list[Event]:
        conds: list[str] = []
        params: list[Any] = []
        if q.org_id is not None:
            conds.append("org_id = %s")
            params.append(q.org_id)
        if q.action is not None:
            if q.action.endswith("."):
                conds.append("left(action, %s) = %s")
                params.extend([len(q.action), q.action])
            else:
                conds.append("action = %s")
                params.append(q.action)
        if q.since_us is not None:
            conds.append("at_us >= %s")
            params.append(q.since_us)
        if q.until_us is not None:
            conds.append("at_us < %s")
            params.append(q.until_us)
        if q.object_id is not None:
            conds.append("objects @> ARRAY[%s]::text[]")
            params.append(q.object_id)
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        with self._lock:
            try:
                cx = self._conn()
                rows = cx.execute(
                    "SELECT seq, at_us, org_id, key_id, action, outcome, collection, detail, "
                    f"objects FROM audit_events {where} ORDER BY seq DESC LIMIT %s",
                    [*params, q.limit]).fetchall()
                cx.commit()
            except psycopg.Error as exc:
                if not self._cx.broken:
                    self._cx.rollback()
                raise StoreError(f"cannot read the audit log: {exc}") from exc
        return [Event(at, org, key, action, outcome, coll, tuple(objects), detail, seq)
                for seq, at, org, key, action, outcome, coll, detail, objects in rows]

    def close(self) -> None:
        with self._lock:
            self._cx.close()
