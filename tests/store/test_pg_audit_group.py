"""The PostgreSQL audit log's group commit: appends from many threads at once are all
recorded, each durable when its call returns, and fewer commits than appends are made;
a failed commit is raised to every caller whose events it held."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests import pg
from thiqa.audit import AuditQuery, Event
from thiqa.errors import StoreError


def audit_log():  # type: ignore[no-untyped-def]
    why = pg.unavailable()
    if why is not None:
        pytest.skip(f"PostgreSQL store not tested: {why}")
    from thiqa.store.postgres_audit import PostgresAuditLog

    return PostgresAuditLog(pg.schema_url())


def event(n: int) -> Event:
    return Event(1_000_000 + n, "identity--a", f"key{n}", "read", "ok", "c", detail=f"#{n}")


def test_concurrent_appends_are_all_recorded_in_fewer_commits() -> None:
    log = audit_log()
    commits = 0
    write = log._write
    gate = threading.Barrier(16)

    def counted(rows: list[tuple[object, ...]]) -> None:
        nonlocal commits
        commits += 1
        write(rows)

    log._write = counted  # type: ignore[method-assign]
    try:
        def one(n: int) -> int:
            if n < 16:
                gate.wait()  # the first 16 arrive together
            log.append([event(n)])
            # Durable when append returns: this process's own query sees it.
            assert any(e.detail == f"#{n}" for e in log.query(AuditQuery(limit=1000)))
            return n

        with ThreadPoolExecutor(16) as pool:
            done = list(pool.map(one, range(200)))
        assert done == list(range(200))
        found = {e.detail for e in log.query(AuditQuery(limit=1000))}
        assert found == {f"#{n}" for n in range(200)}
        assert commits < 200
    finally:
        log.close()


def test_a_failed_commit_is_raised_to_every_caller_of_its_batch() -> None:
    log = audit_log()
    entered, release = threading.Event(), threading.Event()
    write = log._write
    calls = 0

    def failing(rows: list[tuple[object, ...]]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:  # the first batch: hold it while the others queue, then succeed
            entered.set()
            release.wait(10)
            write(rows)
            return
        raise StoreError("cannot record in the audit log: the disk is full")

    log._write = failing  # type: ignore[method-assign]
    try:
        with ThreadPoolExecutor(6) as pool:
            first = pool.submit(log.append, [event(0)])
            assert entered.wait(10)
            queued = [pool.submit(log.append, [event(n)]) for n in range(1, 6)]
            deadline = time.monotonic() + 10
            while len(log._queue) < 5 and time.monotonic() < deadline:
                time.sleep(0.01)  # until all five wait behind the first commit
            release.set()
            first.result(10)
            errors = [f.exception(10) for f in queued]
        assert calls == 2  # the five queued appends went in one (failed) commit
        assert all(isinstance(e, StoreError) and "disk is full" in str(e) for e in errors)
    finally:
        log.close()
