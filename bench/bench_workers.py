"""Worker scale-out benchmark: paginated TAXII reads by concurrent clients against
``thiqa serve --workers N`` on one PostgreSQL database, for N = 1, 2 and 4.

    python bench/bench_workers.py --postgres postgresql://127.0.0.1/test
    python bench/bench_workers.py --postgres URL --objects 20000 --clients 4 --seconds 5
    python bench/bench_workers.py --postgres URL --client python   # without wrk

One node (a fresh schema of the database, dropped afterwards) is filled once with
generated indicators (``thiqa load --no-index``). Then, in each round, a server with
each worker count in turn is started, warmed up and read for ``--seconds`` by
``--clients`` clients, each following ``next`` through the whole collection with
``limit=--limit`` and starting again at the end, on a keep-alive connection it opens
anew every ``RECONNECT`` requests (so the kernel spreads connections over the workers).

The clients are ``wrk`` threads running bench/wrk_pages.lua (one connection each) when
wrk is installed, else Python processes (``--client`` chooses): a Python client parses
every page and costs about as much CPU per page as PostgreSQL does, on the same cores as
the server. Both check that every response is 200 and count the objects.

The table shows the median over ``--rounds`` rounds of pages/s and objects/s, the ratio
of each worker count to one worker measured in the same rounds, and the CPU per page of
thiqa (all its processes), of PostgreSQL (every server process on the machine, and in
brackets only this node's backends: other users of a shared server are left out) and of
the clients. docs/benchmarks.md explains it; figures are in docs/postgresql.md.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
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
WRK = shutil.which("wrk") or "wrk"
WRK_SCRIPT = Path(__file__).with_name("wrk_pages.lua")


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


def _tree(pid: int) -> list[Any]:
    import psutil

    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def server_cpu(pid: int) -> float:
    """CPU seconds used so far by the server process and its workers."""
    return _cpu(_tree(pid))


def _postgres() -> list[Any]:
    import psutil

    return [p for p in psutil.process_iter(["name", "cmdline"])
            if p.info["name"] in ("postgres", "postmaster")]


def postgres_cpu() -> float:
    """CPU seconds used so far by every PostgreSQL server process on the machine (this
    node's backends, and whatever else uses that server meanwhile)."""
    return _cpu(_postgres())


def node_backends(pid: int) -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL backend serving the server ``pid`` (or
    its workers), by backend pid: a backend's title names its client's address and port
    ("postgres: 15/main: user db 127.0.0.1(54321) idle"), matched against the TCP
    connections the server's processes hold. Other users of the same PostgreSQL server
    (other benchmarks on a shared machine) are left out, and so are its background
    processes (WAL writer, checkpointer)."""
    import psutil

    ports: set[int] = set()
    for p in _tree(pid):
        try:
            ports.update(c.laddr.port for c in p.net_connections(kind="tcp")
                         if c.raddr and c.raddr.port == PG_PORT)
        except psutil.Error:
            continue
    found: dict[int, float] = {}
    for p in _postgres():
        title = " ".join(p.info["cmdline"] or ())
        if any(f"({port})" in title for port in ports):
            found[p.pid] = _cpu([p])
    return found


PG_PORT = 5432


@dataclass
class Run:
    """One measured run of one client kind against one server."""

    pages: int
    objects: int
    seconds: float
    client_cpu: float                       # CPU seconds of the client processes
    spread: Counter[str]                    # pages per worker (X-Thiqa-Worker)
    server_cpu: float                       # CPU seconds of thiqa (all its processes)
    pg_cpu: float                           # of every PostgreSQL process on the machine
    pg_node_cpu: float                      # of this node's backends only

    @property
    def rate(self) -> float:
        return self.pages / self.seconds

    def per_page(self, cpu: float) -> float:
        """``cpu`` seconds as milliseconds per page."""
        return 1000 * cpu / self.pages if self.pages else 0.0


def _python_clients(port: int, key: str, collection: str, *, clients: int, limit: int,
                    seconds: float) -> tuple[int, int, float, float, Counter[str]]:
    """(pages, objects, seconds, client CPU seconds, pages per worker) of ``clients``
    Python client processes."""
    ctx = mp.get_context("fork")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    start = time.time() + 0.5
    procs = [ctx.Process(target=_client, args=(port, key, collection, limit, seconds,
                                               start, out)) for _ in range(clients)]
    for p in procs:
        p.start()
    time.sleep(max(0.0, start - time.time()))
    results = [out.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    spread: Counter[str] = Counter()
    for _, _, _, w in results:
        spread.update(w)
    return (sum(r[0] for r in results), sum(r[1] for r in results), seconds,
            sum(r[2] for r in results), spread)


_WRK_LINE = re.compile(r"^thiqa-wrk (.*)$", re.M)


def _wrk(port: int, key: str, collection: str, *, clients: int, limit: int,
         seconds: float) -> tuple[int, int, float, float, Counter[str]]:
    """The same with ``wrk`` and bench/wrk_pages.lua: ``clients`` threads of one
    connection each (a thread's ``next`` token is its connection's). Any response but
    200 fails the run."""
    argv = [WRK, "-t", str(clients), "-c", str(clients), "-d", f"{seconds:g}s",
            "--timeout", "60s", "-s", str(WRK_SCRIPT), f"http://127.0.0.1:{port}", "--",
            collection, key, str(limit), str(RECONNECT)]
    done = _procs.run(argv, timeout=seconds + 120)
    text = done.stdout.decode(errors="replace")
    found = _WRK_LINE.search(text)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {text[-500:]} "
                           f"{done.stderr.decode(errors='replace')[-500:]}")
    fields = dict(f.split("=", 1) for f in found.group(1).split(" ", 6))
    if int(fields["bad"]):
        raise RuntimeError(f"wrk: {fields['bad']} responses were not 200, the first: "
                           f"{fields['first_bad']}")
    pages = int(fields["pages"])
    if pages and int(fields["starts"]) * 2 > pages + clients:
        raise RuntimeError(f"wrk: {fields['starts']} of {pages} pages were first pages: "
                           "the threads did not follow next")
    spread: Counter[str] = Counter()
    for item in filter(None, fields["workers"].split(",")):
        worker, _, n = item.rpartition(":")
        spread[worker] += int(n)
    return (pages, int(fields["objects"]), int(fields["duration_us"]) / 1e6,
            done.cpu_seconds, spread)


def check_wrk_count(port: int, key: str, collection: str, limit: int) -> None:
    """wrk_pages.lua counts a page's objects as occurrences of ``"id":"``: check that on a
    page against a JSON parser's count, so that the objects/s it reports are honest."""
    cx = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        cx.request("GET", f"/api/collections/{collection}/objects/?limit={limit}",
                   headers={"Authorization": f"Bearer {key}", "Accept": ACCEPT})
        body = cx.getresponse().read()
    finally:
        cx.close()
    parsed, counted = len(orjson.loads(body).get("objects", ())), body.count(b'"id":"')
    if parsed != counted:
        raise RuntimeError(f"wrk_pages.lua would count {counted} objects on a page of "
                           f"{parsed}: its count does not hold for these objects")


def measure(pid: int, port: int, key: str, collection: str, *, client: str, clients: int,
            limit: int, seconds: float) -> Run:
    """One run of ``clients`` clients of kind ``client`` ("wrk" or "python"), with the CPU
    that the server, PostgreSQL and the clients used meanwhile."""
    drive = _wrk if client == "wrk" else _python_clients
    cpu0, pg0, mine0 = server_cpu(pid), postgres_cpu(), node_backends(pid)
    pages, objects, secs, client_cpu, spread = drive(port, key, collection, clients=clients,
                                                     limit=limit, seconds=seconds)
    cpu1, pg1, mine1 = server_cpu(pid), postgres_cpu(), node_backends(pid)
    # A backend opened during the run counts from zero; one closed during it is lost
    # (the read pool keeps 8 idle connections, so with a few clients none closes).
    mine = sum(t - mine0.get(b, 0.0) for b, t in mine1.items())
    return Run(pages, objects, secs, client_cpu, spread, cpu1 - cpu0, pg1 - pg0, mine)


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
    ap.add_argument("--clients", type=int, default=4,
                    help="concurrent clients (Python processes, or wrk threads)")
    ap.add_argument("--client", choices=("auto", "wrk", "python"), default="auto",
                    help="what drives the load: wrk with bench/wrk_pages.lua, or Python "
                         "client processes (auto: wrk when installed)")
    ap.add_argument("--limit", type=int, default=100, help="objects per page")
    ap.add_argument("--seconds", type=float, default=5.0, help="measured time per run")
    ap.add_argument("--rounds", type=int, default=3, help="runs per worker count")
    ap.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    args = ap.parse_args(argv)
    counts = [int(w) for w in args.workers.split(",")]
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    elif client == "wrk" and not shutil.which("wrk"):
        ap.error("wrk is not installed (Debian: apt-get install wrk)")
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
        say(f"clients: {args.clients} × {client}")
        for rnd in range(args.rounds):
            for w in counts:
                proc, port = serve(data, db, w, work / f"serve-{w}-{rnd}.log")
                try:
                    if client == "wrk" and rnd == 0 and w == counts[0]:
                        check_wrk_count(port, key, collection, args.limit)
                    measure(proc.pid, port, key, collection, client=client,
                            clients=args.clients, limit=args.limit,
                            seconds=1.0)  # warm-up: all connected
                    got = measure(proc.pid, port, key, collection, client=client,
                                  clients=args.clients, limit=args.limit,
                                  seconds=args.seconds)
                finally:
                    _procs.stop(proc)
                runs[w].append(got)
                say(f"round {rnd + 1}, {w} worker(s): {got.rate:,.0f} pages/s; per page "
                    f"thiqa {got.per_page(got.server_cpu):.2f} ms CPU, PostgreSQL "
                    f"{got.per_page(got.pg_cpu):.2f} (this node's backends "
                    f"{got.per_page(got.pg_node_cpu):.2f}), clients "
                    f"{got.per_page(got.client_cpu):.2f}; pages per worker "
                    f"{sorted(got.spread.values())}")
    load_after = os.getloadavg()
    base = [r.rate for r in runs[counts[0]]]
    print(f"\nMachine: {machine()}")
    print(f"Load average (1, 5, 15 min) before {load_before[0]:.1f} {load_before[1]:.1f} "
          f"{load_before[2]:.1f}, after {load_after[0]:.1f} {load_after[1]:.1f} "
          f"{load_after[2]:.1f}")
    what = (f"{args.clients} wrk threads of one connection (bench/wrk_pages.lua)"
            if client == "wrk" else f"{args.clients} Python client processes")
    print(f"{n:,} objects on PostgreSQL; clients: {what}; limit {args.limit}, "
          f"{args.seconds:g} s per run, median of {args.rounds} rounds\n")
    print(f"| workers | client | pages/s | objects/s | vs {counts[0]} worker(s) (same rounds) "
          "| per-round pages/s | thiqa CPU ms/page | PostgreSQL CPU ms/page (this node's "
          "backends) | client CPU ms/page | target |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for w in counts:
        mine = runs[w]
        ratio = median([r.rate / b for r, b in zip(mine, base, strict=True)])
        target = verdict = ""
        if w == 2 and counts[0] == 1:
            target = f"≥ {TARGET_2_VS_1:g}×"
            verdict = " (met)" if ratio >= TARGET_2_VS_1 else " (**not met**)"
        print(f"| {w} | {client} | {median([r.rate for r in mine]):,.0f} | "
              f"{median([r.objects / r.seconds for r in mine]):,.0f} | {ratio:.2f}× | "
              f"{', '.join(f'{r.rate:,.0f}' for r in mine)} | "
              f"{median([r.per_page(r.server_cpu) for r in mine]):.2f} | "
              f"{median([r.per_page(r.pg_cpu) for r in mine]):.2f} "
              f"({median([r.per_page(r.pg_node_cpu) for r in mine]):.2f}) | "
              f"{median([r.per_page(r.client_cpu) for r in mine]):.2f} | {target}{verdict} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
