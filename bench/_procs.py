"""Child processes for the benchmarks: timed runs with exact peak RSS, and servers.

Every process started here is registered and killed at exit (``atexit``), so an
interrupted benchmark never leaves a server behind. Servers bind to 127.0.0.1 only.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_LIVE: list[subprocess.Popen[bytes]] = []


def _kill_all() -> None:
    for proc in list(_LIVE):
        stop(proc)


atexit.register(_kill_all)


def _byte_compile() -> None:
    """Compile thiqa's modules once, as ``pip install`` does for a regular install (and
    did for medallion). From an editable install, with PYTHONDONTWRITEBYTECODE set as on
    the test machines, every child process would otherwise compile each module it
    imports from source: ~0.3 s of every process start, twice per load."""
    import compileall

    import thiqa

    compileall.compile_dir(Path(thiqa.__file__).parent, quiet=1)


_byte_compile()


@dataclass(frozen=True, slots=True)
class Run:
    """One finished child: wall and CPU seconds, peak resident set size, its output."""

    seconds: float
    cpu_seconds: float  # user + system, from wait4 (these, unlike ru_maxrss, are its own)
    peak_rss: int  # bytes, the kernel's high-water mark (VmHWM)
    peak_anon: int  # largest RssAnon seen (heap), sampled
    peak_file: int  # largest RssFile seen (mapped files), sampled
    returncode: int
    stdout: bytes
    stderr: bytes


def run(argv: Sequence[str], *, timeout: float, cwd: Path | None = None,
        env: dict[str, str] | None = None) -> Run:
    """Run ``argv`` to completion; time it and track its peak RSS.

    The peak is the child's ``VmHWM`` (the kernel's high-water mark of its resident set),
    read every 10 ms: being a high-water mark, polling misses no spike, only growth in
    the last few milliseconds before exit. ``ru_maxrss`` from ``wait4`` would not do: on
    Linux it carries over the parent's resident set at fork time (this benchmark holds
    whole bundles in memory). A child's own children count too (``thiqa load`` reads
    and validates in a second process): peak is the sum of each process's high-water
    mark, an upper bound of their peaks at one moment. Output goes to temporary files,
    not pipes, so a chatty child can never block on a full pipe while we wait.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(list(argv), stdout=out, stderr=err, cwd=cwd, env=env,
                                stdin=subprocess.DEVNULL)
        _LIVE.append(proc)
        peak = peak_anon = peak_file = 0
        hwms: dict[int, int] = {}  # per process of the tree: its own high-water mark
        try:
            while True:
                anon = mapped = 0
                for pid in _tree(proc.pid):
                    hwm, a, m = _memory(pid)
                    hwms[pid] = max(hwms.get(pid, 0), hwm)
                    anon, mapped = anon + a, mapped + m
                peak, peak_anon, peak_file = (sum(hwms.values()), max(peak_anon, anon),
                                              max(peak_file, mapped))
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.perf_counter() - started > timeout:
                    raise TimeoutError(f"{argv[:4]} did not finish in {timeout:.0f} s")
                time.sleep(0.01)
            seconds = time.perf_counter() - started
            proc.returncode = os.waitstatus_to_exitcode(status)
        finally:
            if proc.returncode is None:
                stop(proc)
            _LIVE.remove(proc)
        out.seek(0)
        err.seek(0)
        return Run(seconds, usage.ru_utime + usage.ru_stime, peak, peak_anon, peak_file,
                   proc.returncode, out.read(), err.read())


def python(*args: str) -> list[str]:
    """argv for this interpreter (the one thiqa is installed in)."""
    return [sys.executable, *args]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start(argv: Sequence[str], *, port: int, log: Path, timeout: float = 30.0,
          cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """Start a server and return once it accepts TCP connections on 127.0.0.1:port."""
    with open(log, "wb") as sink:
        proc = subprocess.Popen(list(argv), stdout=sink, stderr=subprocess.STDOUT, cwd=cwd,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    _LIVE.append(proc)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _LIVE.remove(proc)
            raise RuntimeError(f"{argv[:4]} exited with {proc.returncode}:\n"
                               f"{log.read_text(errors='replace')[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.05)
    stop(proc)
    raise TimeoutError(f"{argv[:4]} did not listen on port {port} within {timeout:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s: only this one process, which we started."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    if proc in _LIVE:
        _LIVE.remove(proc)


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc/PID/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            with contextlib.suppress(OSError):  # it exited meanwhile
                todo.extend(int(c) for c in task.read_text().split())
    return out


def _memory(pid: int) -> tuple[int, int, int]:
    """(VmHWM, RssAnon, RssFile) of a process in bytes; zeros once it has exited.

    RssFile counts pages of mapped files (SQLite's mmap of the database): they are the
    kernel's page cache, reclaimable, unlike RssAnon (the heap)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0, 0, 0
    values = dict.fromkeys(("VmHWM", "RssAnon", "RssFile"), 0)
    for line in status.splitlines():
        name = line.split(":", 1)[0]
        if name in values:
            values[name] = int(line.split()[1]) * 1024
    return values["VmHWM"], values["RssAnon"], values["RssFile"]


def peak_rss(proc: subprocess.Popen[bytes]) -> int:
    """Peak resident set size of a running process so far, in bytes."""
    return _memory(proc.pid)[0]


def memory(proc: subprocess.Popen[bytes]) -> tuple[int, int, int]:
    """A running process's (peak RSS, heap now, mapped files now) in bytes: see
    :func:`_memory`. Every read connection of the SQLite store maps the database, so
    the same page-cache pages count once per connection in RSS; the heap is the
    process's own memory."""
    return _memory(proc.pid)
