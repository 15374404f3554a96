"""The SQLite store's read connections: a few, shared by the threads that read.

Reads used to go through one connection per thread, kept until the store closed. The
threads that read come and go (the TAXII thread pool replaces its threads, each
catch-up and stream runs its own), so on a node that ran for hours the connections of
dead threads piled up, each with its file descriptors, its mapping of the database and
its page cache: 11 connections at the start of a slow catch-up (575 s), 40 by its end.

Every read is one statement, run to the end and its cursor closed before the connection
goes back (:meth:`ReadPool.read`): an idle connection holds no read transaction, so the
next thread to take it sees every commit made meanwhile. A thread takes an idle
connection or opens one; on its return the connection is kept if fewer than ``idle``
are kept, else closed. So at most ``idle`` stay open between reads, and during a burst
as many as there are concurrent reads.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import Any

# Idle read connections kept open (as many as the PostgreSQL store keeps).
IDLE = 8


class ReadPool:
    """Read connections made by ``connect``, at most ``idle`` of them kept between reads."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], idle: int = IDLE) -> None:
        self._connect = connect
        self._size = idle
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._closed = False

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """All the rows of one statement (raises ``sqlite3.Error``)."""
        with self._lock:
            cx = self._idle.pop() if self._idle else None
        if cx is None:
            cx = self._connect()
        keep = False
        try:
            cur = cx.execute(sql, params)
            try:
                rows = cur.fetchall()
            finally:
                cur.close()  # ends the statement, and with it the read transaction
            keep = True
            return rows
        finally:
            with self._lock:
                keep = keep and not self._closed and len(self._idle) < self._size
                if keep:
                    self._idle.append(cx)
            if not keep:
                cx.close()

    def close(self) -> None:
        """Close the idle connections; one in use is closed when its read ends. A read
        after this opens a connection of its own and closes it."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for cx in idle:
            cx.close()
