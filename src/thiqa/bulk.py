"""Bulk import of STIX files (``thiqa load``): stream, validate, store in batches.

Memory stays flat in the size of the input: the reader yields batches, each is
validated and handed to the store, then dropped. Rejected objects are reported with
where they were found (file and position) and what is wrong; they never stop the load.

Two stages, run in two processes for large inputs (``parallel``): a reader process
cuts the files into objects, parses and validates them (pure Python, ~30 µs an
object), while this process writes what it sends (mostly the store's C code). A
bounded queue between them (``_Drain``: a few batches) keeps memory flat: the reader
waits only when the writer falls behind by more than that.
Small inputs skip the second process, whose start-up (~0.3 s) would cost more than it
saves.

Durability: the store commits every ``COMMIT_EVERY`` objects (see
:meth:`thiqa.store.Store.bulk`); the load is acknowledged, and the report returned,
only after the last commit. A load cut short keeps what was committed; re-running it
is safe, since adding an identical version again is a no-op.
"""

from __future__ import annotations

import gc
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from thiqa.clock import Clock
from thiqa.errors import BadRequest, ThiqaError
from thiqa.federation.merkle import levels
from thiqa.federation.sign import leaf_of
from thiqa.handling import Marks
from thiqa.ingest import prepare
from thiqa.reader import Item, ReadError, read_objects
from thiqa.store import BulkWriter, Store
from thiqa.store.model import Collection, NewVersion, Origin, Provenance

# Signs one batch: (concatenated leaves, Merkle root) -> what the store records
# (thiqa.federation.sign.BatchSigner).
Signer = Callable[[bytes, bytes], Provenance | None]

# Objects per reader batch; transactions span many batches (COMMIT_EVERY).
BATCH = 5000
COMMIT_EVERY = 100_000
# Inputs at least this large are read and validated in a second process.
PARALLEL_MIN_BYTES = 16 * 1024 * 1024


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


@dataclass(slots=True)
class _Prepared:
    """One reader batch, validated: what to store, what was refused, bytes consumed,
    and the Merkle leaves of ``good`` (one 32-byte leaf each) with their root, computed
    where the objects were parsed (the reader process), signed by the writer."""

    read: int
    good: list[NewVersion]
    places: list[str]
    rejected: list[Rejection]
    progressed: int
    leaves: bytes = b""
    root: bytes = b""


def load_files(
    store: Store,
    collection: Collection,
    paths: Sequence[Path],
    *,
    clock: Clock | None = None,
    on_progress: Callable[[int], None] | None = None,
    on_reject: Callable[[Rejection], None] | None = None,
    parallel: bool | None = None,
    origin: Origin | None = None,
    signer: Signer | None = None,
) -> LoadReport:
    """Load every object of ``paths`` into ``collection``, published by ``origin``
    (:meth:`thiqa.node.Node.load_origin`: the originator and the handling rules).

    ``signer`` signs each batch (:meth:`thiqa.node.Node.signer`); without one the
    versions are stored unsigned. ``parallel`` chooses the two-process pipeline; by
    default it is used when the files add up to ``PARALLEL_MIN_BYTES`` and the
    machine has more than one core.
    """
    clock = clock or Clock()
    report = LoadReport()
    started = time.perf_counter()
    if parallel is None:
        size = sum(Path(p).stat().st_size for p in paths)
        parallel = size >= PARALLEL_MIN_BYTES and (os.cpu_count() or 1) > 1
    batches = _from_process(paths) if parallel else _read(paths)

    def reject(r: Rejection) -> None:
        report.rejected.append(r)
        if on_reject is not None:
            on_reject(r)

    stopped: ReadError | None = None
    bulk = (store.bulk(collection.pk, commit_every=COMMIT_EVERY) if origin is None
            else store.bulk(collection.pk, commit_every=COMMIT_EVERY, origin=origin))
    with _few_collections(), bulk as writer:
        try:
            for prepared in batches:
                _store_batch(writer, prepared, clock, reject, report, signer)
                if on_progress is not None and prepared.progressed:
                    on_progress(prepared.progressed)
        except ReadError as exc:
            # What came before the malformed spot is kept: leaving the block commits it.
            stopped = exc
    if stopped is not None:
        raise BadRequest(f"{stopped} ({report.stored} objects read before it were stored)"
                         ) from stopped
    report.seconds = time.perf_counter() - started
    return report


@contextmanager
def _few_collections() -> Iterator[None]:
    """Let the cyclic GC run rarely while batches of thousands of objects go through.

    Each batch allocates tens of thousands of containers (parsed objects, rows) that
    die with it by reference counting and form no cycles; at the default threshold
    (700) the collector would walk them dozens of times per batch: 8% of the writer's
    time in a profile of a 1M load, about 5% of the reader's. Objects alive before the
    load are frozen out of the walks; the collector still runs, so a cycle made by
    accident is still collected.
    """
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 50)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _store_batch(writer: BulkWriter, prepared: _Prepared, clock: Clock,
                 reject: Callable[[Rejection], None], report: LoadReport,
                 signer: Signer | None = None) -> None:
    report.read += prepared.read
    for r in prepared.rejected:
        reject(r)
    provenance = signer(prepared.leaves, prepared.root) if signer is not None else None
    outcomes = writer.add(prepared.good, clock.now_us(), provenance)
    for where, outcome in zip(prepared.places, outcomes, strict=True):
        if outcome.ok:
            report.stored += 1
        else:
            reject(Rejection(where, outcome.id, outcome.message or ""))


def _prepare_batch(batch: list[Item], progressed: int) -> _Prepared:
    good: list[NewVersion] = []
    places: list[str] = []
    rejected: list[Rejection] = []
    leaves: list[bytes] = []
    for item in batch:
        if item.obj is None:
            rejected.append(Rejection(item.where, "", "not a STIX object: expected a JSON "
                                      "object"))
            continue
        prepared = prepare(item.obj)
        if isinstance(prepared, NewVersion):
            good.append(prepared)
            places.append(item.where)
            leaves.append(leaf_of(item.obj))
        else:
            rejected.append(Rejection(item.where, prepared.id, prepared.message or ""))
    root = levels(leaves)[-1][0] if leaves else b""
    return _Prepared(len(batch), good, places, rejected, progressed, b"".join(leaves), root)


def _read(paths: Sequence[Path]) -> Iterator[_Prepared]:
    """Every file's batches, validated; raises ReadError after the good batches."""
    for path in paths:
        progressed = 0

        def count(n: int) -> None:
            nonlocal progressed
            progressed += n

        for batch in read_objects(Path(path), on_progress=count, batch=BATCH):
            yield _prepare_batch(batch, progressed)
            progressed = 0
        if progressed:
            yield _Prepared(0, [], [], [], progressed)


# -- the reader process ----------------------------------------------------------------
# ``python -m thiqa.bulk FILE…`` writes frames to standard output: an 8-byte length and
# a pickled message, ("batch", read, good, places, rejected, progressed, leaves, root)
# for each
# batch, then ("done",), or ("read_error", path, reason, offset, line, column), or
# ("failed", description). A plain subprocess rather than multiprocessing: spawn
# re-imports the caller's main module (which breaks unguarded scripts) and fork would
# duplicate the parent's SQLite connections and threads. The pipe and ``_Drain``'s
# queue bound what is in flight: the reader blocks on a full pipe once the writer is
# ``_AHEAD`` batches behind.

_LEN = struct.Struct("<Q")
_new_version = tuple.__new__  # NewVersion from the tuple of its fields, in C


def _produce(paths: list[str], fd: int) -> None:
    def send(msg: tuple[Any, ...]) -> None:
        data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
        # Whole frames straight to the descriptor, looping on short writes: through a
        # BufferedWriter, a reader stopped and continued (Ctrl-Z, a sampling profiler)
        # lost bytes of a frame and the writer then unpickled garbage.
        frame = memoryview(_LEN.pack(len(data)) + data)
        while frame:
            frame = frame[os.write(fd, frame):]

    try:
        for p in _read([Path(x) for x in paths]):
            # Plain tuples on the wire: pickle then needs no class lookup per object. A
            # feed repeats a handful of markings: sending each distinct Marks as one
            # object lets pickle's memo write it once per batch, so the writer rebuilds
            # a few instead of one per object (a third of its unpickling time).
            distinct: dict[Marks, Marks] = {}
            good = [(*v[:6], distinct.setdefault(v.marks, v.marks)) for v in p.good]
            rejected = [(r.where, r.id, r.message) for r in p.rejected]
            send(("batch", p.read, good, p.places, rejected, p.progressed, p.leaves, p.root))
    except ReadError as exc:
        send(("read_error", exc.path, exc.reason, exc.offset, exc.line, exc.column))
    except ThiqaError as exc:
        send(("failed", exc.description))
    except Exception as exc:  # the writer must hear of it, whatever it was
        send(("failed", f"{type(exc).__name__}: {exc}"))
    else:
        send(("done",))


def _frame(pipe: IO[bytes]) -> bytes | None:
    """The next frame's pickled message, or None when the pipe ends mid-frame or at all."""
    head = pipe.read(_LEN.size)
    if len(head) < _LEN.size:
        return None
    (n,) = _LEN.unpack(head)
    data = pipe.read(n)
    return data if len(data) == n else None


def _receive(pipe: IO[bytes]) -> tuple[Any, ...] | None:
    data = _frame(pipe)
    if data is None:
        return None
    msg: tuple[Any, ...] = pickle.loads(data)  # our own child's output, never a peer's
    return msg


# Frames read ahead of the writer: one being stored, these waiting (a few MB each).
_AHEAD = 2


class _Drain:
    """Reads the reader process's frames in a thread while the writer stores a batch.

    Without it the pipe (64 KiB) fills as soon as the writer is busy, so the reader
    process waits out every store and commit instead of preparing the next batch: in a
    200k load the two processes overlapped for only part of the time. Reading a pipe
    releases the GIL, so the thread costs the writer next to nothing; the frames it
    holds are bounded (``_AHEAD``), so memory stays flat.
    """

    def __init__(self, pipe: IO[bytes]) -> None:
        self.frames: queue.Queue[bytes | BaseException | None] = queue.Queue(_AHEAD)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(pipe,), daemon=True,
                                       name="thiqa-bulk-drain")
        self.thread.start()

    def _run(self, pipe: IO[bytes]) -> None:
        try:
            while (data := _frame(pipe)) is not None:
                if not self._put(data):
                    return
        except BaseException as exc:  # the writer re-raises it
            self._put(exc)
            return
        self._put(None)

    def _put(self, item: bytes | BaseException | None) -> bool:
        while not self.stopped.is_set():
            try:
                self.frames.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def next(self) -> tuple[Any, ...] | None:
        item = self.frames.get()
        if isinstance(item, BaseException):
            raise item
        if item is None:
            return None
        msg: tuple[Any, ...] = pickle.loads(item)  # our own child's output, never a peer's
        return msg

    def stop(self) -> None:
        """Call once the pipe is closed or its writer is gone: the thread then ends."""
        self.stopped.set()
        self.thread.join()


def _from_process(paths: Sequence[Path]) -> Generator[_Prepared, None, None]:
    proc = subprocess.Popen([sys.executable, "-m", "thiqa.bulk", *map(str, paths)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    drain = _Drain(proc.stdout)
    try:
        while True:
            msg = drain.next()
            if msg is None:
                code = proc.wait()
                raise ThiqaError(f"the reader process stopped unexpectedly (exit code {code}); "
                                 "what was committed before is kept")
            kind = msg[0]
            if kind == "done":
                return
            if kind == "batch":
                _, read, good, places, rejected, progressed, leaves, root = msg
                yield _Prepared(read, [_new_version(NewVersion, g) for g in good], places,
                                [Rejection(*r) for r in rejected], progressed, leaves, root)
            elif kind == "read_error":
                _, path, reason, offset, line, column = msg
                raise ReadError(path, reason, offset=offset, line=line, column=column)
            else:
                raise ThiqaError(f"reading failed: {msg[1]}")
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait()  # its end of the pipe is closed: the drain thread reads to the end
        drain.stop()
        proc.stdout.close()


if __name__ == "__main__":
    try:
        with _few_collections():
            _produce(sys.argv[1:], sys.stdout.fileno())
    except (KeyboardInterrupt, BrokenPipeError):
        # The writer stopped (Ctrl-C reaches the whole process group): nothing to say.
        sys.exit(1)
