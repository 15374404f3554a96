"""The SQLite store's read connections: shared by the threads that read, bounded, closed.

Connections are counted as the process's file descriptors open on the database file
itself (its -wal and -shm files are not counted), read from /proc/self/fd after every
thread has ended — not a count the code reports of itself. Each connection opens the
file once; SQLite keeps the descriptor of one closed while others hold locks on the file
(closing it would drop their POSIX locks) and hands it to the next connection opened, so
the count is bounded by the connections open at a time, and drops to 0 with the last.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from thiqa.errors import StoreError
from thiqa.store.model import Org
from thiqa.store.sqlite import SQLiteStore
from thiqa.store.sqlite_pool import IDLE, ReadPool

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(),
                                reason="counts file descriptors in /proc/self/fd")


def _open_on(path: Path) -> int:
    """File descriptors of this process open on ``path``."""
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            n += os.readlink(f"/proc/self/fd/{fd}") == str(path)
        except OSError:  # closed since the listing (the listing's own descriptor)
            continue
    return n


def _together(n: int, work: Callable[[], None]) -> None:
    """``work`` in ``n`` new threads that all start it at once; they end before this does."""
    barrier = threading.Barrier(n)
    failed: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            work()
        except BaseException as exc:
            failed.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failed, failed


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "thiqa.db")
    yield s
    s.close()


def test_threads_come_and_go_and_the_connections_stay_bounded(store: SQLiteStore) -> None:
    db = store.path.resolve()
    writer_only = _open_on(db)
    assert writer_only == 1
    for _ in range(20):  # 240 threads in all, 12 reading at a time
        _together(12, lambda: [store.list_orgs() for _ in range(5)] and None)
    # One connection per thread that ever read would leave 240.
    assert writer_only < _open_on(db) <= writer_only + 12
    assert len(store._pool._idle) <= IDLE
    store.close()
    assert _open_on(db) == 0


def test_a_shared_connection_sees_what_was_committed_since(store: SQLiteStore) -> None:
    _together(4, lambda: store.list_orgs() and None)  # connections idle in the pool now
    seen: list[list[str]] = []
    for i in range(3):
        store.add_org(Org(f"identity--{i}", f"org {i}", 0))
        _together(4, lambda: seen.append([o.name for o in store.list_orgs()]) and None)
        assert seen[-4:] == [[f"org {j}" for j in range(i + 1)]] * 4


def test_a_failed_read_leaves_no_connection_behind(store: SQLiteStore) -> None:
    db = store.path.resolve()
    for _ in range(3 * IDLE):
        with pytest.raises(StoreError):
            store._read("SELECT nothing FROM nowhere")
    assert _open_on(db) <= 1 + IDLE
    store.add_org(Org("identity--1", "after", 0))
    assert [o.name for o in store.list_orgs()] == ["after"]


def test_close_closes_every_connection(store: SQLiteStore) -> None:
    db = store.path.resolve()
    _together(6, lambda: store.list_orgs() and None)
    assert _open_on(db) > 1
    store.close()
    assert _open_on(db) == 0


def test_a_connection_in_use_is_closed_when_its_read_ends(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    sqlite3.connect(db).close()
    reading, closed = threading.Event(), threading.Event()

    def wait() -> int:  # a statement that runs until the pool is closed under it
        reading.set()
        closed.wait(10)
        return 1

    def connect() -> sqlite3.Connection:
        cx = sqlite3.connect(db, check_same_thread=False)
        cx.create_function("wait", 0, wait)
        return cx

    pool = ReadPool(connect)
    _together(3, lambda: pool.read("SELECT 1") and None)
    t = threading.Thread(target=pool.read, args=("SELECT wait()",))
    t.start()
    assert reading.wait(10)
    pool.close()
    assert _open_on(db) == 1  # the one in use
    closed.set()
    t.join()
    assert _open_on(db) == 0
    assert pool.read("SELECT 2") == [(2,)]  # a read after close still works, and leaves
    assert _open_on(db) == 0               # nothing open
