"""The observable index on a PostgreSQL node: :mod:`thiqa.correlate.index`'s indexer and
reader over the tables of ``pg_migrations/0005`` (same rows, same meaning).

What the SQLite indexer gets from ``BEGIN IMMEDIATE`` it gets here from the store's
write lock (``pg_advisory_xact_lock``, see :mod:`thiqa.store.postgres`): a window is
written while no entry can be added or deleted, so an entry deleted after it was read
is dropped from the window (and the delete trigger removes what was indexed before),
and two indexers (``thiqa serve`` workers, a ``thiqa load``) never write one window
twice: the one that finds the mark moved discards its work. ``entries.seq`` increases
in commit order (the same lock), so the high-water mark never passes an entry that a
transaction still open will commit below it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psycopg

from thiqa.correlate.index import _TYPES, WINDOW, Indexer, IndexReader, IndexReport, index_rows
from thiqa.errors import StoreError
from thiqa.store.pg_schema import LOCK_ARGS, WRITE_LOCK

Connection = psycopg.Connection[tuple[Any, ...]]
_TYPE_FILTER = "(e.type = ANY(%s) OR e.type LIKE 'x-%%')"


def _connect(url: str) -> Connection:
    try:
        cx = psycopg.connect(url, autocommit=False, connect_timeout=10)
        cx.execute("SET plan_cache_mode = force_custom_plan")  # see thiqa.store.postgres
        cx.commit()
    except psycopg.Error as exc:
        raise StoreError(f"cannot open the observable index: {exc}") from exc
    return cx


class PgIndexer(Indexer):
    """Indexes new entries of one PostgreSQL node, window by window."""

    def __init__(self, url: str, *, window: int = WINDOW) -> None:
        self.url = url
        self.window = window
        self._pg = _connect(url)
        self._lock = threading.Lock()
        self._closed = False
        self._interrupted = False

    def close(self) -> None:
        self._interrupted = True
        with self._lock:
            self._closed = True
            self._pg.close()

    def _state(self) -> tuple[int, int]:
        if self._closed:
            raise StoreError("the observable indexer is closed")
        try:
            mark = self._one("SELECT indexed_seq FROM correlate_state")
            top = self._one("SELECT COALESCE(MAX(seq), 0) FROM entries")
            self._pg.commit()
        except psycopg.Error as exc:
            self._pg.rollback()
            raise StoreError(f"observable index read failed: {exc}") from exc
        return mark, top

    def _one(self, sql: str) -> int:
        row = self._pg.execute(sql).fetchone()
        assert row is not None
        return int(row[0])

    def rebuild(self) -> None:
        def forget(cx: Connection) -> None:
            for table in ("observables", "observable_tests", "observable_prefixes"):
                cx.execute(f"DELETE FROM {table}")
            cx.execute("UPDATE correlate_state SET indexed_seq = 0, generation = generation + 1")

        with self._lock:
            self._pg_write(forget)

    def _run_once(self) -> IndexReport:
        mark, top = self._state()
        if mark >= top:
            return IndexReport()
        hi = min(mark + self.window, top)
        try:
            rows = self._pg.execute(
                "SELECT e.seq, v.body FROM entries e JOIN versions v ON v.vid = e.vid "
                f"WHERE e.seq > %s AND e.seq <= %s AND {_TYPE_FILTER}",
                (mark, hi, list(_TYPES))).fetchall()
            self._pg.commit()
        except psycopg.Error as exc:
            self._pg.rollback()
            raise StoreError(f"observable index read failed: {exc}") from exc
        keyed, tests, prefixes = index_rows(rows)
        seqs = [r[0] for r in rows]

        def write(cx: Connection) -> None:
            row = cx.execute("SELECT indexed_seq FROM correlate_state").fetchone()
            if row is None or row[0] != mark:
                return  # another indexer did this window
            # Entries deleted since they were read must not enter the index.
            live = {r[0] for r in cx.execute("SELECT seq FROM entries WHERE seq = ANY(%s)",
                                             (seqs,))} if seqs else set()
            rows_in = [r for r in keyed if r[1] in live]
            if rows_in:
                cols = list(zip(*rows_in, strict=True))
                cx.execute("INSERT INTO observables SELECT * FROM unnest(%s::int8[], "
                           "%s::int8[], %s::text[], %s::text[], %s::text[], %s::int8[]) "
                           "ON CONFLICT DO NOTHING", [list(c) for c in cols])
            with cx.cursor() as cur, cur.copy(
                    "COPY observable_tests (seq, family, kind, mode, value, valid_until) "
                    "FROM STDIN") as copy:
                for r in tests:
                    if r[0] in live:
                        copy.write_row(r)
            if prefixes:
                families, plens = zip(*sorted(prefixes), strict=True)
                cx.execute("INSERT INTO observable_prefixes SELECT * FROM unnest(%s::text[], "
                           "%s::int4[]) ON CONFLICT DO NOTHING", (list(families), list(plens)))
            cx.execute("UPDATE correlate_state SET indexed_seq = %s", (hi,))

        self._pg_write(write)
        return IndexReport(len(rows), len(keyed) + len(tests))

    def _pg_write(self, work: Callable[[Connection], object]) -> None:
        cx = self._pg
        try:
            cx.execute("SELECT pg_advisory_xact_lock" + LOCK_ARGS, (WRITE_LOCK,))
            work(cx)
            cx.commit()
        except psycopg.Error as exc:
            cx.rollback()
            raise StoreError(f"indexing failed and was rolled back: {exc}") from exc
        except BaseException:
            cx.rollback()
            raise


class PgIndexReader(IndexReader):
    """Read side of the index on PostgreSQL: one autocommit connection under a lock."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._pgc: Connection | None = None

    def close(self) -> None:
        with self._lock:
            if self._pgc is not None:
                self._pgc.close()
                self._pgc = None

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                if self._pgc is None or self._pgc.broken:
                    self._pgc = _connect(self.url)
                    self._pgc.autocommit = True
                return self._pgc.execute(sql, params).fetchall()
            except psycopg.Error as exc:
                raise StoreError(f"observable index read failed: {exc}") from exc

    def filter_path(self) -> Path | None:
        return None  # no file of its own: built at the first match

    def keys_between(self, lo: int, hi: int) -> list[int]:
        return [r[0] for r in self.read(
            "SELECT key FROM observables WHERE seq > %s AND seq <= %s", (lo, hi))]

    def lookup(self, keys: Sequence[int], now_us: int) -> list[tuple[Any, ...]]:
        return self.read(
            "SELECT j.pos - 1, o.seq, o.kind, o.mode, o.value FROM unnest(%s::int8[]) "
            "WITH ORDINALITY AS j(key, pos) JOIN observables o ON o.key = j.key "
            "WHERE o.valid_until IS NULL OR o.valid_until > %s", (list(keys), now_us))

    def entries(self, seqs: Sequence[int]) -> list[tuple[Any, ...]]:
        return self.read(
            "SELECT e.seq, e.collection_pk, e.is_last, v.version, v.body, e.tlp, e.originator, "
            "(SELECT string_agg(r.org_id, ' ') FROM red_recipients r WHERE r.seq = e.seq), "
            "e.date_added FROM entries e JOIN versions v ON v.vid = e.vid "
            "WHERE e.seq = ANY(%s)", (list(seqs),))

    def sightings(self, object_ids: Sequence[str]) -> list[tuple[Any, ...]]:
        # IndexReader.sightings with an array for SQLite's json_each (sightings_of is
        # filled by the hunter, thiqa.correlate.hunt).
        if not object_ids:
            return []
        return self.read(
            "SELECT s.object_id, s.count, s.last_seen, e.collection_pk, e.tlp, e.originator, "
            "(SELECT string_agg(r.org_id, ' ') FROM red_recipients r WHERE r.seq = e.seq) "
            "FROM unnest(%s::text[]) AS j(value) JOIN sightings_of s ON s.object_id = j.value "
            "JOIN entries e ON e.seq = s.seq AND e.is_last", (list(object_ids),))
