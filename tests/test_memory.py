"""The malloc limits: what glibc does once :func:`thiqa.memory.limit` ran, seen in a fresh
interpreter (a limit, once set, stays for the life of a process)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from thiqa import memory

glibc_only = pytest.mark.skipif(not memory._glibc(), reason="the limits are glibc's")

# Eight threads alive together, each allocating: glibc gives each an arena of its own
# (up to 8 per core) unless arena_max stops it. Then a block of 300 KB after a 4 MB
# one was freed: glibc's own threshold has risen to 4 MB, so it comes from an arena;
# with the threshold fixed at 256 KB it is mapped on its own (mallinfo2's hblks).
_PROBE = """
import ctypes, json, sys, threading
from thiqa import memory

done = memory.limit() if sys.argv[1] == "limit" else {}

barrier = threading.Barrier(8)
def allocate():
    held = [bytearray(100_000) for _ in range(4)]
    barrier.wait()
threads = [threading.Thread(target=allocate) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()

class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks",
                "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.free(libc.malloc(4 << 20))
before = libc.mallinfo2().hblks
block = libc.malloc(300_000)
mapped = libc.mallinfo2().hblks - before
libc.free(block)
libc.malloc_stats()  # one "Arena N:" paragraph per arena, on stderr
print(json.dumps({"done": done, "mapped": mapped}))
"""


def _probe(mode: str, **env: str) -> tuple[dict[str, int], int, int]:
    """(what limit() set, arenas after the threads, 300 KB blocks mapped on their own)."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    r = subprocess.run([sys.executable, "-c", _PROBE, mode], env={**clean, **env},
                       capture_output=True, text=True, timeout=60, check=True)
    out = json.loads(r.stdout)
    arenas = sum(line.startswith("Arena ") for line in r.stderr.splitlines())
    return out["done"], arenas, out["mapped"]


@glibc_only
def test_without_the_limits_glibc_makes_many_arenas_and_a_rising_threshold() -> None:
    # The probe itself, shown to tell the two apart.
    done, arenas, mapped = _probe("none")
    assert done == {}
    assert arenas > memory.ARENA_MAX
    assert mapped == 0


@glibc_only
def test_limit_caps_arenas_and_fixes_the_mmap_threshold() -> None:
    done, arenas, mapped = _probe("limit")
    assert done == {"arena_max": memory.ARENA_MAX, "mmap_threshold": memory.MMAP_THRESHOLD}
    assert 1 <= arenas <= memory.ARENA_MAX
    assert mapped == 1


@glibc_only
def test_the_operators_environment_wins() -> None:
    done, arenas, mapped = _probe("limit", MALLOC_ARENA_MAX="4")
    assert done == {"mmap_threshold": memory.MMAP_THRESHOLD}
    assert memory.ARENA_MAX < arenas <= 4
    assert mapped == 1

    done, arenas, mapped = _probe("limit", GLIBC_TUNABLES="glibc.malloc.mmap_threshold=4194304")
    assert done == {"arena_max": memory.ARENA_MAX}
    assert arenas <= memory.ARENA_MAX
    assert mapped == 0


def test_nothing_is_done_off_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_glibc(name: str) -> str:
        raise ValueError(f"unrecognized configuration name {name!r}")

    monkeypatch.setattr(os, "confstr", not_glibc)
    assert memory.limit() == {}
    assert memory.trim() is False


@glibc_only
def test_trim_hands_back_what_was_freed_below_the_top_of_the_heap() -> None:
    # 50 MB in 64 KB blocks, all freed but the last: free() cannot give back memory
    # below a block in use; malloc_trim can.
    probe = """
import ctypes
from thiqa import memory
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
def anon_kb():
    return next(int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("RssAnon:"))
blocks = [libc.malloc(64 << 10) for _ in range(800)]
for b in blocks:
    libc.memset(b, 1, 64 << 10)
for b in blocks[:-1]:
    libc.free(b)
before = anon_kb()
print(memory.trim(), (before - anon_kb()) >> 10)
"""
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                       timeout=60, check=True)
    trimmed, mb = r.stdout.split()
    assert trimmed == "True"
    assert int(mb) >= 40


def test_trim_when_idle_trims_once_after_each_busy_spell() -> None:
    # CPU seconds used in each 10 s look: busy, busy, idle, idle, busy, idle, idle.
    used = iter([0.0, 5.0, 5.0, 0.1, 0.1, 3.0, 0.0, 0.0])
    total = [0.0]
    looks: list[float] = []
    trims: list[int] = []

    def cpu() -> float:
        total[0] += next(used)
        return total[0]

    async def sleep(s: float) -> None:
        if len(looks) == 7:
            raise asyncio.CancelledError
        looks.append(s)

    def hand_back() -> bool:
        trims.append(len(looks))
        return True

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(memory.trim_when_idle(10.0, cpu=cpu, sleep=sleep, hand_back=hand_back))
    assert looks == [10.0] * 7
    assert trims == [3, 6]  # at the first idle look of each spell, not again
