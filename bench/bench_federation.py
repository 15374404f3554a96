"""Peering on loopback: publish-to-delivery latency over one and two hops, sustained
throughput from one publisher to many subscribing nodes, catch-up time and memory.

Real ``thiqa serve`` processes (thiqa.federation.lab). Latency: one object POSTed at a
time on A; from the publisher's 202 to the event on the receiving node's own stream, on
B (A→B, one hop) and on C, which follows only B (A→B→C, two hops). Throughput: A
publishes N generated indicators in batches of 500; every subscriber pulls from A; the
rate is N over the time until the last subscriber holds all N. Catch-up: N indicators
``thiqa load``-ed into A before B starts; the time from B's start until it holds all
N, and B's peak RSS sampled every 0.2 s during it.

    python bench/bench_federation.py [--latency 100] [--subscribers 10] [--throughput 5000]
                                     [--catchup 100000]

No peer in this run: MISP's pull sync and OpenCTI's stream need their own stacks; the
issue's targets are the bar (p99 < 100 ms per hop; ≥ 5,000 objects/s; 1M catch-up < 2
minutes; memory flat).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src"), str(ROOT / "bench")]
os.environ["PYTHONPATH"] = str(ROOT / "src")

from _stats import Row, percentile, table, verdict  # noqa: E402
from generate import generate_indicators  # noqa: E402
from thiqa.federation.lab import Group, Lab, Watcher, aliases, wait_for  # noqa: E402
from thiqa.store.sqlite import SQLiteStore  # noqa: E402


def _indicators(n: int, seed: int) -> list[dict[str, Any]]:
    """Generated indicators under the community's default handling (TLP:GREEN): the
    generator marks some RED for named recipients, which no subscriber here may see."""
    out = list(generate_indicators(n, seed))
    for o in out:
        o.pop("object_marking_refs", None)
        o.pop("granular_markings", None)
    return out


def _count(lab: Lab, name: str, alias: str) -> int:
    store = SQLiteStore(lab[name].data / "thiqa.db")
    try:
        c = store.get_collection(alias)
        return 0 if c is None else store.count(c.pk)
    finally:
        store.close()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def latency(root: Path, n: int) -> list[Row]:
    lab = Lab(root / "latency")
    lab.provision([Group("Trio", ("a", "b", "c"), "green")], [("b", "a", "pull"),
                                                               ("c", "b", "pull")])
    lab.start()
    try:
        assert lab.wait_linked()
        wb, wc = (Watcher(lab[x], aliases(lab[x])).start() for x in "bc")
        one, two = [], []
        for o in _indicators(n, 7):
            lab["a"].publish("trio", [o])
            t = time.monotonic()
            assert wait_for(lambda o=o: wc.arrived("trio", o["id"]) is not None, 10, 0.001)
            one.append(wb.arrived("trio", o["id"]) - t)  # type: ignore[operator]
            two.append(wc.arrived("trio", o["id"]) - t)  # type: ignore[operator]
        rows = []
        for label, xs, hops in (("one hop (A→B)", one, 1), ("two hops (A→B→C)", two, 2)):
            p50, p99 = percentile(xs, 50) * 1000, percentile(xs, 99) * 1000
            rows.append(Row(f"latency {label}: p50 / p99", n, f"{p50:.1f} / {p99:.1f} ms",
                            target=f"p99 < {100 * hops} ms", met=verdict(p99 < 100 * hops)))
        return rows
    finally:
        lab.stop()


def throughput(root: Path, n: int, subscribers: int) -> Row:
    names = ("a", *(f"s{i}" for i in range(subscribers)))
    lab = Lab(root / "throughput", names=names)
    lab.provision([Group("Many", names, "green")], [(s, "a", "pull") for s in names[1:]])
    lab.start()
    try:
        assert lab.wait_linked(60)
        objects = _indicators(n, 11)
        t = time.monotonic()
        for i in range(0, n, 500):
            lab["a"].publish("many", objects[i : i + 500])
        published = time.monotonic() - t
        assert wait_for(lambda: all(_count(lab, s, "many") >= n for s in names[1:]), 600, 0.2)
        took = time.monotonic() - t
        rate = n / took
        return Row(f"sustained, 1 publisher → {subscribers} nodes (publishing took "
                   f"{published:.1f} s)", n, f"{rate:,.0f} objects/s "
                   f"({n * subscribers / took:,.0f} deliveries/s)", target="≥ 5,000 objects/s",
                   met=verdict(rate >= 5000))
    finally:
        lab.stop()


def catchup(root: Path, n: int) -> Row:
    lab = Lab(root / "catchup", names=("a", "b"))
    lab.provision([Group("Pair", ("a", "b"), "green")], [("b", "a", "pull")])
    feed = root / "catchup.jsonl"
    with feed.open("wb") as f:
        for o in _indicators(n, 3):
            f.write(orjson.dumps(o) + b"\n")
    subprocess.run([sys.executable, "-m", "thiqa", "load", str(feed), "--collection", "pair",
                    "--no-index", "--data", str(lab["a"].data)], check=True,
                   capture_output=True)
    lab.start(["a"])
    try:
        t = time.monotonic()
        lab.start(["b"])
        rss: list[float] = []
        pid = lab["b"].proc.pid  # type: ignore[union-attr]
        while _count(lab, "b", "pair") < n:
            rss.append(_rss_mb(pid))
            time.sleep(0.2)
            assert time.monotonic() - t < 1800, "catch-up did not finish in 30 min"
        took = time.monotonic() - t
        per_million = took * 1_000_000 / n
        first = rss[len(rss) // 10] if rss else 0.0
        return Row(f"catch-up A→B (incl. B's start; RSS {first:.0f} MB at 10% → peak "
                   f"{max(rss, default=0):.0f} MB)", n,
                   f"{took:.1f} s = {n / took:,.0f} objects/s (≈ {per_million:.0f} s per 1M)",
                   rss=f"{max(rss, default=0):.0f} MB", target="1M < 120 s",
                   met=verdict(per_million < 120))
    finally:
        lab.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=int, default=100)
    ap.add_argument("--subscribers", type=int, default=10)
    ap.add_argument("--throughput", type=int, default=5000)
    ap.add_argument("--catchup", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="thiqa-bench-fed-") as tmp:
        root = Path(tmp)
        rows = latency(root, args.latency)
        print(table(rows), flush=True)
        rows.append(throughput(root, args.throughput, args.subscribers))
        print(table(rows[-1:]), flush=True)
        rows.append(catchup(root, args.catchup))
        print("\n" + table(rows))


if __name__ == "__main__":
    main()
