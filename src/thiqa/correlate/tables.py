"""Correlation's own tables (alerts, observations, sightings_of, hunt_state: migrations
0009 and 0014) on the store's database, whichever store it is.

Alerts, observations and the hunter each keep one connection of their own, beside the
store's (as the observable index does), and write their SQL once, with ``?``
placeholders and the statements both SQLite and PostgreSQL accept (``ON CONFLICT``,
``RETURNING``). :class:`SQLiteTables` opens the store's file; :class:`PgTables` the
PostgreSQL store's database, where a ``?`` becomes psycopg's ``%s``.

Every failure of the database is a :class:`StoreError` saying what could not be done.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from thiqa.correlate.index import connect
from thiqa.errors import ConfigError, StoreError


class Result(Protocol):
    @property
    def rowcount(self) -> int: ...
    def fetchall(self) -> list[Any]: ...


class Transaction(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result: ...
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> object: ...


class Tables(Protocol):
    def read(self, sql: str, params: Sequence[Any] = (), *, failing: str) -> list[Any]:
        """The rows of one query; ``failing`` says what failed if the database does."""
    def transaction(self, *, failing: str) -> AbstractContextManager[Transaction]:
        """One write transaction, committed when the block ends without an exception."""
    def nul_key(self, value: str) -> object:
        """``value``, a key with NUL separators, as its column keeps it (text on SQLite;
        PostgreSQL's text cannot hold NUL: BYTEA there)."""
    def close(self) -> None: ...


class SQLiteTables:
    """On the SQLite store's file (``BEGIN IMMEDIATE``: one writer across processes)."""

    def __init__(self, path: Path) -> None:
        self.cx = connect(path, writer=True)
        self._lock = threading.Lock()

    def read(self, sql: str, params: Sequence[Any] = (), *, failing: str) -> list[Any]:
        with self._lock:
            try:
                return self.cx.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"{failing}: {exc}") from exc

    @contextmanager
    def transaction(self, *, failing: str) -> Iterator[Transaction]:
        with self._lock:
            cx = self.cx
            try:
                cx.execute("BEGIN IMMEDIATE")
                try:
                    yield cx
                    cx.execute("COMMIT")
                except BaseException:
                    if cx.in_transaction:
                        cx.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise StoreError(f"{failing}: {exc}") from exc

    def nul_key(self, value: str) -> object:
        return value

    def close(self) -> None:
        with self._lock:
            self.cx.close()


class _PgTransaction:
    def __init__(self, cur: Any) -> None:
        self.cur = cur

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        self.cur.execute(sql.replace("?", "%s"), params)
        return self.cur  # type: ignore[no-any-return]

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.cur.executemany(sql.replace("?", "%s"), rows)


class PgTables:
    """On the PostgreSQL store's database: one connection (reopened after a server
    restart), each write its own transaction. These tables are not ordered by the node
    sequence, so their writes do not take the store's write lock."""

    def __init__(self, url: str) -> None:
        import psycopg

        self._psycopg = psycopg
        self.url = url
        self._lock = threading.Lock()
        self._cx: Any = None

    def _conn(self) -> Any:
        if self._cx is None or self._cx.broken:
            self._cx = self._psycopg.connect(self.url, autocommit=False, connect_timeout=10)
            self._cx.execute("SET synchronous_commit = on")
            self._cx.commit()
        return self._cx

    def read(self, sql: str, params: Sequence[Any] = (), *, failing: str) -> list[Any]:
        with self._lock:
            try:
                cx = self._conn()
                try:
                    return list(cx.execute(sql.replace("?", "%s"), params).fetchall())
                finally:
                    cx.rollback()  # end the read's transaction: no snapshot kept open
            except self._psycopg.Error as exc:
                raise StoreError(f"{failing}: {exc}") from exc

    @contextmanager
    def transaction(self, *, failing: str) -> Iterator[Transaction]:
        with self._lock:
            try:
                cx = self._conn()
                try:
                    yield _PgTransaction(cx.cursor())
                    cx.commit()
                except BaseException:
                    if not cx.closed and not cx.broken:
                        cx.rollback()
                    raise
            except self._psycopg.Error as exc:
                raise StoreError(f"{failing}: {exc}") from exc

    def nul_key(self, value: str) -> object:
        return value.encode()

    def close(self) -> None:
        with self._lock:
            if self._cx is not None:
                self._cx.close()
                self._cx = None


def open_tables(store: object) -> Tables:
    """Correlation's tables on ``store``'s database."""
    from thiqa.store.sqlite import SQLiteStore

    if isinstance(store, SQLiteStore):
        return SQLiteTables(store.path)
    try:
        from thiqa.store.postgres import PostgresStore
    except ModuleNotFoundError:  # no driver, so no PostgreSQL store either
        pass
    else:
        if isinstance(store, PostgresStore):
            return PgTables(store.url)
    raise ConfigError(f"correlation cannot run on a {type(store).__name__}")


__all__ = ["PgTables", "SQLiteTables", "Tables", "Transaction", "open_tables"]
