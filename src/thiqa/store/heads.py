"""Which versions of an object are its first and last in a collection.

Written once above the stores: they hand in what a collection already holds for the
objects being written and get back the flags for new entries and the flag changes for
old ones. Reads then select ``match[version]=first|last`` (TAXII 2.1 §3.4.1) with an
indexed flag instead of a per-object aggregate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Held:
    """An entry a collection already has for an object."""

    seq: int
    vkey: str
    is_first: bool
    is_last: bool


def plan(
    held: Mapping[str, Sequence[Held]],
    new: Iterable[tuple[str, str]],
) -> tuple[list[tuple[bool, bool]], list[tuple[bool, bool, int]]]:
    """Flags for new entries (in input order) and ``(is_first, is_last, seq)`` updates."""
    new = list(new)
    bounds: dict[str, tuple[str, str]] = {}
    for object_id, entries in held.items():
        if entries:
            keys = [e.vkey for e in entries]
            bounds[object_id] = (min(keys), max(keys))
    for object_id, vkey in new:
        lo_hi = bounds.get(object_id)
        if lo_hi is None:
            bounds[object_id] = (vkey, vkey)
        else:
            bounds[object_id] = (min(lo_hi[0], vkey), max(lo_hi[1], vkey))

    flags = [(vkey == bounds[oid][0], vkey == bounds[oid][1]) for oid, vkey in new]
    updates: list[tuple[bool, bool, int]] = []
    for object_id, entries in held.items():
        lo, hi = bounds[object_id] if entries else ("", "")
        for e in entries:
            first, last = e.vkey == lo, e.vkey == hi
            if (first, last) != (e.is_first, e.is_last):
                updates.append((first, last, e.seq))
    return flags, updates
