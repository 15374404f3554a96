"""Wake-ups for consumers of the event log.

The log is the truth; the bus only says "look again". A consumer subscribes *before*
it reads, so a write that lands while it reads wakes its next wait at once, and a
lost or spurious wake-up costs one cheap read, never an event.

:class:`EventBus` is the interface: :class:`LocalBus` serves one process (the SQLite
store); a PostgreSQL store can implement it with LISTEN/NOTIFY so that many workers
wake each other. :class:`HeadPoller` covers writers the bus does not hear of (``thiqa
load`` in another process): it reads the node head every ``stream_poll_ms`` and
publishes when it moved.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

from starlette.concurrency import run_in_threadpool

log = logging.getLogger("thiqa.stream")


class Waiter(Protocol):
    def clear(self) -> None:
        """Forget earlier wake-ups (call before reading the log)."""
    def wake(self) -> None: ...
    async def wait(self, timeout: float) -> bool:
        """Until woken (True) or ``timeout`` seconds pass (False)."""
    def close(self) -> None: ...


class EventBus(Protocol):
    def publish(self) -> None:
        """Something may have been appended to the log: wake every subscriber. Safe to
        call from any thread."""
    def subscribe(self) -> Waiter: ...


class _LocalWaiter:
    def __init__(self, bus: LocalBus) -> None:
        self.bus = bus
        self.event = asyncio.Event()

    def clear(self) -> None:
        self.event.clear()

    def wake(self) -> None:
        self.event.set()

    async def wait(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), max(0.0, timeout))
        woken = self.event.is_set()
        self.event.clear()
        return woken

    def close(self) -> None:
        self.bus.waiters.discard(self)


class LocalBus:
    """:class:`EventBus` within one process (one event loop)."""

    def __init__(self) -> None:
        self.waiters: set[_LocalWaiter] = set()
        self.loop: asyncio.AbstractEventLoop | None = None

    def subscribe(self) -> Waiter:
        self.loop = asyncio.get_running_loop()
        waiter = _LocalWaiter(self)
        self.waiters.add(waiter)
        return waiter

    def publish(self) -> None:
        loop = self.loop
        if loop is None:
            return  # nobody has ever subscribed
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake_all()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(self._wake_all)

    def _wake_all(self) -> None:
        for waiter in list(self.waiters):
            waiter.wake()


class HeadPoller:
    """Publishes on ``bus`` whenever ``head()`` moves; stopped by a flag."""

    def __init__(self, head: Callable[[], int], bus: EventBus, interval_s: float) -> None:
        self.head = head
        self.bus = bus
        self.interval_s = interval_s
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        last = -1
        while not self.stopping.is_set():
            try:
                now = await run_in_threadpool(self.head)
            except Exception:  # a failed read must not end polling for good
                log.exception("reading the node sequence failed")
            else:
                if now != last:
                    if last >= 0:
                        self.bus.publish()
                    last = now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.interval_s)

    def stop(self) -> None:
        self.stopping.set()
