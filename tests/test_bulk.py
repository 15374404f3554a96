"""``thiqa.bulk``: the in-process and the two-process loader agree, and lose nothing."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import indicator
from thiqa import bulk
from thiqa.audit import AuditQuery, Event
from thiqa.clock import FakeClock
from thiqa.errors import BadRequest, StoreError
from thiqa.ingest import prepare
from thiqa.store import Store
from thiqa.store.model import Collection, NewVersion, ObjectQuery, Versions

BUNDLE_ID = "bundle--6e1b4d6b-6b6b-4b6b-8b6b-6b6b6b6b6b6b"


def _collection(store: Store, n: int = 1) -> Collection:
    return store.add_collection(Collection(0, f"c0000000-0000-4000-8000-00000000000{n}", "c"))


def _bodies(store: Store, c: Collection) -> dict[tuple[str, str], object]:
    page = store.query(ObjectQuery(c.pk, versions=Versions(all=True), limit=100_000))
    assert not page.more
    return {(r.id, r.version): orjson.loads(r.body or b"") for r in page.records}


def _mixed_file(tmp_path: Path, n: int) -> Path:
    objects: list[object] = [indicator(i) for i in range(n)]
    objects[3] = {k: v for k, v in indicator(3).items() if k != "pattern"}  # invalid
    objects[5] = 42  # not an object
    objects.append(indicator(7))  # exact duplicate: stored once, not an error
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps({"type": "bundle", "id": BUNDLE_ID, "objects": objects}))
    return path


@pytest.mark.parametrize("batch", [4, 5000])
def test_both_pipelines_store_and_reject_the_same(store: Store, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  batch: int) -> None:
    monkeypatch.setattr(bulk, "BATCH", batch)
    monkeypatch.setattr(bulk, "COMMIT_EVERY", 7)  # several transactions per load
    path = _mixed_file(tmp_path, 30)
    reports, contents = [], []
    for n, parallel in enumerate([False, True], start=1):
        c = _collection(store, n)
        seen: list[int] = []
        reports.append(bulk.load_files(store, c, [path], clock=FakeClock(), parallel=parallel,
                                       on_progress=seen.append))
        contents.append(_bodies(store, c))
        assert sum(seen) == path.stat().st_size
    serial, parallel_ = reports
    assert (serial.read, serial.stored) == (parallel_.read, parallel_.stored) == (31, 29)
    assert serial.rejected == parallel_.rejected
    assert [r.where for r in serial.rejected] == [f"{path}: objects[3]", f"{path}: objects[5]"]
    assert "pattern" in serial.rejected[0].message
    assert contents[0] == contents[1] and len(contents[0]) == 28


def test_malformed_json_keeps_what_came_before_in_the_reader_process(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "BATCH", 3)
    broken = tmp_path / "broken.json"
    good = ", ".join(json.dumps(indicator(i)) for i in range(10))
    broken.write_text(f'{{"type": "bundle", "id": "{BUNDLE_ID}", "objects": [{good},]}}')
    c = _collection(store)
    with pytest.raises(BadRequest) as err:
        bulk.load_files(store, c, [broken], clock=FakeClock(), parallel=True)
    assert "trailing comma" in str(err.value) and str(broken) in str(err.value)
    assert "10 objects read before it were stored" in str(err.value)
    assert store.count(c.pk) == 10


def test_a_reader_process_that_dies_is_an_error_not_a_short_load(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _mixed_file(tmp_path, 10)
    # A reader that exits at once, without a word: as if it had been killed.
    monkeypatch.setattr(bulk.sys, "executable", "/bin/true")
    with pytest.raises(Exception, match="reader process stopped unexpectedly"):
        bulk.load_files(store, _collection(store), [path], clock=FakeClock(), parallel=True)


def test_bulk_session_commits_in_steps_and_rolls_back_only_the_open_one(store: Store) -> None:
    c = _collection(store)
    items = [prepare(indicator(i)) for i in range(10)]
    assert all(isinstance(v, NewVersion) for v in items)
    versions = [v for v in items if isinstance(v, NewVersion)]
    clock = FakeClock()
    with pytest.raises(RuntimeError), store.bulk(c.pk, commit_every=4) as writer:
        writer.add(versions[:4], clock.now_us())  # committed: reached commit_every
        writer.add(versions[4:6], clock.now_us())  # open when the error comes
        raise RuntimeError("interrupted")
    assert store.count(c.pk) == 4
    # The write lock was released: ordinary writes and a new session work.
    assert all(o.ok for o in store.add_versions(c.pk, versions[4:6], clock.now_us()))
    with store.bulk(c.pk) as writer:
        outcomes = writer.add(versions, clock.now_us())
    assert all(o.ok for o in outcomes) and store.count(c.pk) == 10


def test_bulk_session_reports_a_store_failure(store: Store, tmp_path: Path) -> None:
    item = prepare(indicator(1))
    assert isinstance(item, NewVersion)
    c = _collection(store)
    store.close()
    with pytest.raises(StoreError), store.bulk(c.pk) as writer:
        writer.add([item], 1)


def test_the_audit_log_is_writable_while_a_bulk_session_holds_the_write_lock(
        store: Store) -> None:
    item = prepare(indicator(1))
    assert isinstance(item, NewVersion)
    c = _collection(store)
    done = threading.Event()

    def session() -> None:
        with store.bulk(c.pk) as writer:
            writer.add([item], 1)
            store.append_audit([Event(1, "o", "k", "add", "ok")])  # same thread, lock held
        done.set()

    worker = threading.Thread(target=session, daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert done.is_set(), "append_audit waited for the bulk session's write lock"
    assert [e.action for e in store.audit(AuditQuery())] == ["add"]


def test_reader_frames_survive_the_reader_being_stopped_and_continued(tmp_path: Path) -> None:
    """Ctrl-Z or a sampling profiler stops the reader process mid-write; through a
    BufferedWriter that lost bytes of a frame and the writer unpickled garbage."""
    import os
    import signal
    import sys
    import time

    n = 12_000  # frames of megabytes, far beyond the pipe's buffer
    path = tmp_path / "many.json"
    path.write_text(json.dumps({"type": "bundle", "id": BUNDLE_ID,
                                "objects": [indicator(i) for i in range(n)]}))
    proc = subprocess.Popen([sys.executable, "-m", "thiqa.bulk", str(path)],
                            stdout=subprocess.PIPE)
    assert proc.stdout is not None
    done = threading.Event()

    def pester() -> None:
        while not done.is_set() and proc.poll() is None:
            time.sleep(0.003)
            os.kill(proc.pid, signal.SIGSTOP)
            time.sleep(0.001)
            os.kill(proc.pid, signal.SIGCONT)

    thread = threading.Thread(target=pester)
    thread.start()
    read = 0
    try:
        while (msg := bulk._receive(proc.stdout)) is not None and msg[0] == "batch":
            read += msg[1]
            time.sleep(0.02)  # a writer slower than the reader: the pipe fills
    finally:
        done.set()
        thread.join()
        proc.stdout.close()
        proc.wait()
    assert msg is not None and msg[0] == "done"
    assert read == n


def _reader_processes(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen[bytes]]:
    """The reader processes ``bulk`` starts, as they start."""
    started: list[subprocess.Popen[bytes]] = []
    real = subprocess.Popen

    def popen(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        proc = real(*args, **kwargs)
        started.append(proc)
        return proc

    monkeypatch.setattr(subprocess, "Popen", popen)
    return started


def test_the_reader_runs_ahead_while_the_writer_stores_a_batch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Frames of megabytes, far beyond the pipe's buffer: without read-ahead the reader
    process would wait on the full pipe until the writer came back for the next one."""
    import time

    path = tmp_path / "three.json"
    n = (bulk._AHEAD + 1) * 5000  # the reader's batches: the one held, those read ahead
    path.write_text(json.dumps({"type": "bundle", "id": BUNDLE_ID,
                                "objects": [indicator(i) for i in range(n)]}))
    started = _reader_processes(monkeypatch)
    batches = bulk._from_process([path])
    first = next(batches)  # held, as if being stored
    proc = started[0]
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() == 0, "the reader waited for the writer"
    rest = list(batches)
    assert first.read + sum(b.read for b in rest) == n


def test_a_load_stopped_early_stops_the_reader_and_the_drain_thread(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "many.json"
    path.write_text(json.dumps({"type": "bundle", "id": BUNDLE_ID,
                                "objects": [indicator(i) for i in range(30_000)]}))
    started = _reader_processes(monkeypatch)
    batches = bulk._from_process([path])
    next(batches)
    batches.close()  # what a store error in the writer does to the generator
    assert started[0].poll() is not None
    assert not [t for t in threading.enumerate() if t.name == "thiqa-bulk-drain"]
