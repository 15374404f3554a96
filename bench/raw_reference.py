"""The physical floor for ``thiqa load``: parse + insert with nothing else.

    python bench/raw_reference.py FILE [FILE…]

For each file: cut it into objects and ``orjson.loads`` each one (both done by
``thiqa.reader``, as the real loader does: one parse per object), then ``executemany``
(id, modified, type, json) into a SQLite table with a primary key and a (type,
modified) index, in WAL mode, 100,000 rows per transaction (as ``thiqa load``
commits). No validation, no versioning, no policy: whatever ``thiqa load`` adds on
top is the price of those.
Read+parse and insert times are reported apart.

Import ``run_raw_reference(path)`` from another bench script to get the same figures
as a dict. Times are wall-clock; peak RSS is the process's, from getrusage.
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Runs from a checkout whether or not thiqa is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from thiqa.reader import read_objects

# Rows per transaction: thiqa.bulk.COMMIT_EVERY, so both pay the same commits.
BATCH = 100_000
# A rowid table with a unique key, as the store's ``versions`` table: WITHOUT ROWID
# measured 3x slower here, as SQLite's docs predict for rows of ~1 KB.
_SCHEMA = """
CREATE TABLE objects (
    id TEXT NOT NULL,
    modified TEXT NOT NULL,
    type TEXT NOT NULL,
    json BLOB NOT NULL,
    PRIMARY KEY (id, modified)
);
CREATE INDEX objects_type_modified ON objects (type, modified);
"""
# The store's own settings (thiqa.store.sqlite), so the floor is a fair comparison:
# same durability (FULL) and cache; a 2 MB default cache would halve the insert rate
# once the indexes outgrow it. Not its mmap_size: mapped database pages count in RSS
# (1 GB after 1M objects), which would hide whether the *process* stays flat.
_PRAGMAS = ("journal_mode=WAL", "synchronous=FULL", "cache_size=-65536",
            "temp_store=MEMORY")


def _connect(db: Path) -> sqlite3.Connection:
    cx = sqlite3.connect(db, isolation_level=None)
    for pragma in _PRAGMAS:
        cx.execute(f"PRAGMA {pragma}")
    cx.executescript(_SCHEMA)
    return cx


def _rows(path: Path) -> Iterator[list[tuple[str, str, str, bytes]]]:
    rows: list[tuple[str, str, str, bytes]] = []
    # Reader batches of 1,000 measured ~15% faster than 5,000 (fewer live objects for
    # the GC to walk); rows are gathered into transactions of BATCH all the same.
    for batch in read_objects(path, batch=1000):
        for item in batch:
            obj = item.obj  # orjson.loads of item.raw, done by the reader
            if obj is not None:
                # SCOs and marking definitions have no modified; key them by created or "".
                rows.append((obj.get("id", ""), obj.get("modified") or obj.get("created", ""),
                             obj.get("type", ""), item.raw))
        if len(rows) >= BATCH:
            yield rows
            rows = []
    if rows:
        yield rows


def _insert(cx: sqlite3.Connection, rows: list[tuple[str, str, str, bytes]]) -> None:
    cx.execute("BEGIN IMMEDIATE")
    # OR IGNORE: real feeds repeat (id, modified) across files; the floor should not fail.
    cx.executemany("INSERT OR IGNORE INTO objects VALUES (?, ?, ?, ?)", rows)
    cx.execute("COMMIT")


def _peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_raw_reference(path: Path, *, db_dir: Path | None = None) -> dict[str, Any]:
    """Read, parse and insert every object of ``path`` into a fresh SQLite database.

    Returns objects, seconds, objects_per_second, parse_seconds, insert_seconds and
    peak_rss_mb (the process's peak so far).
    """
    with tempfile.TemporaryDirectory(dir=db_dir) as tmp:
        cx = _connect(Path(tmp) / "raw.db")
        n = 0
        insert_s = 0.0
        started = time.perf_counter()
        for rows in _rows(path):
            t = time.perf_counter()
            _insert(cx, rows)
            insert_s += time.perf_counter() - t
            n += len(rows)
        seconds = time.perf_counter() - started
        stored = cx.execute("SELECT count(*) FROM objects").fetchone()[0]
        cx.close()
    return {"file": str(path), "objects": n, "stored": stored, "seconds": seconds,
            "objects_per_second": n / seconds if seconds else 0.0,
            "parse_seconds": seconds - insert_s, "insert_seconds": insert_s,
            "peak_rss_mb": _peak_rss_mb()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--db-dir", type=Path, default=None,
                    help="where to put the scratch database (default: system temp)")
    args = ap.parse_args(argv)
    header = (f"{'file':<42} {'objects':>10} {'seconds':>8} {'objects/s':>10} "
              f"{'read+parse s':>12} {'insert s':>9} {'peak RSS MB':>11}")
    print(header)
    print("-" * len(header))
    for path in args.files:
        r = run_raw_reference(path, db_dir=args.db_dir)
        print(f"{path.name:<42} {r['objects']:>10,} {r['seconds']:>8.2f} "
              f"{r['objects_per_second']:>10,.0f} {r['parse_seconds']:>12.2f} "
              f"{r['insert_seconds']:>9.2f} {r['peak_rss_mb']:>11.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
