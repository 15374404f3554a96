"""Bulk loads: the generated input files, ``thiqa load`` and the raw reference, each run
as its own process and measured the same way (wall, CPU, peak RSS split)."""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

import _procs
from _stats import fmt_mb, rate
from generate import generate_indicators, write

BENCH = Path(__file__).resolve().parent
RARE_TYPE = "malware"
RARE_COUNT = 100  # spread evenly through each indicator file
_TIMEOUT = 3 * 3600.0


def _rare(i: int, seed: int) -> dict[str, Any]:
    ts = f"2020-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}.000Z"
    oid = uuid.uuid5(uuid.NAMESPACE_URL, f"thiqa-bench-{seed}-{i}")
    return {"type": RARE_TYPE, "spec_version": "2.1", "id": f"{RARE_TYPE}--{oid}",
            "created": ts, "modified": ts, "name": f"Rare family {i}", "is_family": True,
            "malware_types": ["trojan"]}


def indicator_file(path: Path, count: int, seed: int) -> int:
    """Write a bundle of ``count`` generated indicators with RARE_COUNT malware objects
    spread evenly among them (what the rare-type page filter finds); return how many
    objects it holds. Uncompressed, so that thiqa and the raw reference read the same
    bytes and neither pays for gzip."""
    every = max(count // RARE_COUNT, 1)

    def objects() -> Iterator[dict[str, Any]]:
        rare = 0
        for i, obj in enumerate(generate_indicators(count, seed)):
            if i % every == every // 2 and rare < RARE_COUNT:
                yield _rare(rare, seed)
                rare += 1
            yield obj

    bundle_id = f"bundle--{uuid.uuid5(uuid.NAMESPACE_URL, f'thiqa-bench-{seed}-{count}')}"
    with path.open("wb") as out:
        return write(out, objects(), "bundle", bundle_id)


def bundle_objects(path: Path) -> list[dict[str, Any]]:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    objects: list[dict[str, Any]] = orjson.loads(raw)["objects"]
    return objects


@dataclass(frozen=True)
class Load:
    objects: int
    seconds: float      # wall time of the process, interpreter start-up included
    cpu_seconds: float  # its user + system time
    peak_rss: int       # VmHWM
    peak_heap: int      # largest RssAnon sampled
    peak_mapped: int    # largest RssFile sampled (SQLite's mmap of the database)
    detail: str         # what the process itself reported about its time

    @property
    def rate(self) -> float:
        return rate(self.objects, self.seconds)

    def describe(self) -> str:
        return (f"{self.objects:,} objects, {self.seconds:.1f} s wall ({self.rate:,.0f}/s), "
                f"{self.cpu_seconds:.1f} s CPU, {self.detail}; peak RSS "
                f"{fmt_mb(self.peak_rss)}: heap {fmt_mb(self.peak_heap)}, mapped files "
                f"{fmt_mb(self.peak_mapped)}")


def _output(what: str, done: _procs.Run) -> bytes:
    if done.returncode != 0:
        raise RuntimeError(f"{what} exited {done.returncode}: "
                           f"{done.stderr.decode(errors='replace')[-2000:]}")
    return done.stdout


def thiqa_load(data: Path, path: Path, db: str = "") -> Load:
    """``python -m thiqa load --no-index`` into an initialised node; every object must be
    stored. The observable index that ``thiqa load`` builds afterwards by default is
    correlation's cost, measured by bench/bench_correlate.py, not the store's."""
    done = _procs.run(_procs.python("-m", "thiqa", "load", "--data", str(data), "--db", db,
                                    "--quiet", "--no-index", "--json", str(path)),
                      timeout=_TIMEOUT)
    report = orjson.loads(_output(f"thiqa load {path.name}", done))
    if report["stored"] != report["read"]:
        raise RuntimeError(f"thiqa load {path.name}: {report['rejected']} rejected, e.g. "
                           f"{report['rejections'][:3]}")
    return Load(report["read"], done.seconds, done.cpu_seconds, done.peak_rss, done.peak_anon,
                done.peak_file, f"{report['seconds']:.1f} s loading after start-up")


# The raw reference runs in its own process too, so both sides pay interpreter start-up
# and each peak RSS is one process's own.
_RAW_CHILD = """
import sys
from pathlib import Path
import orjson
sys.path.insert(0, sys.argv[1])
from raw_reference import run_raw_reference
print(orjson.dumps(run_raw_reference(Path(sys.argv[2]))).decode())
"""


def raw_load(path: Path, expected: int) -> Load:
    """bench/raw_reference.py on ``path``; it must read as many objects as thiqa did."""
    done = _procs.run(_procs.python("-c", _RAW_CHILD, str(BENCH), str(path)),
                      timeout=_TIMEOUT)
    # The JSON report is the last line it prints.
    report = orjson.loads(_output(f"raw reference on {path.name}", done).splitlines()[-1])
    if report["objects"] != expected:
        raise RuntimeError(f"raw reference read {report['objects']} objects of {path.name}, "
                           f"thiqa {expected}")
    return Load(report["objects"], done.seconds, done.cpu_seconds, done.peak_rss,
                done.peak_anon, done.peak_file,
                f"read+parse {report['parse_seconds']:.1f} s, insert "
                f"{report['insert_seconds']:.1f} s")
