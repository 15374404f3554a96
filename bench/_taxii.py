"""What the HTTP benchmarks do, identically for every server: post, page, sample."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import psutil

from _servers import ACCEPT, Server

ENVELOPE = 5000  # objects per POST, for both servers


class CPU:
    """CPU seconds (user + system) spent by the server process and by this client
    process between start() and stop(): which side a wall time was spent on."""

    def __init__(self, server: Server) -> None:
        self._server = psutil.Process(server.proc.pid)
        self.server = self.client = 0.0

    def _both(self) -> tuple[float, float]:
        s = self._server.cpu_times()
        return s.user + s.system, time.process_time()

    def start(self) -> None:
        self._t0 = self._both()

    def stop(self) -> None:
        server, client = self._both()
        self.server, self.client = server - self._t0[0], client - self._t0[1]


@dataclass
class Posted:
    objects: int
    seconds: float
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    succeeded: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)


def post_all(server: Server, collection: str, objects: Sequence[dict[str, Any]],
             envelope: int = ENVELOPE, timeout: float = 1800.0) -> Posted:
    """POST ``objects`` as TAXII envelopes of ``envelope`` objects, one after another on
    one keep-alive connection. Bodies are serialised before the clock starts."""
    bodies = [orjson.dumps({"objects": list(objects[i:i + envelope])})
              for i in range(0, len(objects), envelope)]
    headers = {"Content-Type": ACCEPT}
    out = Posted(len(objects), 0.0)
    cpu = CPU(server)
    with server.client(timeout) as client:
        cpu.start()
        started = time.perf_counter()
        for body in bodies:
            r = client.post(server.collection_url(collection), content=body, headers=headers)
            if r.status_code != 202:
                raise RuntimeError(f"{server.name} POST: {r.status_code} {r.text[:500]}")
            status = r.json()
            out.succeeded += int(status.get("success_count", 0))
            out.failed += int(status.get("failure_count", 0))
            out.failures += [f"{f.get('id')}: {f.get('message')}"
                             for f in status.get("failures", [])[:5]]
        out.seconds = time.perf_counter() - started
        cpu.stop()
    out.server_cpu, out.client_cpu = cpu.server, cpu.client
    return out


@dataclass
class Read:
    objects: int
    pages: int
    seconds: float
    first_added: str | None
    last_added: str | None
    server_cpu: float
    client_cpu: float


def read_all(server: Server, collection: str, limit: int = 1000,
             timeout: float = 600.0) -> Read:
    """Read a whole collection: ``limit`` per page, following ``next`` until ``more``
    is false. Every page is fully parsed (the objects are counted from the JSON)."""
    url = server.collection_url(collection)
    params: dict[str, str] = {"limit": str(limit)}
    count = pages = 0
    first = last = None
    cpu = CPU(server)
    with server.client(timeout) as client:
        cpu.start()
        started = time.perf_counter()
        while True:
            r = client.get(url, params=params)
            if r.status_code != 200:
                raise RuntimeError(f"{server.name} GET: {r.status_code} {r.text[:500]}")
            page = orjson.loads(r.content)
            pages += 1
            count += len(page.get("objects", ()))
            first = first or r.headers.get("X-TAXII-Date-Added-First")
            last = r.headers.get("X-TAXII-Date-Added-Last") or last
            if not page.get("more"):
                break
            params = {"limit": str(limit), "next": page["next"]}
        seconds = time.perf_counter() - started
        cpu.stop()
    return Read(count, pages, seconds, first, last, cpu.server, cpu.client)


def _parse(ts: str) -> datetime:
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _format(dt: datetime) -> str:
    return f"{dt:%Y-%m-%dT%H:%M:%S.%f}Z"


@dataclass
class Latency:
    samples_ms: list[float]
    objects: int  # objects returned over all timed requests


def page_latency(server: Server, collection: str, object_type: str, first: str, last: str,
                 *, positions: int, starts: int, seed: int, limit: int = 100,
                 warmup: int = 10) -> Latency:
    """Time single requests for one page of ``limit`` objects of ``object_type``.

    ``positions`` requests start at a random ``added_after`` drawn uniformly between
    the collection's first and last ``date_added``; ``starts`` requests ask for the
    first page (no ``added_after``). They are shuffled together. Each time runs from
    sending the request to having the whole body (not parsing it), on a warm
    keep-alive connection (``warmup`` untimed requests first).
    """
    rng = random.Random(seed)
    lo, hi = _parse(first), _parse(last)
    span = (hi - lo).total_seconds()
    queries: list[dict[str, str]] = []
    for _ in range(positions):
        at = lo + (hi - lo) * rng.random() if span > 0 else lo
        queries.append({"limit": str(limit), "match[type]": object_type,
                        "added_after": _format(at)})
    queries += [{"limit": str(limit), "match[type]": object_type} for _ in range(starts)]
    rng.shuffle(queries)
    url = server.collection_url(collection)
    samples: list[float] = []
    returned = 0
    with server.client(60.0) as client:
        for q in queries[:warmup]:
            client.get(url, params=q)
        for q in queries:
            t0 = time.perf_counter()
            r = client.get(url, params=q)
            body = r.content
            samples.append((time.perf_counter() - t0) * 1000)
            if r.status_code != 200:
                raise RuntimeError(f"{server.name} GET: {r.status_code} {r.text[:500]}")
            returned += len(orjson.loads(body).get("objects", ()))
    return Latency(samples, returned)


def check_reachable(server: Server) -> None:
    """One authenticated discovery-free request, to fail early on a misconfiguration."""
    with server.client(30.0) as client:
        r = client.get(server.root)
        if r.status_code != 200:
            raise RuntimeError(f"{server.name} API root: {r.status_code} {r.text[:300]}")

