"""Streaming reader for STIX files: ``read_objects(path)`` yields batches of objects.

Accepted shapes, detected from the content (not the file name):

- a STIX bundle ``{"type": "bundle", "objects": [...]}`` (STIX 2.1 §8);
- a TAXII envelope ``{"objects": [...], "more": ...}`` (TAXII 2.1 §3.7);
- a bare JSON array of objects;
- a single STIX object;
- JSON lines: one object, bundle or envelope per line (in general: whitespace-separated
  JSON values, each read as above);
- any of these gzipped (recognised by magic bytes), and with or without a UTF-8 BOM.

Memory stays flat in file size: objects are cut out of the ``objects`` array one at a
time (``_array``, ``_scan``) and parsed with orjson; only a batch and about one read
chunk (1 MiB) are held.

Errors: everything is ``ReadError`` (a ``ValueError``), whose message names the file,
byte offset, line and column. Complete objects before a malformed spot are yielded
first. Elements that are valid JSON but not objects are yielded with ``obj=None`` for
the caller to report as invalid STIX; a bundle whose ``objects`` is not a list, an empty
file, UTF-16 input, nesting deeper than 512 levels and truncated or corrupt gzip data
raise ``ReadError``.

Limits: numbers are parsed by orjson, so integers beyond 64 bits become floats (STIX
integer properties are far smaller); one object must fit in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from ._items import Item, ReadError
from ._parse import CHUNK, Parser
from ._source import Source, SourceError

__all__ = ["Item", "ReadError", "read_objects"]


def read_objects(path: Path, *, on_progress: Callable[[int], None] | None = None,
                 batch: int = 1000, chunk_size: int = CHUNK) -> Iterator[list[Item]]:
    """Yield batches of at most ``batch`` STIX objects read from ``path``.

    ``on_progress`` is called after each read from the file with the number of bytes
    just read (compressed bytes for gzip); they add up to the file's size, so
    ``on_progress=bar.update`` drives a tqdm bar whose total is the sum of file sizes.
    ``chunk_size`` is how many (decompressed) bytes to read at a time.
    """
    if batch < 1 or chunk_size < 1:
        raise ValueError("batch and chunk_size must be at least 1")
    path = Path(path)
    name = str(path)
    try:
        f = path.open("rb")
    except OSError as exc:
        raise ReadError(name, exc.strerror or str(exc)) from exc
    with f:
        try:
            source = Source(f, on_progress)
        except SourceError as exc:
            raise ReadError(name, str(exc), offset=0) from None
        yield from Parser(source, name, batch, chunk_size).batches()
