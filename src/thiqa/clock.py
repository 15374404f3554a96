"""Injected time and identifiers (STYLE: inject the clock and id generator, never monkeypatch)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field


def system_now_us() -> int:
    """Wall-clock microseconds since the Unix epoch."""
    return time.time_ns() // 1_000


@dataclass
class Clock:
    """Where thiqa gets the time and fresh UUIDs from.

    Tests pass a deterministic ``now_us`` and ``new_uuid``; production uses the defaults.
    """

    now_us: Callable[[], int] = system_now_us
    new_uuid: Callable[[], str] = field(default=lambda: str(uuid.uuid4()))


class FakeClock(Clock):
    """A manual clock for tests: time moves only when told to, ids count up."""

    def __init__(self, start_us: int = 1_700_000_000_000_000) -> None:
        self._now = start_us
        self._ids = 0
        super().__init__(now_us=self._get_now, new_uuid=self._next_uuid)

    def _get_now(self) -> int:
        return self._now

    def _next_uuid(self) -> str:
        self._ids += 1
        return str(uuid.UUID(int=self._ids, version=4))

    def advance(self, micros: int) -> None:
        self._now += micros
