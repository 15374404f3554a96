"""TAXII over HTTP, side by side: the same posts and reads against fresh thiqa and
medallion servers, and page latency on a served node."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

import _procs
import _servers
import _taxii
from _stats import fmt_mb, fmt_rate, median, percentile, rate


@dataclass
class Pair:
    """One operation measured on both servers: objects/s (None: medallion not run, and
    ``why_not`` says why) and the servers' peak RSS."""

    thiqa: float
    thiqa_rss: int
    medallion: float | None = None
    medallion_rss: int | None = None
    why_not: str = "skipped (--quick)"
    postgres: float | None = None  # thiqa on the PostgreSQL store (bench_core --postgres)

    def peer(self) -> str:
        if self.medallion is None:
            return f"n/a: {self.why_not}"
        return f"medallion {fmt_rate(self.medallion)}"

    def ratio(self) -> str:
        if self.medallion is None:
            return "n/a"
        return f"{self.thiqa / self.medallion:,.1f}× medallion"

    def rss(self) -> str:
        theirs = "" if self.medallion_rss is None else f" (medallion {fmt_mb(self.medallion_rss)})"
        return fmt_mb(self.thiqa_rss) + theirs


def median_pair(pairs: list[Pair]) -> Pair:
    theirs = [p.medallion for p in pairs if p.medallion is not None]
    their_rss = [p.medallion_rss for p in pairs if p.medallion_rss is not None]
    pg = [p.postgres for p in pairs if p.postgres is not None]
    return Pair(median([p.thiqa for p in pairs]), max(p.thiqa_rss for p in pairs),
                median(theirs) if theirs else None, max(their_rss) if their_rss else None,
                pairs[0].why_not, median(pg) if pg else None)


def split(what: str, seconds: float, server_cpu: float, client_cpu: float) -> str:
    return (f"{what}: {seconds:.2f} s wall, server CPU {server_cpu:.2f} s, client CPU "
            f"{client_cpu:.2f} s")


def fresh_thiqa(work: Path, name: str, db: str = "") -> tuple[Path, str]:
    """A newly initialised data directory (on ``db``, if given) and its admin key."""
    data = work / name
    return data, _servers.init_thiqa(data, db)


def postgres_post_and_read(work: Path, name: str, objects: list[dict[str, Any]],
                           db: str) -> tuple[float, float]:
    """The thiqa half of :func:`post_and_read` on a fresh node on PostgreSQL (``db``, an
    empty schema): (ingest objects/s, full read objects/s)."""
    data, key = fresh_thiqa(work, f"http-{name}-pg", db)
    with _servers.thiqa(data, key, work / f"thiqa-{name}-pg.log", db) as srv:
        _taxii.check_reachable(srv)
        posted = _taxii.post_all(srv, "default", objects)
        _check(srv.name, posted)
        got = _taxii.read_all(srv, "default")
        if got.objects != len(objects):
            raise RuntimeError(f"thiqa on PostgreSQL read {got.objects} of {len(objects)}")
    return rate(posted.objects, posted.seconds), rate(got.objects, got.seconds)


def _check(name: str, posted: _taxii.Posted) -> None:
    if posted.succeeded != posted.objects:
        raise RuntimeError(f"{name}: {posted.failed} of {posted.objects} objects refused, "
                           f"e.g. {posted.failures[:3]}")


def post_and_read(work: Path, name: str, objects: list[dict[str, Any]], *, medallion: bool,
                  read_budget: float, splits: list[str] | None = None) -> tuple[Pair, Pair]:
    """POST ``objects`` to a fresh thiqa and (``medallion``) a fresh medallion, then read
    the collection back in full from each. Returns (ingest, read) and appends to
    ``splits`` which side, server or client, the wall time went to."""
    log = splits if splits is not None else []
    data, key = fresh_thiqa(work, f"http-{name}")
    with _servers.thiqa(data, key, work / f"thiqa-{name}.log") as srv:
        _taxii.check_reachable(srv)
        posted = _taxii.post_all(srv, "default", objects)
        _check(srv.name, posted)
        ingest = Pair(rate(posted.objects, posted.seconds), _procs.peak_rss(srv.proc))
        got = _taxii.read_all(srv, "default")
        if got.objects != len(objects):
            raise RuntimeError(f"thiqa read {got.objects} of {len(objects)} objects")
        reread = Pair(rate(got.objects, got.seconds), _procs.peak_rss(srv.proc))
    log.append(split(f"{name} POST, thiqa", posted.seconds, posted.server_cpu,
                     posted.client_cpu))
    log.append(split(f"{name} full read, thiqa", got.seconds, got.server_cpu, got.client_cpu))
    if not medallion:
        return ingest, reread
    mdir = work / f"medallion-{name}"
    mdir.mkdir()
    with _servers.medallion(mdir, ["bench"], mdir / "medallion.log") as srv:
        _taxii.check_reachable(srv)
        posted = _taxii.post_all(srv, "bench", objects)
        _check(srv.name, posted)
        ingest.medallion = rate(posted.objects, posted.seconds)
        ingest.medallion_rss = _procs.peak_rss(srv.proc)
        log.append(split(f"{name} POST, medallion", posted.seconds, posted.server_cpu,
                         posted.client_cpu))
        try:
            got = _taxii.read_all(srv, "bench", timeout=read_budget)
        except httpx.TimeoutException:
            reread.why_not = (f"no page within {read_budget:.0f} s (its memory backend "
                              "filters and sorts with nested loops over the collection)")
        else:
            if got.objects != len(objects):
                raise RuntimeError(f"medallion read {got.objects} of {len(objects)} objects")
            reread.medallion = rate(got.objects, got.seconds)
            log.append(split(f"{name} full read, medallion", got.seconds, got.server_cpu,
                             got.client_cpu))
        reread.medallion_rss = _procs.peak_rss(srv.proc)
    return ingest, reread


@dataclass
class Latencies:
    p50: float          # ms, median over runs of each run's p50
    p99: float          # ms, median over runs of each run's p99
    p99_runs: list[float]
    requests: int
    returned: int       # objects returned by all timed requests


def latency_runs(srv: _servers.Server, object_type: str, first: str, last: str, *,
                 runs: int, positions: int, starts: int, seed: int) -> Latencies:
    p50s, p99s = [], []
    requests = returned = 0
    for run in range(runs):
        lat = _taxii.page_latency(srv, "default", object_type, first, last,
                                  positions=positions, starts=starts, seed=seed * 1000 + run)
        p50s.append(percentile(lat.samples_ms, 50))
        p99s.append(percentile(lat.samples_ms, 99))
        requests += len(lat.samples_ms)
        returned += lat.objects
    return Latencies(median(p50s), median(p99s), p99s, requests, returned)
