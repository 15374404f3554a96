"""``thiqa serve --workers 2`` on PostgreSQL, as real processes: writes through one worker
wake streams held by the other at once (LISTEN/NOTIFY, with the head poller slowed to a
minute so that it cannot be what delivers), ``next`` cursors continue on any worker, one
worker leads the node's duties and another takes over when it dies; and SQLite refuses
more than one worker.

Which worker answered is the ``X-Thiqa-Worker`` header (its pid). Each request goes on a
new connection, so the kernel hands it to whichever worker accepts first; the loops that
wait for "the other worker" are bounded.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import pg
from tests.conftest import TAXII, indicator
from tests.e2e.conftest import (
    CLI_TIMEOUT_S,
    ServerProcess,
    clean_env,
    start_server,
    thiqa,
)
from tests.stream.sse import Reader
from thiqa.scale.leader import APPLICATION, LEADER_LOCK
from thiqa.scale.process import WORKER_HEADER

SLOW = ("--stream-poll-ms", "60000", "--stream-heartbeat", "60", "--shutdown-grace", "1")
TRIES = 200  # new connections tried before giving up on reaching the other worker


class Workers:
    def __init__(self, server: ServerProcess, key: str, collection: str, db: str) -> None:
        self.server = server
        self.key = key
        self.collection = collection
        self.db = db

    @property
    def objects_url(self) -> str:
        return f"{self.server.base}/api/collections/{self.collection}/objects/"

    def headers(self, **more: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "Accept": TAXII, **more}

    def post(self, *objs: dict[str, object]) -> int:
        """POST on a new connection; the pid of the worker that answered."""
        r = httpx.post(self.objects_url, headers=self.headers(**{"Content-Type": TAXII}),
                       json={"objects": list(objs)}, timeout=30)
        assert r.status_code == 202 and r.json()["success_count"] == len(objs), r.text
        return int(r.headers[WORKER_HEADER])

    def get(self, params: dict[str, str]) -> tuple[int, dict[str, object]]:
        r = httpx.get(self.objects_url, headers=self.headers(), params=params, timeout=30)
        assert r.status_code == 200, r.text
        return int(r.headers[WORKER_HEADER]), r.json()

    def pids(self) -> set[int]:
        """Both workers' pids (asked until two have answered)."""
        seen: set[int] = set()
        for _ in range(TRIES):
            r = httpx.get(f"{self.server.base}/taxii2/", headers=self.headers(), timeout=10)
            seen.add(int(r.headers[WORKER_HEADER]))
            if len(seen) == 2:
                return seen
        raise AssertionError(f"only worker(s) {seen} answered {TRIES} connections")


def pg_url() -> str:
    why = pg.unavailable()
    if why is not None:
        pytest.skip(f"PostgreSQL store not tested: {why}")
    return pg.schema_url("w")


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    db = pg_url()
    data = tmp_path / "node"
    first = thiqa(data, "init", "--db", db)
    key = first["api_key"]["key"]
    server = start_server(data, key, "--db", db, "--workers", "2", "--page-size", "100",
                          *SLOW)
    try:
        yield Workers(server, key, first["collection"]["id"], db)
    finally:
        code = server.stop()
    assert code == 0, server.output()  # the supervisor stopped every worker and exited
    assert "Traceback" not in server.output(), server.output()


def test_writes_through_either_worker_wake_a_stream_on_the_other_at_once(
        workers: Workers) -> None:
    sse = {"Authorization": f"Bearer {workers.key}", "Accept": "text/event-stream"}
    stream = Reader(f"{workers.server.base}/api/stream/", sse)
    assert stream.wait_open() == 200
    streamer = int(stream.response_headers[WORKER_HEADER])
    writers: list[int] = []
    received = []
    n = 0
    # One object a POST, each on a new connection, until both workers have written at
    # least 5 (and at least 30 in all); each must reach the stream before the next POST.
    while (n < 30 or min(writers.count(p) for p in set(writers)) < 5
           or len(set(writers)) < 2):
        assert n < TRIES, f"writes went to {set(writers)} only"
        writers.append(workers.post(indicator(n, tlp="green")))
        posted = time.monotonic()
        [frame] = stream.take(1, timeout=5)
        # The poller sleeps for a minute and the heartbeat too: only a wake-up on the bus
        # delivers it this soon.
        assert time.monotonic() - posted < 3
        received.append(frame)
        n += 1
    assert streamer in writers and len(set(writers)) == 2
    assert [f.json["id"] for f in received] == [indicator(i)["id"] for i in range(n)]
    seqs = [int(f.id or 0) for f in received]
    assert seqs == sorted(set(seqs))  # in order, each once
    assert stream.take(1, timeout=0.5) == []  # and nothing twice
    stream.close()


def test_next_cursors_continue_on_the_other_worker(workers: Workers) -> None:
    for start in range(0, 250, 50):
        workers.post(*(indicator(i, tlp="green") for i in range(start, start + 50)))
    first_pid, page = workers.get({"limit": "100"})
    got = [o["id"] for o in page["objects"]]  # type: ignore[attr-defined]
    answered = [first_pid]
    while page.get("more"):
        token = str(page["next"])
        # The same continuation, asked on new connections until the worker that did not
        # serve the previous page answers (a read is idempotent).
        for _ in range(TRIES):
            pid, page = workers.get({"limit": "100", "next": token})
            if pid != answered[-1]:
                break
        else:
            raise AssertionError(f"only worker {answered[-1]} answered")
        answered.append(pid)
        got += [o["id"] for o in page["objects"]]  # type: ignore[attr-defined]
    assert len(answered) == 3 and len(set(answered)) == 2
    assert got == [indicator(i)["id"] for i in range(250)]


def leaders(db: str) -> list[int]:
    """The pids of the processes holding the node's leader lock (from PostgreSQL)."""
    import psycopg

    with psycopg.connect(db, autocommit=True) as cx:
        rows = cx.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = "
            "l.pid WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = %s "
            "AND l.objid::bigint = (hashtext(current_schema())::bigint & 4294967295)",
            (LEADER_LOCK,)).fetchall()
    return [int(name.rsplit(" ", 1)[1]) for (name,) in rows if name.startswith(APPLICATION)]


def wait_for(what: str, check: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_one_worker_leads_and_another_takes_over_when_it_dies(workers: Workers) -> None:
    pids = workers.pids()
    [leader] = leaders(workers.db)
    assert leader in pids
    log = workers.server.output()
    assert log.count("leads the node's duties") == 1, log
    os.kill(leader, signal.SIGKILL)  # its connection closes: the lock is free
    wait_for("a new leader", lambda: len(found := leaders(workers.db)) == 1
             and found[0] != leader)
    [successor] = leaders(workers.db)
    assert successor != leader
    # The supervisor replaced the dead worker: two answer again, the successor among them.
    def replaced() -> bool:
        try:
            return len(workers.pids() - {leader}) == 2
        except AssertionError:  # only one answered yet: the replacement is starting
            return False

    wait_for("the replacement worker", replaced, timeout=30)
    assert f"process {successor} leads the node's duties" in workers.server.output()
    assert len(leaders(workers.db)) == 1


def test_sigint_stops_every_worker(tmp_path: Path) -> None:
    db = pg_url()
    data = tmp_path / "node"
    key = thiqa(data, "init", "--db", db)["api_key"]["key"]
    server = start_server(data, key, "--db", db, "--workers", "2", *SLOW)
    w = Workers(server, key, "", db)
    pids = w.pids()
    assert server.stop(signal.SIGINT) == 0  # Ctrl-C
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid), f"worker {pid} still runs"
    assert leaders(db) == []


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.parametrize("how", ["flag", "env"])
def test_sqlite_refuses_more_than_one_worker(tmp_path: Path, how: str) -> None:
    data = tmp_path / "node"
    env = clean_env()
    argv = [sys.executable, "-m", "thiqa", "serve", "--data", str(data), "--port", "1"]
    if how == "flag":
        argv += ["--workers", "2"]
    else:
        env["THIQA_WORKERS"] = "2"
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=CLI_TIMEOUT_S,
                       check=False)
    assert r.returncode == 1
    assert "workers = 2 needs the PostgreSQL store" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_workers_out_of_range_are_refused(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "thiqa", "config", "check", "--data",
                        str(tmp_path), "--workers", "0"], capture_output=True, text=True,
                       env=clean_env(), timeout=CLI_TIMEOUT_S, check=False)
    assert r.returncode == 1 and "workers must be between 1 and 64" in r.stderr, r.stderr
