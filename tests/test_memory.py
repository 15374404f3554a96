"""The malloc limits: what glibc does once :func:`thiqa.memory.limit` ran, seen in a fresh
interpreter (a limit, once set, stays for the life of a process)."""

from __future__ import annotations

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
