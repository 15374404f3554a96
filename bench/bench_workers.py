"""Worker scale-out benchmark: paginated TAXII reads by concurrent clients against
``thiqa serve --workers N`` on one PostgreSQL database, for N = 1, 2 and 4.

    python bench/bench_workers.py --postgres postgresql://127.0.0.1/test
    python bench/bench_workers.py --postgres URL --objects 20000 --clients 4 --seconds 5

One node (a fresh schema of the database, dropped afterwards) is filled once with
generated indicators (``thiqa load --no-index``). Then, in each round, a server with
each worker count in turn is started, warmed up and read for ``--seconds`` by
``--clients`` client processes, each following ``next`` through the whole collection
with ``limit=--limit`` and starting again at the end, on a keep-alive connection it
opens anew every ``RECONNECT`` requests (so the kernel spreads connections over the
workers). The table shows the median over ``--rounds`` rounds of pages/s and objects/s,
and the ratio of each worker count to one worker measured in the same rounds.
docs/benchmarks.md explains it; figures are in docs/postgresql.md.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

import _procs
import _servers
from _loads import indicator_file, thiqa_load
from _stats import median
from bench_core import machine, pg_schema, say

RECONNECT = 20           # requests per connection
TARGET_2_VS_1 = 1.6      # the bar for 2 workers against 1 on a 2-core machine
ACCEPT = "application/taxii+json;version=2.1"


def _client(port: int, key: str, collection: str, limit: int, seconds: float,
            start: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """One client process: read pages until ``start + seconds``; report counts."""
    headers = {"Authorization": f"Bearer {key}", "Accept": ACCEPT}
    base = f"/api/collections/{collection}/objects/?limit={limit}"
    pages = objects = 0
    workers: Counter[str] = Counter()
    cx: http.client.HTTPConnection | None = None
    sent = 0
    token: str | None = None
    t0 = time.process_time()
    while time.time() < start:
        time.sleep(0.001)
    while time.time() < start + seconds:
        if cx is None or sent >= RECONNECT:
            if cx is not None:
                cx.close()
            cx, sent = http.client.HTTPConnection("127.0.0.1", port, timeout=60), 0
        cx.request("GET", base + (f"&next={quote(token)}" if token else ""), headers=headers)
        r = cx.getresponse()
        body = r.read()
        sent += 1
        if r.status != 200:
            raise RuntimeError(f"HTTP {r.status}: {body[:300]!r}")
        page = orjson.loads(body)
        pages += 1
        objects += len(page.get("objects", ()))
        workers[r.getheader("X-Thiqa-Worker") or "-"] += 1
        token = page.get("next") if page.get("more") else None
    if cx is not None:
        cx.close()
    out.put((pages, objects, time.process_time() - t0, dict(workers)))


def _cpu(procs: Iterable[Any]) -> float:
    """CPU seconds (user + system) used so far by these psutil processes; one that has
    gone meanwhile counts for nothing."""
    import psutil

    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def server_cpu(pid: int) -> float:
    """CPU seconds used so far by the server process and its workers."""
    import psutil

    root = psutil.Process(pid)
    return _cpu([root, *root.children(recursive=True)])


def postgres_cpu() -> float:
    """CPU seconds used so far by every PostgreSQL server process on the machine (this
    node's backends, and whatever else uses that server meanwhile)."""
    import psutil

    return _cpu(p for p in psutil.process_iter(["name"])
                if p.info["name"] in ("postgres", "postmaster"))


Run = tuple[float, float, float, Counter[str], float, float]


def measure(pid: int, port: int, key: str, collection: str, *, clients: int, limit: int,
            seconds: float) -> Run:
    """(pages/s, objects/s, client CPU seconds, requests per worker, server CPU in cores)
    of one run."""
    ctx = mp.get_context("fork")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    start = time.time() + 0.5
    procs = [ctx.Process(target=_client, args=(port, key, collection, limit, seconds,
                                               start, out)) for _ in range(clients)]
    for p in procs:
        p.start()
    time.sleep(max(0.0, start - time.time()))
    cpu0, pg0 = server_cpu(pid), postgres_cpu()
    results = [out.get(timeout=seconds + 120) for _ in procs]
    cores = (server_cpu(pid) - cpu0) / seconds
    pg_cores = (postgres_cpu() - pg0) / seconds
    for p in procs:
        p.join(timeout=30)
    spread: Counter[str] = Counter()
    for _, _, _, w in results:
        spread.update(w)
    return (sum(r[0] for r in results) / seconds, sum(r[1] for r in results) / seconds,
            sum(r[2] for r in results), spread, cores, pg_cores)


def serve(data: Path, db: str, workers: int, log: Path
          ) -> tuple[subprocess.Popen[bytes], int]:
    port = _procs.free_port()
    argv = _procs.python("-m", "thiqa", "serve", "--data", str(data), "--db", db,
                         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                         "--workers", str(workers), "--page-size", "1000",
                         "--shutdown-grace", "1")
    return _procs.start(argv, port=port, log=log, timeout=90), port


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--postgres", metavar="URL", required=True,
                    help="PostgreSQL database for the node (a fresh schema of it)")
    ap.add_argument("--objects", type=int, default=20_000, help="indicators in the node")
    ap.add_argument("--clients", type=int, default=4, help="concurrent client processes")
    ap.add_argument("--limit", type=int, default=100, help="objects per page")
    ap.add_argument("--seconds", type=float, default=5.0, help="measured time per run")
    ap.add_argument("--rounds", type=int, default=3, help="runs per worker count")
    ap.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    args = ap.parse_args(argv)
    counts = [int(w) for w in args.workers.split(",")]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    load_before = os.getloadavg()
    runs: dict[int, list[Run]] = {w: [] for w in counts}
    with tempfile.TemporaryDirectory(prefix="thiqa-bench-workers-") as tmp, \
            pg_schema(args.postgres) as db:
        work = Path(tmp)
        data = work / "node"
        key = _servers.init_thiqa(data, db)
        path = work / "indicators.json"
        n = indicator_file(path, args.objects, 1)
        say(f"thiqa load {n:,} objects into PostgreSQL")
        thiqa_load(data, path, db)
        collection = orjson.loads(_procs.run(_procs.python(
            "-m", "thiqa", "collection", "list", "--data", str(data), "--db", db, "--json"),
            timeout=60).stdout)[0]["id"]
        for rnd in range(args.rounds):
            for w in counts:
                proc, port = serve(data, db, w, work / f"serve-{w}-{rnd}.log")
                try:
                    measure(proc.pid, port, key, collection, clients=args.clients,
                            limit=args.limit, seconds=1.0)  # warm-up: all connected
                    got = measure(proc.pid, port, key, collection, clients=args.clients,
                                  limit=args.limit, seconds=args.seconds)
                finally:
                    _procs.stop(proc)
                runs[w].append(got)
                say(f"round {rnd + 1}, {w} worker(s): {got[0]:,.0f} pages/s, "
                    f"{got[1]:,.0f} objects/s; thiqa CPU {got[4]:.2f} cores, PostgreSQL "
                    f"{got[5]:.2f}; requests "
                    f"per worker {sorted(got[3].values())}")
    load_after = os.getloadavg()
    base_pages = [r[0] for r in runs[counts[0]]]
    print(f"\nMachine: {machine()}")
    print(f"Load average (1, 5, 15 min) before {load_before[0]:.1f} {load_before[1]:.1f} "
          f"{load_before[2]:.1f}, after {load_after[0]:.1f} {load_after[1]:.1f} "
          f"{load_after[2]:.1f}")
    print(f"{n:,} objects on PostgreSQL; {args.clients} client processes, limit "
          f"{args.limit}, {args.seconds:g} s per run, median of {args.rounds} rounds\n")
    print(f"| workers | pages/s | objects/s | vs {counts[0]} worker(s) (same rounds) | "
          "per-round pages/s | thiqa CPU (cores) | pages per thiqa CPU s | PostgreSQL CPU "
          "(cores) | client CPU s | target |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for w in counts:
        pages = [r[0] for r in runs[w]]
        ratios = [p / b for p, b in zip(pages, base_pages, strict=True)]
        ratio = median(ratios)
        target = verdict = ""
        if w == 2 and counts[0] == 1:
            target = f"≥ {TARGET_2_VS_1:g}×"
            verdict = " (met)" if ratio >= TARGET_2_VS_1 else " (**not met**)"
        print(f"| {w} | {median(pages):,.0f} | {median([r[1] for r in runs[w]]):,.0f} | "
              f"{ratio:.2f}× | {', '.join(f'{p:,.0f}' for p in pages)} | "
              f"{median([r[4] for r in runs[w]]):.2f} | "
              f"{median([r[0] / r[4] for r in runs[w] if r[4]]):,.0f} | "
              f"{median([r[5] for r in runs[w]]):.2f} | "
              f"{median([r[2] for r in runs[w]]):.1f} | {target}{verdict} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
