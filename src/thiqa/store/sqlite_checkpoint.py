"""WAL checkpoints of the embedded store, in a thread of their own.

SQLite copies the WAL back into the database file (a checkpoint) in the connection
that commits, as soon as the WAL holds 1,000 pages. For a process that writes big
transactions (the receiving processes of a catch-up) that is nearly every commit:
random object ids scatter each batch over the pages of the id index, so a commit of
3,000 versions dirties thousands of pages. The writer then waits for the copy and for
the database file's fsync before it can parse, verify and validate the next batch:
11 % of the wall time of a catch-up's receiving process at 100k objects, more as the
index grows.

So such a store's writer connection does not checkpoint (``wal_autocheckpoint=0``,
``SQLiteStore(big_writes=True)``); after each commit it wakes this thread, which
checkpoints ``PASSIVE`` on a connection of its own, at most every ``interval``
seconds. SQLite releases the GIL while it copies, so the writer goes on meanwhile.
PASSIVE never waits for a reader or a writer: it copies what no reader's snapshot
still needs, and the next round copies the rest. Durability is unchanged — a commit
is durable in the WAL before it returns (``synchronous=FULL``); a checkpoint only
moves committed pages, and one cut short by a crash is redone by the next connection
to open the file.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

# Seconds between two checkpoints at least: commits coming faster share one.
INTERVAL_S = 0.2


class Checkpointer:
    """Checkpoints the WAL of the database at ``path`` after commits (:meth:`wake`);
    the thread starts at the first wake-up, so a store only read never runs one."""

    def __init__(self, path: Path, interval: float = INTERVAL_S) -> None:
        self.path = path
        self.interval = interval
        self.rounds = 0  # checkpoints run, for tests and diagnostics
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def wake(self) -> None:
        """A commit was made: checkpoint soon (never blocks)."""
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stop.is_set():
                    self._thread = threading.Thread(target=self._run, daemon=True,
                                                    name="thiqa-checkpoint")
                    self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        try:
            cx = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error:
            log.exception("cannot open %s to checkpoint its WAL", self.path)
            return
        try:
            while True:
                self._wake.wait()
                if self._stop.is_set():
                    break
                self._wake.clear()
                try:
                    cx.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # the next commit tries again
                    log.warning("checkpoint of %s failed: %s", self.path, exc)
                self.rounds += 1
                if self._stop.wait(self.interval):
                    break
        finally:
            cx.close()

    def close(self) -> None:
        """Stop the thread after the checkpoint under way, if any. The store's last
        connection to close checkpoints what is left (SQLite does that itself)."""
        with self._lock:
            self._stop.set()
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join()
