"""Node-core benchmark: bulk load, TAXII ingest, paginated reads and page latency.

    python bench/bench_core.py                 # 1,000,000 indicators (~8-10 minutes)
    python bench/bench_core.py --quick         # 50,000 indicators (smoke test, < 2 min)
    python bench/bench_core.py --count 200000

Runs everything in one go on this machine and prints one markdown table comparing
thiqa, as real processes (``python -m thiqa load``, ``python -m thiqa serve``), with a
peer measured in the same run: the raw reference (``bench/raw_reference.py``: orjson
parse + SQLite ``executemany`` into an indexed table, the physical floor of this store)
for bulk loads, and medallion 3.0.0 with its memory backend for TAXII over HTTP.
docs/benchmarks.md explains every row. Progress goes to standard error, the table and
its notes to standard output. Everything runs in fresh temporary directories and on
127.0.0.1; every process started is stopped on exit.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import importlib.util
import os
import platform
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

import _procs
import _servers
import _taxii
from _http import (
    Latencies,
    Pair,
    fresh_thiqa,
    latency_runs,
    median_pair,
    post_and_read,
    postgres_post_and_read,
    split,
)
from _loads import RARE_COUNT, RARE_TYPE, Load, bundle_objects, indicator_file, raw_load, thiqa_load
from _stats import Row, fmt_mb, fmt_rate, rate, table, verdict

BENCH = Path(__file__).resolve().parent
DATA = Path(os.environ.get("THIQA_SHARED_DATA", BENCH.parent.parent / "shared" / "data"))
ENTERPRISE = DATA / "attack" / "enterprise-attack-18.1.stix21.json.gz"
ICS = DATA / "attack" / "ics-attack-18.1.stix21.json"

# Targets from the benchmark issue.
LOAD_TARGET = 20_000        # indicators/s, fully validated
PG_FACTOR = 1.5             # PostgreSQL load time at most this multiple of SQLite's
RAW_FACTOR = 2.0            # load time at most this multiple of the raw reference's
INGEST_TARGET = 10_000      # objects/s over HTTP on ATT&CK enterprise
READ_TARGET = 50_000        # objects/s, full paginated read
P99_TARGET_MS = 20.0        # one page of 100 with match[type] at 1M objects
FLAT_FACTOR = 1.25          # peak memory loading N may exceed that loading N/10 by this

REPEATS = 3                 # short operations: median of this many runs
LATENCY_POSITIONS = 200     # requests at a random added_after, per latency run
LATENCY_STARTS = 50         # first-page requests, per latency run

T = TypeVar("T")


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def timed(what: str, fn: Callable[[], T]) -> T:
    t0 = time.perf_counter()
    out = fn()
    say(f"{what}: {time.perf_counter() - t0:.1f} s")
    return out


def load_row(op: str, mine: Load, raw: Load, target: str, ok: bool) -> Row:
    return Row(op, mine.objects, fmt_rate(mine.rate), f"raw {fmt_rate(raw.rate)}",
               f"{mine.seconds / raw.seconds:.2f}× raw time",
               f"{fmt_mb(mine.peak_rss)} (raw {fmt_mb(raw.peak_rss)})", target, verdict(ok))


def pair_row(op: str, objects: int, pair: Pair, rss: bool, target: float | None) -> Row:
    pg = "" if pair.postgres is None else fmt_rate(pair.postgres)
    met = "" if target is None else verdict(pair.thiqa >= target)
    if target is not None and pair.postgres is not None:
        met += f"; PostgreSQL {verdict(pair.postgres >= target)}"
    return Row(op, objects, fmt_rate(pair.thiqa), pair.peer(), pair.ratio(),
               pair.rss() if rss else "", "" if target is None else f"≥ {target:,.0f}/s",
               met, pg)


def _latency(lat: Latencies) -> str:
    return f"p50 {lat.p50:.1f} ms / p99 {lat.p99:.1f} ms"


def latency_row(op: str, lat: Latencies, pg: Latencies | None = None) -> Row:
    met = verdict(lat.p99 < P99_TARGET_MS)
    if pg is not None:
        met += f"; PostgreSQL {verdict(pg.p99 < P99_TARGET_MS)}"
    return Row(op, None, _latency(lat), "n/a (see notes)", "", "",
               f"p99 < {P99_TARGET_MS:g} ms", met, "" if pg is None else _latency(pg))


# -- the three parts ------------------------------------------------------------------
def bench_loads(work: Path, files: dict[str, tuple[Path, int]], big_node: Path,
                rows: list[Row]) -> dict[str, tuple[Load, Load]]:
    """``thiqa load`` and the raw reference on the same files: "big" (into ``big_node``,
    which is served afterwards), "small" (memory flatness) and "attack"."""
    loads: dict[str, tuple[Load, Load]] = {}
    for label, (path, expected) in files.items():
        node = big_node if label == "big" else fresh_thiqa(work, f"node-{label}")[0]
        say(f"thiqa load {path.name}")
        mine = thiqa_load(node, path)
        say(f"  {mine.describe()}; now the raw reference")
        raw = raw_load(path, expected)
        say(f"  raw: {raw.describe()}")
        loads[label] = (mine, raw)
    for label in ("big", "small"):
        mine, raw = loads[label]
        ok = mine.rate >= LOAD_TARGET and mine.seconds <= RAW_FACTOR * raw.seconds
        rows.append(load_row(f"bulk load, {mine.objects:,} generated indicators", mine, raw,
                             f"≥ {LOAD_TARGET:,}/s, ≤ {RAW_FACTOR:g}× raw", ok))
    (big, raw_big), (small, raw_small) = loads["big"], loads["small"]
    flat, heap_flat = big.peak_rss / small.peak_rss, big.peak_heap / small.peak_heap
    rows.append(Row(f"memory while loading: {big.objects:,} vs {small.objects:,}", None,
                    f"RSS {fmt_mb(big.peak_rss)} vs {fmt_mb(small.peak_rss)}; heap "
                    f"{fmt_mb(big.peak_heap)} vs {fmt_mb(small.peak_heap)}",
                    f"raw RSS {fmt_mb(raw_big.peak_rss)} vs {fmt_mb(raw_small.peak_rss)}",
                    f"RSS {flat:.2f}×, heap {heap_flat:.2f}×", "", f"flat: ≤ {FLAT_FACTOR:g}×",
                    f"RSS {verdict(flat <= FLAT_FACTOR)}, heap "
                    f"{verdict(heap_flat <= FLAT_FACTOR)}"))
    mine, raw = loads["attack"]
    rows.append(load_row("bulk load, ATT&CK enterprise", mine, raw, f"≤ {RAW_FACTOR:g}× raw",
                         mine.seconds <= RAW_FACTOR * raw.seconds))
    return loads


@contextmanager
def pg_schema(url: str, name: str = "") -> Iterator[str]:
    """A fresh schema of the PostgreSQL database at ``url`` (dropped afterwards): the URL
    of a node of its own."""
    import psycopg

    schema = f"thiqa_bench_{os.getpid()}{name}"
    with psycopg.connect(url, autocommit=True) as cx:
        cx.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        cx.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as cx:
            cx.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def bench_pg_load(work: Path, db: str, path: Path, sqlite: Load, rows: list[Row]
                  ) -> tuple[Load, Path, str]:
    """``thiqa load`` of the big file into a PostgreSQL node (``db``: an empty schema),
    beside SQLite's figure; (the load, the node's data directory, its admin key)."""
    data = work / "node-pg"
    key = _servers.init_thiqa(data, db)
    say(f"thiqa load {path.name} into PostgreSQL")
    mine = thiqa_load(data, path, db)
    say(f"  {mine.describe()}")
    rows[0].postgres = fmt_rate(mine.rate)  # beside SQLite's in the big load's row
    ratio = mine.seconds / sqlite.seconds
    rows.append(Row(f"bulk load, {mine.objects:,} generated indicators, PostgreSQL",
                    mine.objects, "", f"SQLite {fmt_rate(sqlite.rate)}",
                    f"{ratio:.2f}× SQLite time", fmt_mb(mine.peak_rss),
                    f"≥ {LOAD_TARGET:,}/s, ≤ {PG_FACTOR:g}× SQLite",
                    verdict(mine.rate >= LOAD_TARGET and ratio <= PG_FACTOR),
                    fmt_rate(mine.rate)))
    return mine, data, key


def bench_http(work: Path, attack: list[dict[str, Any]], ics: list[dict[str, Any]], *,
               quick: bool, read_budget: float, rows: list[Row], splits: list[str],
               postgres: str | None = None) -> None:
    """POST then full read on fresh servers: ATT&CK enterprise once, ICS REPEATS times;
    with ``postgres`` (a database URL), each also on a fresh node on PostgreSQL."""
    def on_pg(name: str, objects: list[dict[str, Any]], pair: tuple[Pair, Pair]) -> None:
        if postgres is None:
            return
        say(f"HTTP: {name} on PostgreSQL")
        with pg_schema(postgres, "_http") as db:
            pair[0].postgres, pair[1].postgres = postgres_post_and_read(work, name,
                                                                        objects, db)

    say("HTTP: ATT&CK enterprise")
    a_ingest, a_read = post_and_read(work, "attack", attack, medallion=not quick,
                                     read_budget=read_budget, splits=splits)
    on_pg("attack", attack, (a_ingest, a_read))
    runs = []
    for run in range(REPEATS):
        say(f"HTTP: ICS, run {run + 1} of {REPEATS}")
        runs.append(post_and_read(work, f"ics-{run + 1}", ics, medallion=True,
                                  read_budget=read_budget,
                                  splits=splits if run == 0 else None))
        on_pg(f"ics-{run + 1}", ics, runs[-1])
    i_ingest = median_pair([ingest for ingest, _ in runs])
    i_read = median_pair([read for _, read in runs])
    rows.append(pair_row(f"TAXII POST ingest, ATT&CK enterprise (envelopes of "
                         f"{_taxii.ENVELOPE:,})", len(attack), a_ingest, True, INGEST_TARGET))
    rows.append(pair_row(f"TAXII POST ingest, ATT&CK ICS (median of {REPEATS})", len(ics),
                         i_ingest, True, None))
    rows.append(pair_row("TAXII GET full read, ATT&CK enterprise (limit 1,000)", len(attack),
                         a_read, True, READ_TARGET))
    rows.append(pair_row(f"TAXII GET full read, ATT&CK ICS (limit 1,000, median of "
                         f"{REPEATS})", len(ics), i_read, True, READ_TARGET))


BigReads = tuple[float, int, list[Latencies]]  # full read objects/s, peak RSS, latencies


def _serve_big(work: Path, node: Path, key: str, n_objects: int, seed: int,
               splits: list[str], db: str = "") -> BigReads:
    """Serve the node the big load filled (on ``db`` if given): full read, then page
    latency of the common and the rare type."""
    store = "PostgreSQL" if db else "SQLite"
    # The load ran with --no-index; bring the observable index up to date first, as a
    # default load would have, so that serve's background indexer is idle while the
    # reads are timed (its cost is bench/bench_correlate.py's to measure).
    say(f"thiqa index (before serving, {store})")
    done = _procs.run(_procs.python("-m", "thiqa", "index", "--data", str(node), "--db", db,
                                    "--quiet"), timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"thiqa index failed: {done.stderr.decode(errors='replace')[-2000:]}")
    say(f"HTTP: serving the {n_objects:,}-object node ({store})")
    with _servers.thiqa(node, key, work / f"thiqa-big-{store}.log", db) as srv:
        got = timed("full read", lambda: _taxii.read_all(srv, "default"))
        if got.objects != n_objects or not (got.first_added and got.last_added):
            raise RuntimeError(f"read {got.objects} of {n_objects} objects")
        splits.append(split(f"{n_objects:,}-object full read, thiqa on {store}", got.seconds,
                            got.server_cpu, got.client_cpu))
        lats = []
        for object_type in ("indicator", RARE_TYPE):
            lat = timed(f"page latency, {object_type}", lambda t=object_type: latency_runs(
                srv, t, got.first_added or "", got.last_added or "", runs=REPEATS,
                positions=LATENCY_POSITIONS, starts=LATENCY_STARTS, seed=seed))
            say(f"  p50 {lat.p50:.2f} ms, p99 {lat.p99:.2f} ms (p99 per run: "
                f"{', '.join(f'{p:.2f}' for p in lat.p99_runs)}); {lat.returned:,} objects "
                f"in {lat.requests} requests")
            lats.append(lat)
        return rate(got.objects, got.seconds), _procs.peak_rss(srv.proc), lats


def bench_big_node(work: Path, node: Path, key: str, n_objects: int, seed: int,
                   rows: list[Row], splits: list[str],
                   pg_node: tuple[Path, str, str] | None = None) -> None:
    """The big node's reads (and those of its PostgreSQL twin, ``pg_node``: data
    directory, key, database URL) as rows."""
    got_rate, rss, lats = _serve_big(work, node, key, n_objects, seed, splits)
    pg: BigReads | None = None
    if pg_node is not None:
        pg = _serve_big(work, pg_node[0], pg_node[1], n_objects, seed, splits, pg_node[2])
    met = verdict(got_rate >= READ_TARGET)
    if pg is not None:
        met += f"; PostgreSQL {verdict(pg[0] >= READ_TARGET)}"
    rows.append(Row(f"TAXII GET full read, {n_objects:,} objects (limit 1,000)", n_objects,
                    fmt_rate(got_rate), "n/a (see notes)", "", fmt_mb(rss),
                    f"≥ {READ_TARGET:,}/s", met, "" if pg is None else fmt_rate(pg[0])))
    for i, (object_type, how_many) in enumerate((("indicator", n_objects - RARE_COUNT),
                                                 (RARE_TYPE, RARE_COUNT))):
        rows.append(latency_row(f"page of 100, `match[type]={object_type}` ({how_many:,} "
                                f"of them), {n_objects:,}-object collection", lats[i],
                                None if pg is None else pg[2][i]))


# -- the run --------------------------------------------------------------------------
def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    mem = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), 0)
    return (f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores ({cpu}), "
            f"{mem / 2**20:.0f} GiB RAM; Linux {platform.release()}; Python "
            f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}; thiqa "
            f"{version('thiqa')}, medallion {version('medallion')}, orjson {version('orjson')}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=None,
                    help="generated indicators (default 1,000,000; 50,000 with --quick)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: 50,000 indicators; medallion only on ICS")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--postgres", metavar="URL", default=None,
                    help="also run the loads, HTTP rows and big-node reads on thiqa with "
                         "the PostgreSQL store, in fresh schemas of this database (e.g. "
                         "postgresql://127.0.0.1/test): a PostgreSQL column beside SQLite's")
    ap.add_argument("--loads-only", action="store_true",
                    help="bulk loads only (no HTTP, no reads of the big node)")
    ap.add_argument("--medallion-read-budget", type=float, default=120.0,
                    help="seconds medallion may take to answer one page of a full read")
    args = ap.parse_args(argv)
    count = args.count or (50_000 if args.quick else 1_000_000)
    small = max(count // 10, 1000)
    for needed in (ENTERPRISE, ICS):
        if not needed.exists():
            ap.error(f"missing data file {needed} (set THIQA_SHARED_DATA)")
    for package in ("medallion", "psutil", "httpx"):
        if importlib.util.find_spec(package) is None:
            ap.error(f"{package} is not installed: pip install -e '.[test,bench]'")
    # SIGTERM leaves through the finally blocks and atexit too, stopping every server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    rows: list[Row] = []
    splits: list[str] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="thiqa-bench-") as tmp:
        work = Path(tmp)
        big_file, small_file = work / f"indicators-{count}.json", work / f"indicators-{small}.json"
        n_big = timed(f"generate {count:,} indicators",
                      lambda: indicator_file(big_file, count, args.seed))
        n_small = timed(f"generate {small:,} indicators",
                        lambda: indicator_file(small_file, small, args.seed + 1))
        attack_file = work / "enterprise-attack.json"
        attack_file.write_bytes(gzip.decompress(ENTERPRISE.read_bytes()))
        attack, ics = bundle_objects(attack_file), bundle_objects(ICS)

        big_node, big_key = fresh_thiqa(work, "node-big")
        loads = bench_loads(work, {"big": (big_file, n_big), "small": (small_file, n_small),
                                   "attack": (attack_file, len(attack))}, big_node, rows)
        with contextlib.ExitStack() as stack:
            pg_node = None
            if args.postgres:
                db = stack.enter_context(pg_schema(args.postgres))
                pg, pg_data, pg_key = bench_pg_load(work, db, big_file, loads["big"][0], rows)
                loads["big, PostgreSQL"] = (pg, loads["big"][1])
                pg_node = (pg_data, pg_key, db)
            if not args.loads_only:
                bench_http(work, attack, ics, quick=args.quick,
                           read_budget=args.medallion_read_budget, rows=rows, splits=splits,
                           postgres=args.postgres)
                bench_big_node(work, big_node, big_key, n_big, args.seed, rows, splits,
                               pg_node)
    minutes = (time.perf_counter() - started) / 60

    print(f"thiqa node-core benchmark — {machine()}; seed {args.seed}; "
          f"{'--quick; ' if args.quick else ''}run took {minutes:.1f} min\n")
    print(table(rows))
    print("\nWhere the load time went (wall = CPU + waiting, mostly for fsync):")
    for label, (mine, raw) in loads.items():
        print(f"- {label}: thiqa {mine.describe()}; raw {raw.describe()}")
    print("\nWhere the HTTP time went (client and servers share the machine's cores):")
    for line in splits:
        print(f"- {line}")
    print(NOTES.format(envelope=_taxii.ENVELOPE, repeats=REPEATS, positions=LATENCY_POSITIONS,
                       starts=LATENCY_STARTS, rare=RARE_COUNT, rare_type=RARE_TYPE,
                       small=n_small, flat=FLAT_FACTOR, budget=args.medallion_read_budget))
    return 0


NOTES = """
Notes:
- thiqa runs as real processes: `python -m thiqa load --quiet --no-index --json FILE`
  (the observable index, built after a load by default, is measured by
  bench/bench_correlate.py) (one process
  per load, plus the reader process it starts for inputs of 16 MiB or more; wall time
  includes interpreter start-up; CPU and memory count both processes) and `python -m
  thiqa serve --log-level warning`. Peak RSS is the high-water mark (Linux VmHWM) of
  each process, summed, polled every 10 ms for loads, read after the operation for
  servers. "heap" is the largest RssAnon sampled; the rest of RSS is mapped files
  (for a server, SQLite's mmap of the database on its read connections: page cache the
  kernel can reclaim).
- Bulk loads: one run each. "raw" is bench/raw_reference.py in its own process on the
  same uncompressed file; ratio = thiqa's wall time / raw's. Memory flatness compares
  the big load with the {small:,}-object one (≤ {flat:g}×).
- HTTP: both servers on 127.0.0.1, client httpx (sync, one keep-alive connection).
  POSTs carry envelopes of {envelope:,} objects on both servers, one after another,
  bodies serialised before the clock starts; rate = objects / time from the first POST
  sent to the last 202 received. ATT&CK enterprise: one run; ATT&CK ICS: median of
  {repeats} runs, each on fresh servers. medallion 3.0.0, memory backend, max_page_size
  1000, max_content_length 200 MiB (as on thiqa).
- Full reads: `limit=1000`, following `next` until `more` is false; every page parsed
  and counted. medallion's first page of a read filters and sorts the whole collection
  in nested Python loops, so each of its requests gets a {budget:.0f} s budget.
- The generated collection is not posted to medallion: its memory backend scans every
  stored object for a duplicate on each add (quadratic: the 24,772 ATT&CK objects
  already take it about a minute), so 1M objects would take many hours.
- Page latency: {repeats} runs of {positions} requests at a random `added_after`
  (uniform between the first and last date_added) plus {starts} first-page requests,
  shuffled, after 10 untimed ones; each time is request sent → whole body received on
  a keep-alive connection. p50/p99: median over the runs of each run's nearest-rank
  percentile. The rare type: {rare} `{rare_type}` objects spread evenly through the
  indicator file.
"""


if __name__ == "__main__":
    sys.exit(main())
