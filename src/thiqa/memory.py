"""glibc malloc limits for the node's long-running processes.

glibc gives every thread that allocates while the others hold their arenas an arena of
its own, up to 8 per core, and keeps the memory freed in each of them for reuse by that
arena only. A node's serving process runs dozens of threads (the TAXII thread pool, the
federation links, the correlation indexer): during a catch-up of 200,000 objects its
heap grew by ~80 MB that SQLite and Python no longer used, held in ~8 arenas. Two
arenas and a fixed mmap threshold of 256 KiB (blocks that large are mapped and unmapped
on their own, not carved from an arena, and the threshold no longer climbs to 32 MB
after such a block is freed) keep less of it (docs/federation.md, "Memory flat").

:func:`limit` sets them with ``mallopt`` (``mallopt(3)``) at the start of ``thiqa
serve``, its worker processes and the receiving process, before they start threads
(an arena made before stays). An operator's own choice wins: a limit set in the
environment (``MALLOC_ARENA_MAX``, ``MALLOC_MMAP_THRESHOLD_``, or the same tunable in
``GLIBC_TUNABLES``) is left as it is. On another C library (musl, macOS) nothing is done.

What a burst of work freed stays in the arenas for the next burst. Once the process is
idle, :func:`trim_when_idle` (in the serving process) and the receiving process hand it
back (``malloc_trim``): tens of MB after a catch-up, on either side of it.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

ARENA_MAX = 2
MMAP_THRESHOLD = 256 * 1024


@dataclass(frozen=True)
class _Limit:
    name: str
    param: int  # the M_* constant of <malloc.h>
    value: int
    env: str  # glibc's own environment variable for it
    tunable: str  # and its name in GLIBC_TUNABLES


LIMITS = (
    _Limit("arena_max", -8, ARENA_MAX, "MALLOC_ARENA_MAX", "glibc.malloc.arena_max"),
    _Limit("mmap_threshold", -3, MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_",
           "glibc.malloc.mmap_threshold"),
)


def _glibc() -> ctypes.CDLL | None:
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return None
    except (ValueError, OSError):  # not a glibc system: the name is unknown
        return None
    return ctypes.CDLL(None)  # the C library the interpreter already runs on


def _operator_set(limit: _Limit) -> bool:
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    return limit.env in os.environ or any(
        t.split("=", 1)[0] == limit.tunable for t in tunables.split(":"))


def limit() -> dict[str, int]:
    """Set the malloc limits the operator did not set; returns those set (name, value),
    empty off glibc."""
    libc = _glibc()
    if libc is None:
        return {}
    done = {}
    for x in LIMITS:
        if not _operator_set(x) and libc.mallopt(x.param, x.value) == 1:
            done[x.name] = x.value
    return done


def trim() -> bool:
    """Give the free memory at the top and in the middle of every arena back to the
    system (``malloc_trim(3)``); True if some was. Nothing off glibc."""
    libc = _glibc()
    return libc is not None and bool(libc.malloc_trim(0))


async def trim_when_idle(every_s: float = 10.0, busy: float = 0.05, *,
                         cpu: Callable[[], float] = time.process_time,
                         sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                         hand_back: Callable[[], bool] = trim) -> None:
    """Forever: each ``every_s`` seconds, :func:`trim` once if the process used less
    than ``busy`` of a core since the last look after being busier before. A trim walks
    every arena (a few ms on a heap of 200 MB): after a burst, not during one."""
    last, worked = cpu(), False
    while True:
        await sleep(every_s)
        now = cpu()
        used, last = now - last, now
        if used > busy * every_s:
            worked = True
        elif worked:
            hand_back()
            worked = False
