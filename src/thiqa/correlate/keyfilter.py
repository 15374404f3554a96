"""The matcher's in-memory filter of index keys: a bitmap that says "not indexed" for
most observed values without asking the database.

Almost every value submitted to matching is in no indicator (the benchmark's 99%); on
an index of 10M indicators a lookup in SQLite costs 2–4 µs, the filter's answer a
fraction of one. The filter is a bitmap of ``2**b`` bits (b ≤ 31) with one bit per
indexed key, at the key's low ``b`` bits (a Bloom filter with one hash function: the
low 31 bits of a key are the seeded CRC-32 of its text, :func:`thiqa.correlate.index.
key`). A clear bit means no row has that key: the value is certainly not indexed and
is not looked up. A set bit is a maybe, and the lookup goes to the database as
before, which compares the text: a false positive costs one lookup, never a match.

It must hold every key of every row the index has up to the mark it records; more is
harmless. So:

- **writes**: the indexer adds rows for entries above its mark only, and moves the
  mark in the same transaction. Before matching, :meth:`FilterKeeper.current` reads
  the mark and adds the keys of the rows between the filter's mark and it (the
  ``observables_seq`` index). Rows leave the index (a deletion, a retraction) without
  the filter forgetting their bits: stale bits only cost a lookup. A revocation is a
  new version, indexed as nothing (it contributes no observable), and the old version
  stops matching by ``entries.is_last`` as before;
- **rebuilds** (``thiqa index --rebuild``) bump ``correlate_state.generation``
  (migration 0013): a filter of another generation, or whose mark is above the
  index's, is built again from the whole index;
- **restarts**: on the SQLite store the filter is kept beside the database
  (``thiqa.db-keyfilter``: a header with its generation and mark, then the bitmap),
  written after every build and once the rows added since are :data:`SAVE_EVERY` and
  an eighth of those it held (a 64 MiB write per 1.3M rows at 10M), and read back at
  the first match: a file of the index's generation whose mark is not above the
  index's is completed from the index like the filter in memory; anything else (no
  file, another generation, a damaged file) is built again (one scan of the keys,
  about 1 s per million rows). Generations are random at migration 0013, so the file
  of another database never passes for this one's. On PostgreSQL it is built at the
  first match;
- it is sized at :data:`BITS_PER_KEY` bits per row (a power of two, 8 KiB at least,
  256 MiB at most: 64 MiB for the 10.2M rows of 10M indicators) and built again,
  larger, once the rows added since have doubled it: a false-positive rate of 1.5–3%
  after a build, 6% at most.
"""

from __future__ import annotations

import os
import struct
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

#: Bits per indexed row at a build: a fill of 1/32 to 1/64, so 1.5–3% false positives.
BITS_PER_KEY = 32
MIN_BITS_LOG2 = 16
#: The low 31 bits of a key are one CRC-32's: more bits would add no information.
MAX_BITS_LOG2 = 31
#: Rows read from the database per query while building.
CHUNK = 250_000
#: A kept filter is written again once this many rows were added to it since.
SAVE_EVERY = 100_000
_MAGIC = b"thiqa-keyfilter\x01"
_HEADER = struct.Struct("<16sqqqq")  # magic, log2, generation, mark, added


def size_for(rows: int) -> int:
    """log2 of the bitmap's size in bits for ``rows`` indexed rows."""
    want = max(rows, 1) * BITS_PER_KEY
    return max(MIN_BITS_LOG2, min(MAX_BITS_LOG2, (want - 1).bit_length()))


class KeyFilter:
    """A bitmap of ``2**log2`` bits over index keys, covering the rows of one index
    generation up to ``mark``."""

    __slots__ = ("added", "bits", "generation", "mark", "mask")

    def __init__(self, log2: int, generation: int = 0, mark: int = 0) -> None:
        if not MIN_BITS_LOG2 <= log2 <= MAX_BITS_LOG2:
            raise ValueError(f"a key filter has 2**{MIN_BITS_LOG2}..2**{MAX_BITS_LOG2} bits")
        self.mask = (1 << log2) - 1
        self.bits = bytearray(1 << (log2 - 3))
        self.generation = generation
        self.mark = mark
        self.added = 0  # rows added (a key added twice counts twice: an upper bound)

    def add(self, keys: Iterable[int]) -> None:
        bits, mask = self.bits, self.mask
        n = 0
        for k in keys:
            p = k & mask
            bits[p >> 3] |= 1 << (p & 7)
            n += 1
        self.added += n

    def __contains__(self, k: int) -> bool:
        """False: no row has key ``k``. True: some row may have it."""
        p = k & self.mask
        return bool(self.bits[p >> 3] >> (p & 7) & 1)

    def crowded(self) -> bool:
        """Past a fill of 1/16 (6% false positives): time to build a larger one."""
        return self.added * 16 > self.mask + 1

    @property
    def nbytes(self) -> int:
        return len(self.bits)

    def save(self, path: Path) -> None:
        """Write the filter to ``path`` (a temporary file renamed over it: a reader never
        sees half a filter)."""
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        log2 = (self.mask + 1).bit_length() - 1
        with open(tmp, "wb") as out:
            out.write(_HEADER.pack(_MAGIC, log2, self.generation, self.mark, self.added))
            out.write(self.bits)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> KeyFilter | None:
        """The filter saved at ``path``; None if there is none or it is not whole."""
        try:
            with open(path, "rb") as f:
                head = f.read(_HEADER.size)
                if len(head) != _HEADER.size:
                    return None
                magic, log2, generation, mark, added = _HEADER.unpack(head)
                if magic != _MAGIC or not MIN_BITS_LOG2 <= log2 <= MAX_BITS_LOG2:
                    return None
                out = cls(log2, generation, mark)
                if f.readinto(out.bits) != len(out.bits) or f.read(1):
                    return None
        except OSError:
            return None
        out.added = added
        return out


@dataclass(frozen=True, slots=True)
class Source:
    """Where a filter's keys come from (the index reader): ``state()`` is (mark,
    generation), ``rows()`` how many rows the index has (read at a build only: a count
    scans an index), ``keys(lo, hi)`` the keys of rows with ``lo < seq <= hi``."""

    state: Callable[[], tuple[int, int]]
    rows: Callable[[], int]
    keys: Callable[[int, int], list[int]]


class FilterKeeper:
    """Keeps one :class:`KeyFilter` up to date with the index, for every thread that
    matches (``current`` under a lock; a filter handed out only ever gains bits)."""

    def __init__(self, source: Source, *, path: Path | None = None,
                 chunk: int = CHUNK) -> None:
        self.source = source
        self.path = path
        self.chunk = chunk
        self._filter: KeyFilter | None = None
        self._saved = 0  # rows the file held when it was last written or read
        self._lock = threading.Lock()
        self.builds = 0  # full builds so far (tests, the benchmark)
        self.loaded = False  # whether the filter came from the file

    def current(self) -> KeyFilter:
        """The filter, holding at least every key the index has at this moment."""
        with self._lock:
            mark, generation = self.source.state()
            f = self._filter
            if f is None and self.path is not None:
                f = KeyFilter.load(self.path)
                self.loaded = f is not None
                self._saved = f.added if f is not None else 0
            if f is None or f.generation != generation or f.mark > mark or f.crowded():
                f = self._build(mark, generation)
                self.loaded = False
            elif f.mark < mark:
                self._fill(f, f.mark, mark)
                f.mark = mark
                if f.crowded():
                    f = self._build(mark, generation)
                elif f.added - self._saved >= max(SAVE_EVERY, self._saved // 8):
                    self._save(f)
            self._filter = f
            return f

    def _build(self, mark: int, generation: int) -> KeyFilter:
        f = KeyFilter(size_for(self.source.rows()), generation, mark)
        self._fill(f, 0, mark)
        self.builds += 1
        self._save(f)
        return f

    def _save(self, f: KeyFilter) -> None:
        if self.path is None:
            return
        try:
            f.save(self.path)
        except OSError:
            return  # a read-only data directory: the filter is built at each start
        self._saved = f.added

    def _fill(self, f: KeyFilter, lo: int, hi: int) -> None:
        # By ranges of seq, so no single read holds the whole index in memory (and a
        # matching thread can take the reader between two of them).
        step = max(1, self.chunk)
        while lo < hi:
            top = min(hi, lo + step)
            f.add(self.source.keys(lo, top))
            lo = top

    def forget(self) -> None:
        with self._lock:
            self._filter = None
