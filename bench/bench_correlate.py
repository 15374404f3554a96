"""Correlation benchmark: index build and bulk matching (issue 5). Prints a table.

    python bench/bench_correlate.py --indicators 1000000 --values 1000000 --hits 0.01

1. Generates ``--indicators`` indicators (bench/generate.py, realistic type mix), loads
   them with ``thiqa load --no-index`` and builds the index with ``thiqa index``: build
   time, index size on disk (pages the index added to the database file), peak RSS.
2. Makes ``--values`` observed values, ``--hits`` of them taken from the index, the rest
   fresh values of the same families (IPv4, domains, hashes, URLs), shuffled.
3. Matches them in a child process through the in-process API (``Matcher.match``, one
   core) and over HTTP (``POST /api/match/`` on ``thiqa serve``, in requests of
   ``match_max_values``). The matcher's key filter (keyfilter.py) is made ready first
   and timed on its own: built from the index, or read from ``thiqa.db-keyfilter``
   when an earlier run left it. Then: the admin key; an organisation's reader key
   without keeping values (the handling policy on every candidate); the same key
   keeping every value for retro-hunt (what the API does by default).

``--workdir DIR --reuse`` matches again on the node an earlier run left in ``DIR``
(loaded and indexed), without the load and build rows.

The peer column is a plain Python ``dict`` of the exact normalised values, built in
memory and probed with the same values: the floor of what any exact matcher can do in
Python, without ranges, subdomains, versions or visibility, and without persistence.
Targets: 1M values in < 5 s on one core; index build of 10M < 10 min; peak RSS < 4 GB.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _procs
import _servers
from _stats import Row, fmt_mb, rate, table, verdict
from generate import generate_indicators, write

GB4 = 4 * 2**30


def _pages(db: Path) -> int:
    cx = sqlite3.connect(db)
    try:
        cx.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size: int = cx.execute("PRAGMA page_count").fetchone()[0] * \
            cx.execute("PRAGMA page_size").fetchone()[0]
        return size
    finally:
        cx.close()


def _hits(db: Path, n: int, rng: random.Random) -> list[str]:
    """``n`` exact values from the index, spread over the key space."""
    cx = sqlite3.connect(db)
    out: list[str] = []
    try:
        while len(out) < n:
            k = rng.getrandbits(64) - 2**63
            # Live rows only: most generated valid_until dates are past.
            row = cx.execute("SELECT kind, value FROM observables WHERE key >= ? AND mode = '=' "
                             "AND (valid_until IS NULL OR valid_until > ?) LIMIT 1",
                             (k, time.time_ns() // 1000)).fetchone()
            if row is not None:
                out.append(row[1])
    finally:
        cx.close()
    return out


def _misses(n: int, rng: random.Random) -> list[str]:
    out = []
    for i in range(n):
        r = i % 10
        if r < 4:  # 198.18.0.0/15 (RFC 2544): never in the generated set
            out.append(f"198.{18 + rng.randrange(2)}.{rng.randrange(256)}.{rng.randrange(256)}")
        elif r < 7:
            out.append(f"host{rng.getrandbits(40):x}.example-{rng.randrange(1000)}.net")
        elif r < 9:
            out.append(f"{rng.getrandbits(256):064x}")
        else:
            out.append(f"http://h{rng.getrandbits(32):x}.example.org/p/{rng.getrandbits(32):x}")
    return out


def match_worker(data: Path, values_path: Path) -> None:
    """Child process: match the values in-process and print timings as JSON."""
    from thiqa.correlate.match import MatchStats
    from thiqa.correlate.service import Correlation, audience
    from thiqa.node import Node
    from thiqa.settings import Settings
    from thiqa.store.sqlite import SQLiteStore

    values = values_path.read_text().split("\n")
    store = SQLiteStore(data / "thiqa.db")
    corr = Correlation(Settings(data=str(data)), store)
    # The key filter is built from the index at the first match (a server does it once):
    # timed on its own here.
    tf, cf = time.perf_counter(), time.process_time()
    flt = corr.matcher.keys.current()
    filter_s, filter_cpu = time.perf_counter() - tf, time.process_time() - cf
    stats = MatchStats()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in corr.matcher.match(values, stats=stats):
        pass
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    # The same values as an organisation's reader key submits them: the handling policy
    # on every candidate, and every value kept for retro-hunt (what the API does).
    node = Node(Settings(data=str(data)), store)
    who = node.reader_for(node.operating_org().id)
    reader_stats = MatchStats()
    t4, c4 = time.perf_counter(), time.process_time()
    for _ in corr.matcher.match(values, audience(node, who), stats=reader_stats):
        pass
    reader_wall, reader_cpu = time.perf_counter() - t4, time.process_time() - c4
    org_stats = MatchStats()
    t3, c3 = time.perf_counter(), time.process_time()
    for _ in corr.matcher.match(values, audience(node, who), stats=org_stats,
                                observe=corr.observer(who)):
        pass
    org_wall, org_cpu = time.perf_counter() - t3, time.process_time() - c3
    # The peer: a dict of every exact normalised value, probed with the same values.
    from thiqa.correlate.detect import detect

    t1 = time.perf_counter()
    cx = sqlite3.connect(data / "thiqa.db")
    exact = {v: s for v, s in cx.execute("SELECT value, seq FROM observables WHERE mode = '='")}
    built = time.perf_counter() - t1
    t2 = time.perf_counter()
    found = 0
    for v in values:
        o = detect(v)
        if o is not None and o.value in exact:
            found += 1
    probe = time.perf_counter() - t2
    print(orjson.dumps({"seconds": wall, "cpu": cpu, "matched": stats.matched,
                        "org_seconds": org_wall, "org_cpu": org_cpu,
                        "org_matched": org_stats.matched, "filter_seconds": filter_s,
                        "filter_cpu": filter_cpu, "filter_bytes": flt.nbytes,
                        "filter_loaded": corr.matcher.keys.loaded,
                        "reader_seconds": reader_wall, "reader_cpu": reader_cpu,
                        "reader_matched": reader_stats.matched,
                        "hits": stats.hits, "peer_build": built, "peer_probe": probe,
                        "peer_found": found}).decode())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--indicators", type=int, default=1_000_000)
    ap.add_argument("--values", type=int, default=1_000_000)
    ap.add_argument("--hits", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--reuse", action="store_true",
                    help="with --workdir: keep a node loaded and indexed by an earlier run "
                         "(skips load and index build; their rows are left out)")
    ap.add_argument("--match-worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.match_worker:
        match_worker(*args.match_worker)
        return 0
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-correlate-"))
    work.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    src = work / f"ind-{args.indicators}.json.gz"
    if not src.exists():
        t0 = time.perf_counter()
        with open(src, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                                   compresslevel=1, mtime=0) as gz:
            write(gz, generate_indicators(args.indicators, args.seed), "bundle",
                  "bundle--00000000-0000-4000-8000-000000000001")
        print(f"generated {src} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    data = work / "node"
    key_file = work / "admin-key.txt"
    if args.reuse and key_file.exists() and (data / "thiqa.db").exists():
        key = key_file.read_text().strip()
        cx = sqlite3.connect(data / "thiqa.db")
        with cx:  # as after a fresh build: no values kept by an earlier run's org-key row
            cx.execute("DELETE FROM observations")
        cx.close()
        _match(args, work, data, key, rows)
        return 0
    key = _servers.init_thiqa(data)
    thiqa = _procs.python("-m", "thiqa")
    load = _procs.run([*thiqa, "load", str(src), "--data", str(data), "--quiet", "--no-index",
                       "--json"], timeout=7200)
    assert load.returncode == 0, load.stderr[-2000:]
    rows.append(Row("thiqa load (no index)", args.indicators, f"{load.seconds:,.1f} s", "",
                    "", fmt_mb(load.peak_rss)))
    before = _pages(data / "thiqa.db")
    built = _procs.run([*thiqa, "index", "--data", str(data), "--quiet", "--json"],
                       timeout=7200)
    assert built.returncode == 0, built.stderr[-2000:]
    info = orjson.loads(built.stdout)
    grown = _pages(data / "thiqa.db") - before
    target_s = 600 * args.indicators / 10_000_000
    rows.append(Row("index build", args.indicators,
                    f"{built.seconds:,.1f} s ({rate(args.indicators, built.seconds):,.0f}/s)",
                    "", "", fmt_mb(built.peak_rss),
                    f"< {target_s:,.0f} s (10 min per 10M), < 4 GB",
                    verdict(built.seconds < target_s and built.peak_rss < GB4)))
    rows.append(Row("index size on disk", info["rows"]["observables"], fmt_mb(grown),
                    "", "", "", f"{grown / max(1, args.indicators):,.0f} bytes/indicator"))
    key_file.write_text(key)
    _match(args, work, data, key, rows)
    return 0


def _match(args: argparse.Namespace, work: Path, data: Path, key: str, rows: list[Row]) -> None:
    rng = random.Random(args.seed + 7)
    n_hits = int(args.values * args.hits)
    values = _hits(data / "thiqa.db", n_hits, rng) + _misses(args.values - n_hits, rng)
    rng.shuffle(values)
    values_path = work / "values.txt"
    values_path.write_text("\n".join(values))
    done = _procs.run(_procs.python(__file__, "--match-worker", str(data), str(values_path)),
                      timeout=3600)
    assert done.returncode == 0, done.stderr[-2000:]
    m = orjson.loads(done.stdout)
    how = "read from thiqa.db-keyfilter" if m["filter_loaded"] else "built from the index"
    rows.append(Row(f"key filter, {how} (first match)", args.indicators,
                    f"{m['filter_seconds']:.2f} s (cpu {m['filter_cpu']:.2f} s)", "", "",
                    "", f"{fmt_mb(m['filter_bytes'])} in memory"))
    rows.append(Row(f"match in-process ({m['matched']:,} matched)", args.values,
                    f"{m['seconds']:.2f} s (cpu {m['cpu']:.2f} s)",
                    f"dict: {m['peer_probe']:.2f} s probe + {m['peer_build']:.1f} s build",
                    f"{m['seconds'] / m['peer_probe']:.1f}x", fmt_mb(done.peak_rss),
                    "< 5 s (1M, one core)", verdict(m["seconds"] < 5 * args.values / 1e6)))
    rows.append(Row(f"match in-process, an org's reader key, keep false "
                    f"({m['reader_matched']:,} matched)", args.values,
                    f"{m['reader_seconds']:.2f} s (cpu {m['reader_cpu']:.2f} s)", "", "", "",
                    "policy on every candidate; no values kept"))
    rows.append(Row(f"match in-process, an org's reader key ({m['org_matched']:,} matched)",
                    args.values, f"{m['org_seconds']:.2f} s (cpu {m['org_cpu']:.2f} s)", "",
                    "", "", "policy on every candidate; values kept for retro-hunt"))
    with _servers.thiqa(data, key, work / "serve.log") as server:
        per = 100_000
        t0 = time.perf_counter()
        matched = 0
        with httpx.Client(timeout=600, trust_env=False,
                          headers={"Authorization": f"Bearer {key}"}) as client:
            for i in range(0, len(values), per):
                r = client.post(server.root + "match/", json={"values": values[i : i + per]})
                r.raise_for_status()
                matched += r.json()["matched"]
        http_s = time.perf_counter() - t0
        rss = _procs.peak_rss(server.proc)
    rows.append(Row(f"match over HTTP ({matched:,} matched)", args.values, f"{http_s:.2f} s",
                    "", "", fmt_mb(rss), f"{-(-args.values // per)} requests of up to {per:,}"))
    print(f"\ncorrelation benchmark: {args.indicators:,} indicators, {args.values:,} values, "
          f"{args.hits:.0%} hits, {os.cpu_count()} cores; work dir {work}\n")
    print(table(rows))


if __name__ == "__main__":
    sys.exit(main())
