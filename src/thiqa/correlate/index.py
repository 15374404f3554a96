"""The persistent observable index (migration 0005) on the node's SQLite file.

The indexer follows the node-wide entry sequence (``entries.seq``, increasing in
commit order: SQLite has one writer). It keeps a high-water mark in
``correlate_state`` and indexes each window of new entries in one transaction:
parse bodies and extract observables outside any write lock, then, holding it, drop
entries deleted meanwhile, insert the rows (sorted by key, for page locality) and
move the mark. Two indexers (``thiqa serve`` and a ``thiqa load`` beside it) never
index a window twice: the one that finds the mark moved discards its work.

Deletions leave the index by a trigger on ``entries``; a superseded version stays
indexed but stops matching, because a match reads ``entries.is_last`` (and which
collection holds it) at match time.

It uses its own connections to the store's file: the store's protocol stays free of
correlation, and the index is derived data (``thiqa index --rebuild`` recreates it),
so it commits with ``synchronous=NORMAL``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zlib import crc32

import orjson

from thiqa.correlate.extract import EXACT, RANGE, SUBDOMAINS, Extraction, Observable, extract
from thiqa.errors import StoreError

# Entries per window: big enough to amortise a commit, small enough to hold the write
# lock for a fraction of a second.
WINDOW = 20_000
# Page cache of the matcher's connection, bytes: allocated as pages are read, so a small
# index costs what it is; at most about the index of 10M indicators (~850 MB).
READ_CACHE = 1 << 30
# Types whose bodies can hold observables; others are skipped without reading them.
_TYPES = ("indicator", "ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr",
          "mac-addr", "autonomous-system", "file", "artifact", "x509-certificate",
          "user-account")
_TYPE_FILTER = f"(e.type IN ({','.join(repr(t) for t in _TYPES)}) OR e.type LIKE 'x-%')"


# As in migration 0005. Recreated (if missing) whenever an indexer opens: a later
# migration that rebuilds ``entries`` would drop the trigger with the old table.
UNINDEX_TRIGGER = (
    "CREATE TRIGGER IF NOT EXISTS observables_unindex AFTER DELETE ON entries BEGIN "
    "DELETE FROM observables WHERE seq = OLD.seq; "
    "DELETE FROM observable_tests WHERE seq = OLD.seq; END")


#: The seed of the CRC-32 in a key's low 31 bits (what the matcher's key filter uses).
KEY_SEED = 0x5BD1E995


def key(family: str, text: str) -> int:
    """The index key of a lookup: 63 bits from two CRC-32s (different seeds) of
    ``family NUL text``. Not cryptographic, and it need not be: rows keep their text
    and a match compares it, so a collision costs a row read, never a false match. Half
    the cost of BLAKE2b, and matching computes a key per value. The low 31 bits are
    ``crc32(b, KEY_SEED)``'s: the key filter (:mod:`thiqa.correlate.keyfilter`) tests
    them before the second CRC is worth computing."""
    b = f"{family}\0{text}".encode()
    return (crc32(b) << 31) ^ crc32(b, KEY_SEED)


# A row of observable_prefixes saying that subdomain tests exist.
SUB_MARK = "domain.sub"


def lookup_family(o: Observable) -> str:
    """A subdomain test is keyed apart from the exact name, so ``example.com`` itself does
    not hit an indicator on ``%.example.com``."""
    return o.family + ".sub" if o.mode == SUBDOMAINS else o.family


def connect(path: Path, *, writer: bool) -> sqlite3.Connection:
    try:
        cx = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=60)
        cx.execute("PRAGMA busy_timeout=60000")
        if writer:
            cx.execute("PRAGMA synchronous=NORMAL")
            cx.execute("PRAGMA cache_size=-262144")
        else:
            cx.execute("PRAGMA query_only=ON")
            cx.execute("PRAGMA mmap_size=1073741824")
            cx.execute("PRAGMA cache_size=-131072")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the observable index in {path}: {exc}") from exc
    return cx


def index_rows(rows: Sequence[tuple[int, bytes]]) -> tuple[
        list[tuple[Any, ...]], list[tuple[Any, ...]], set[tuple[str, int]]]:
    """The index rows of ``(seq, body)`` entries: keyed rows (sorted by key, for page
    locality), string-test rows and the (family, prefix length) pairs they add."""
    keyed: list[tuple[Any, ...]] = []
    tests: list[tuple[Any, ...]] = []
    prefixes: set[tuple[str, int]] = set()
    seen: dict[bytes, Extraction] = {}
    for seq, body in rows:
        got = seen.get(body)
        if got is None:  # one body held by several collections is parsed once
            try:
                obj = orjson.loads(body)
            except orjson.JSONDecodeError:
                continue
            got = extract(obj) if isinstance(obj, dict) else Extraction([], None)
            seen[body] = got
        observables, until = got
        for o in observables:
            if o.mode in (EXACT, SUBDOMAINS, RANGE):
                keyed.append((key(lookup_family(o), o.value), seq, o.kind, o.mode, o.value,
                              until))
                if o.mode == RANGE:
                    prefixes.add((o.family, int(o.value.rsplit("/", 1)[1])))
                elif o.mode == SUBDOMAINS:
                    prefixes.add((SUB_MARK, 0))  # matchers look parents up only then
            else:
                tests.append((seq, o.family, o.kind, o.mode, o.value, until))
    keyed.sort()
    return keyed, tests, prefixes


@dataclass(slots=True)
class IndexReport:
    entries: int = 0
    observables: int = 0
    seconds: float = 0.0


class Indexer:
    """Indexes new entries of one database file, window by window."""

    def __init__(self, path: Path, *, window: int = WINDOW) -> None:
        self.path = path
        self.window = window
        self._cx = connect(path, writer=True)
        self._lock = threading.Lock()
        self._closed = False
        self._write(lambda cx: cx.execute(UNINDEX_TRIGGER))
        self._interrupted = False

    def interrupt(self) -> None:
        """Make a ``catch_up`` in progress (and every later one) return after its current
        window: the indexer is about to be closed."""
        self._interrupted = True

    def close(self) -> None:
        """Close after the window in progress, if any (a serve shutting down mid-round)."""
        self._interrupted = True
        with self._lock:
            self._closed = True
            self._cx.close()

    def is_stopped(self) -> bool:
        return self._closed or self._interrupted

    def state(self) -> tuple[int, int]:
        """(indexed high-water mark, highest entry seq)."""
        with self._lock:
            return self._state()

    def _state(self) -> tuple[int, int]:
        if self._closed:
            raise StoreError("the observable indexer is closed")
        mark = self._cx.execute("SELECT indexed_seq FROM correlate_state").fetchone()[0]
        top = self._cx.execute("SELECT COALESCE(MAX(seq), 0) FROM entries").fetchone()[0]
        return int(mark), int(top)

    def run_once(self) -> IndexReport:
        """Index the next window of entries (none when caught up)."""
        with self._lock:
            return IndexReport() if self._closed else self._run_once()

    def catch_up(self, on_progress: Callable[[int, int], None] | None = None) -> IndexReport:
        """Index every entry present now; ``on_progress(done, total)`` after each window."""
        total = IndexReport()
        if self._closed:
            return total
        started = time.perf_counter()
        mark, top = self.state()
        while True:
            step = self.run_once()
            total.entries += step.entries
            total.observables += step.observables
            if self.is_stopped():
                break
            now_mark, now_top = self.state()
            if on_progress is not None:
                on_progress(now_mark - mark, max(top, now_top) - mark)
            if now_mark >= now_top:
                break
        total.seconds = time.perf_counter() - started
        return total

    def rebuild(self) -> None:
        """Forget the index; the next ``catch_up`` indexes every entry again."""
        def forget(cx: sqlite3.Connection) -> None:
            for table in ("observables", "observable_tests", "observable_prefixes"):
                cx.execute(f"DELETE FROM {table}")
            # A new generation: matchers' key filters are built again (keyfilter.py).
            cx.execute("UPDATE correlate_state SET indexed_seq = 0, generation = generation + 1")

        with self._lock:
            self._write(forget)

    # -- one window --------------------------------------------------------------------
    def _run_once(self) -> IndexReport:
        cx = self._cx
        mark, top = self._state()
        if mark >= top:
            return IndexReport()
        hi = min(mark + self.window, top)
        rows = cx.execute("SELECT e.seq, v.body FROM entries e JOIN versions v ON v.vid = e.vid "
                          f"WHERE e.seq > ? AND e.seq <= ? AND {_TYPE_FILTER}",
                          (mark, hi)).fetchall()
        keyed, tests, prefixes = index_rows(rows)
        seqs = [r[0] for r in rows]

        def write(cx: sqlite3.Connection) -> None:
            if self._state()[0] != mark:
                return  # another indexer did this window
            # Entries deleted since they were read must not enter the index.
            live = {r[0] for r in cx.execute(
                "SELECT seq FROM entries WHERE seq IN (SELECT value FROM json_each(?))",
                (orjson.dumps(seqs),))} if seqs else set()
            cx.executemany("INSERT OR IGNORE INTO observables VALUES (?, ?, ?, ?, ?, ?)",
                           [r for r in keyed if r[1] in live])
            cx.executemany("INSERT INTO observable_tests VALUES (?, ?, ?, ?, ?, ?)",
                           [r for r in tests if r[0] in live])
            cx.executemany("INSERT OR IGNORE INTO observable_prefixes VALUES (?, ?)",
                           sorted(prefixes))
            cx.execute("UPDATE correlate_state SET indexed_seq = ?", (hi,))

        self._write(write)
        return IndexReport(len(rows), len(keyed) + len(tests))

    def _write(self, work: Callable[[sqlite3.Connection], object]) -> None:
        cx = self._cx
        try:
            cx.execute("BEGIN IMMEDIATE")
            try:
                work(cx)
                cx.execute("COMMIT")
            except BaseException:
                if cx.in_transaction:
                    cx.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"indexing failed and was rolled back: {exc}") from exc


class IndexReader:
    """Read side of the index: one connection, shared by every thread under a lock.

    One, not one per thread, so that it can keep a large page cache (``READ_CACHE``)
    once: the index is appended after the objects it indexes, beyond what SQLite maps
    of a large file, so its pages are read into the connection's cache — 1M lookups
    on a 10M-indicator index take half the time with the index cached. Matching is
    Python-bound under the GIL anyway; the lock is held only while SQLite works.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _cx(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect(self.path, writer=False)
            self._conn.execute(f"PRAGMA cache_size=-{READ_CACHE // 1024}")
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._cx().execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"observable index read failed: {exc}") from exc

    def mark(self) -> int:
        return int(self.read("SELECT indexed_seq FROM correlate_state")[0][0])

    def state(self) -> tuple[int, int]:
        """(indexed high-water mark, generation: one more at every rebuild)."""
        row = self.read("SELECT indexed_seq, generation FROM correlate_state")[0]
        return int(row[0]), int(row[1])

    def filter_path(self) -> Path | None:
        """Where the matcher keeps its key filter between runs (keyfilter.py)."""
        return self.path.with_name(self.path.name + "-keyfilter")

    def rows(self) -> int:
        return int(self.read("SELECT count(*) FROM observables")[0][0])

    def keys_between(self, lo: int, hi: int) -> list[int]:
        """The keys of the rows of entries ``lo < seq <= hi`` (the key filter's fill)."""
        return [r[0] for r in self.read(
            "SELECT key FROM observables WHERE seq > ? AND seq <= ?", (lo, hi))]

    def lookup(self, keys: Sequence[int], now_us: int) -> list[tuple[Any, ...]]:
        """(position in ``keys``, seq, kind, mode, value) of every live row per key."""
        return self.read(
            "SELECT j.key, o.seq, o.kind, o.mode, o.value FROM json_each(?) j "
            "JOIN observables o ON o.key = j.value "
            "WHERE o.valid_until IS NULL OR o.valid_until > ?",
            (orjson.dumps(list(keys)), now_us))

    def prefixes(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for family, plen in self.read("SELECT family, plen FROM observable_prefixes"):
            out.setdefault(family, []).append(int(plen))
        return out

    def tests(self) -> list[tuple[int, str, str, str, str, int | None]]:
        return [tuple(r) for r in self.read(
            "SELECT seq, family, kind, mode, value, valid_until FROM observable_tests")]

    def entries(self, seqs: Sequence[int]) -> list[tuple[Any, ...]]:
        """(seq, collection pk, is_last, version, body, tlp, originator, RED recipients
        as space-separated identity ids or None, date_added) of the entries still stored."""
        return self.read(
            "SELECT e.seq, e.collection_pk, e.is_last, v.version, v.body, e.tlp, e.originator, "
            "(SELECT group_concat(r.org_id, ' ') FROM red_recipients r WHERE r.seq = e.seq), "
            "e.date_added FROM json_each(?) j JOIN entries e ON e.seq = j.value "
            "JOIN versions v ON v.vid = e.vid", (orjson.dumps(list(seqs)),))

    def sightings(self, object_ids: Sequence[str]) -> list[tuple[Any, ...]]:
        """(sighted object id, count, last seen µs, collection pk, tlp, originator, RED
        recipients or None) of the latest versions of the sightings of these objects
        (table ``sightings_of``, migration 0009)."""
        if not object_ids:
            return []
        return self.read(
            "SELECT s.object_id, s.count, s.last_seen, e.collection_pk, e.tlp, e.originator, "
            "(SELECT group_concat(r.org_id, ' ') FROM red_recipients r WHERE r.seq = e.seq) "
            "FROM json_each(?) j JOIN sightings_of s ON s.object_id = j.value "
            "JOIN entries e ON e.seq = s.seq AND e.is_last", (orjson.dumps(list(object_ids)),))

    def size(self) -> dict[str, int]:
        """Rows per index table (for ``thiqa index`` and the benchmark)."""
        return {t: int(self.read(f"SELECT count(*) FROM {t}")[0][0])
                for t in ("observables", "observable_tests", "observable_prefixes")}
