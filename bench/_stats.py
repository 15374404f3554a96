"""Percentiles, medians and the one markdown table the benchmark prints."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(samples: Sequence[float], p: float) -> float:
    """The ``p``-th percentile by the nearest-rank method (p99 of 250 samples is the
    248th smallest): never an interpolated value that no request actually took."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def rate(objects: int, seconds: float) -> float:
    return objects / seconds if seconds > 0 else 0.0


def fmt_rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def fmt_mb(value: int | None) -> str:
    return "" if value is None else f"{value / 2**20:,.0f} MB"


@dataclass
class Row:
    operation: str
    objects: int | None = None
    thiqa: str = ""
    peer: str = ""
    ratio: str = ""
    rss: str = ""
    target: str = ""
    met: str = ""
    postgres: str = ""  # the same operation on the PostgreSQL store (bench_core --postgres)


_HEAD = ("operation", "objects", "thiqa", "peer", "ratio", "peak RSS", "target", "met?")


def table(rows: Sequence[Row]) -> str:
    """The rows as markdown; with a "thiqa, PostgreSQL" column beside thiqa's (SQLite)
    when some row has a PostgreSQL figure."""
    pg = any(r.postgres for r in rows)
    head = list(_HEAD)
    if pg:
        head[2:3] = ["thiqa (SQLite)", "thiqa (PostgreSQL)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        objects = "" if r.objects is None else f"{r.objects:,}"
        cells = [r.operation, objects, r.thiqa, r.peer, r.ratio, r.rss, r.target, r.met]
        if pg:
            cells.insert(3, r.postgres)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "**no**")
