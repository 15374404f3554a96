"""Publish-to-delivery latency of the event stream on one node, on loopback.

A real ``thiqa serve`` process; SSE consumers read ``/api/stream/`` with httpx; one
publisher POSTs objects one at a time (each a durable TAXII write) and, per object,
the latency is the time from starting the POST to the consumer parsing its event
(so it includes the write's commit). Then a replay: ``thiqa load`` writes a file of
indicators and a new consumer reads the whole log from ``Last-Event-ID: 0``.

    python bench/bench_stream.py [--objects 300] [--consumers 1,10] [--replay 20000]

No peer in this run: MISP's ZMQ feed is an unfiltered firehose without replay, and
OpenCTI needs its whole stack; the issue's target (p99 < 100 ms per hop) is the bar.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from tests.stream.sse import Reader  # noqa: E402

import _procs  # noqa: E402, F401  (byte-compiles thiqa once for the child processes)
from _stats import Row, percentile, table, verdict  # noqa: E402

TAXII = "application/taxii+json;version=2.1"
# The node under test is this checkout's, whatever the venv has installed.
ENV = {**{k: v for k, v in os.environ.items() if not k.startswith("THIQA_")},
       "PYTHONPATH": str(ROOT / "src")}


def indicator(n: int) -> dict[str, object]:
    return {"type": "indicator", "spec_version": "2.1",
            "id": f"indicator--00000000-0000-4000-8000-{n:012d}",
            "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
            "name": f"bench {n}", "pattern": f"[ipv4-addr:value = '10.{n >> 16 & 255}."
            f"{n >> 8 & 255}.{n & 255}']", "pattern_type": "stix",
            "valid_from": "2024-01-01T00:00:00Z",
            "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]}


def thiqa(data: Path, *args: str) -> dict[str, object]:
    r = subprocess.run([sys.executable, "-m", "thiqa", *args, "--data", str(data), "--json"],
                       capture_output=True, text=True, check=True, cwd=ROOT, env=ENV)
    out: dict[str, object] = json.loads(r.stdout)
    return out


def serve(data: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "thiqa", "serve", "--data", str(data),
                             "--port", str(port), "--log-level", "warning",
                             "--shutdown-grace", "1"], cwd=ROOT, env=ENV)


def latency(base: str, key: str, coll: str, objects: int, consumers: int,
            offset: int) -> list[float]:
    sse = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream"}
    readers = [Reader(f"{base}/api/stream/", sse, timeout=60) for _ in range(consumers)]
    for r in readers:
        assert r.wait_open() == 200
    post = {"Authorization": f"Bearer {key}", "Accept": TAXII, "Content-Type": TAXII}
    sent: list[float] = []
    with httpx.Client(headers=post, timeout=30) as client:
        for n in range(objects):
            body = {"objects": [indicator(offset + n)]}
            sent.append(time.perf_counter())
            assert client.post(f"{base}/api/collections/{coll}/objects/",
                               json=body).status_code == 202
            time.sleep(0.005)  # a steady publisher, not a bulk load
    out: list[float] = []
    for r in readers:
        frames = r.take(objects, timeout=60)
        assert len(frames) == objects, f"received {len(frames)} of {objects}"
        out.extend((f.received - s) * 1000 for f, s in zip(frames, sent, strict=True))
        r.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=300)
    ap.add_argument("--consumers", default="1,10")
    ap.add_argument("--replay", type=int, default=20_000)
    args = ap.parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "node"
        first = thiqa(data, "init")
        key = str(first["api_key"]["key"])  # type: ignore[index]
        coll = str(first["collection"]["id"])  # type: ignore[index]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = serve(data, port)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"{base}/taxii2/", headers={"Authorization": f"Bearer {key}"})
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
            offset = 0
            for consumers in (int(c) for c in args.consumers.split(",")):
                ms = latency(base, key, coll, args.objects, consumers, offset)
                offset += args.objects
                p50, p99 = percentile(ms, 50), percentile(ms, 99)
                rows.append(Row(f"POST → SSE event, {consumers} consumer(s): p50",
                                len(ms), f"{p50:.1f} ms"))
                rows.append(Row(f"POST → SSE event, {consumers} consumer(s): p99", len(ms),
                                f"{p99:.1f} ms", target="< 100 ms", met=verdict(p99 < 100)))
            if args.replay:
                bundle = Path(tmp) / "replay.json"
                bundle.write_text(json.dumps({"type": "bundle", "id": "bundle--00000000-0000-"
                                              "4000-8000-000000000001", "objects": [
                                                  indicator(10_000_000 + n)
                                                  for n in range(args.replay)]}))
                subprocess.run([sys.executable, "-m", "thiqa", "load", str(bundle), "--data",
                                str(data), "--no-index"], check=True, cwd=ROOT,
                               capture_output=True, env=ENV)
                sse = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream",
                       "Last-Event-ID": "0"}
                total = offset + args.replay
                t0 = time.perf_counter()
                r = Reader(f"{base}/api/stream/", sse, timeout=120)
                frames = r.take(total, timeout=300)
                elapsed = time.perf_counter() - t0
                r.close()
                assert len(frames) == total, f"replayed {len(frames)} of {total}"
                rows.append(Row("replay from Last-Event-ID 0 (events/s)", total,
                                f"{total / elapsed:,.0f}/s"))
        finally:
            proc.terminate()
            proc.wait(30)
    print(table(rows))


if __name__ == "__main__":
    main()
