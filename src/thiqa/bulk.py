"""Bulk import of STIX files (``thiqa load``): stream, validate, store in batches.

Memory stays flat in the size of the input: the reader yields batches, each is
validated and committed, then dropped. Rejected objects are reported with where they
were found (file and position) and what is wrong; they never stop the load.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from thiqa.clock import Clock
from thiqa.errors import BadRequest
from thiqa.ingest import prepare
from thiqa.reader import ReadError, read_objects
from thiqa.store import Store
from thiqa.store.model import Collection, NewVersion

BATCH = 5000


@dataclass(frozen=True, slots=True)
class Rejection:
    where: str
    id: str
    message: str


@dataclass(slots=True)
class LoadReport:
    read: int = 0
    stored: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0


def load_files(
    store: Store,
    collection: Collection,
    paths: Sequence[Path],
    *,
    clock: Clock | None = None,
    on_progress: Callable[[int], None] | None = None,
    on_reject: Callable[[Rejection], None] | None = None,
) -> LoadReport:
    clock = clock or Clock()
    report = LoadReport()
    started = time.perf_counter()

    def reject(r: Rejection) -> None:
        report.rejected.append(r)
        if on_reject is not None:
            on_reject(r)

    for path in paths:
        try:
            _load_file(store, collection, path, clock, on_progress, reject, report)
        except ReadError as exc:
            raise BadRequest(f"{exc} ({report.stored} objects read before it were stored)"
                             ) from exc
    report.seconds = time.perf_counter() - started
    return report


def _load_file(store: Store, collection: Collection, path: Path, clock: Clock,
               on_progress: Callable[[int], None] | None,
               reject: Callable[[Rejection], None], report: LoadReport) -> None:
    for batch in read_objects(path, on_progress=on_progress, batch=BATCH):
        good: list[NewVersion] = []
        places: list[str] = []
        for item in batch:
            if item.obj is None:
                reject(Rejection(item.where, "", "not a STIX object: expected a JSON object"))
                continue
            prepared = prepare(item.obj)
            if isinstance(prepared, NewVersion):
                good.append(prepared)
                places.append(item.where)
            else:
                reject(Rejection(item.where, prepared.id, prepared.message or ""))
        report.read += len(batch)
        outcomes = store.add_versions(collection.pk, good, clock.now_us())
        for where, outcome in zip(places, outcomes, strict=True):
            if outcome.ok:
                report.stored += 1
            else:
                reject(Rejection(where, outcome.id, outcome.message or ""))
