"""A store opened for big writes (the receiving processes) leaves the WAL's checkpoints to a
thread of its own, and such writers write one after the other, taking turns.

What is observed is the database file itself: with the writer's automatic checkpoints
off, the pages of a commit reach the main file only through the checkpointer's thread.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from tests.conftest import indicator
from thiqa.clock import FakeClock
from thiqa.node import Node
from thiqa.settings import Settings
from thiqa.store.model import Org
from thiqa.store.sqlite import SQLiteStore
from thiqa.store.sqlite_checkpoint import Checkpointer


def _wait(check: object, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def _node(tmp_path: Path) -> Node:
    return Node(Settings(data=str(tmp_path)), SQLiteStore(tmp_path / "thiqa.db", big_writes=True),
                FakeClock())


def test_commits_reach_the_database_file_through_the_checkpointer(tmp_path: Path) -> None:
    node = _node(tmp_path)
    store = node.store
    assert isinstance(store, SQLiteStore)
    try:
        assert store._writer.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        org = node.create_org("Agency A")
        c = node.create_collection("Shared", alias="shared", readers=[org.id],
                                   writers=[org.id])
        who = node.operator_for(org.id)
        # Let every commit so far be checkpointed, then look at the file's size.
        checkpoints = store._checkpoints
        assert checkpoints is not None
        assert _wait(lambda: checkpoints.rounds > 0)
        time.sleep(0.3)
        before = (tmp_path / "thiqa.db").stat().st_size
        rounds = checkpoints.rounds
        node.add_objects(who, c.id, [indicator(n) for n in range(6000)])
        # The writer did not copy its pages into the file: the thread did, soon after.
        assert _wait(lambda: (tmp_path / "thiqa.db").stat().st_size > before + 1_000_000, 20)
        assert checkpoints.rounds > rounds
    finally:
        store.close()
    # Closed: the thread has ended, and the data is whole on reopening.
    assert not any(t.name == "thiqa-checkpoint" for t in threading.enumerate())
    again = SQLiteStore(tmp_path / "thiqa.db")
    try:
        got = again.get_collection("shared")
        assert got is not None and again.count(got.pk) == 6000
    finally:
        again.close()


def test_wakes_coming_fast_share_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    cx = sqlite3.connect(path, isolation_level=None)
    cx.execute("PRAGMA journal_mode=WAL")
    cx.execute("PRAGMA wal_autocheckpoint=0")
    cx.execute("CREATE TABLE t (x BLOB)")
    checkpoints = Checkpointer(path, interval=0.5)
    try:
        for _ in range(50):
            cx.execute("INSERT INTO t VALUES (randomblob(10000))")
            checkpoints.wake()
        assert _wait(lambda: checkpoints.rounds >= 1)
        time.sleep(0.2)
        assert checkpoints.rounds <= 2  # 50 commits, within one pause or two
        # What the thread checkpointed is in the file: nothing is left to copy.
        assert _wait(lambda: cx.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[0] == 0)
    finally:
        checkpoints.close()
        cx.close()


def test_a_store_only_read_runs_no_thread(tmp_path: Path) -> None:
    SQLiteStore(tmp_path / "thiqa.db").close()
    store = SQLiteStore(tmp_path / "thiqa.db", big_writes=True)
    try:
        store.list_collections()
        assert store._checkpoints is not None and store._checkpoints._thread is None
    finally:
        store.close()


def test_stores_for_big_writes_write_one_after_the_other(tmp_path: Path) -> None:
    first = SQLiteStore(tmp_path / "thiqa.db", big_writes=True)
    second = SQLiteStore(tmp_path / "thiqa.db", big_writes=True)
    done = threading.Event()

    def write() -> None:
        second.add_org(Org("identity--00000000-0000-4000-8000-000000000002", "B", 1))
        done.set()

    try:
        assert (tmp_path / "thiqa.db-turn").exists()
        with first._tx():
            writer = threading.Thread(target=write)
            writer.start()
            assert not done.wait(0.3)  # waits for its turn, not for SQLite's busy handler
            started = time.monotonic()
        assert done.wait(5)
        assert time.monotonic() - started < 0.1  # it went on as the first committed
        writer.join()
        assert [o.name for o in first.list_orgs()] == ["B"]
    finally:
        first.close()
        second.close()


def test_other_stores_keep_sqlite_s_own_checkpoints(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "thiqa.db")
    try:
        assert store._writer.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
        assert store._checkpoints is None and store._turns is None
    finally:
        store.close()
