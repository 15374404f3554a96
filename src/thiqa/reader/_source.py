"""Bytes from a file, gunzipped on the fly when it is gzip, with progress reporting.

gzip is recognised by its magic bytes (RFC 1952 §2.3.1), not by the ``.gz`` suffix:
feeds are often saved under names that do not say. Multi-member files (``cat a.gz
b.gz``, pigz) are read to the end, as gzip(1) does. Each call returns at most
``size`` decompressed bytes, so a small, highly compressed file cannot blow up memory.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import BinaryIO

__all__ = ["Source", "SourceError"]

_RAW_CHUNK = 256 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
# Formats that are easy to feed by mistake; named so the error says what to do.
_OTHER_MAGIC = {
    b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz", b"\x28\xb5\x2f\xfd": "zstd",
    b"PK\x03\x04": "zip", b"\x04\x22\x4d\x18": "lz4",
}


class SourceError(Exception):
    """The file cannot be read as (possibly gzipped) bytes; the reader adds the position."""


class Source:
    """Decompressed bytes of one open file, read in chunks."""

    def __init__(self, f: BinaryIO, on_progress: Callable[[int], None] | None) -> None:
        self._f = f
        self._on_progress = on_progress
        self.consumed = 0  # bytes read from the file itself (compressed, for gzip)
        # Just enough to recognise the format; the reader's first read returns it.
        self._pending = self._raw_read(max(len(m) for m in _OTHER_MAGIC))
        self.gzip = self._pending.startswith(_GZIP_MAGIC)
        for magic, name in _OTHER_MAGIC.items():
            if self._pending.startswith(magic):
                raise SourceError(f"{name}-compressed files are not supported; "
                                  "decompress it or use gzip")
        self._inflate = zlib.decompressobj(wbits=31)

    def _raw_read(self, size: int) -> bytes:
        data = self._f.read(size)
        if data:
            self.consumed += len(data)
            if self._on_progress is not None:
                self._on_progress(len(data))
        return data

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes of content; ``b""`` only at the end of the file."""
        if not self.gzip:
            if self._pending:
                data, self._pending = self._pending, b""
                return data
            return self._raw_read(size)
        while True:
            d = self._inflate
            if self._pending:
                data, self._pending = self._pending, b""
            elif d.unconsumed_tail:
                data = d.unconsumed_tail
            elif d.eof:
                data = d.unused_data or self._raw_read(_RAW_CHUNK)
                if not data:
                    return b""
                # RFC 1952 §2.2: a gzip file is a series of members; start the next.
                self._inflate = d = zlib.decompressobj(wbits=31)
            else:
                data = self._raw_read(_RAW_CHUNK)
                if not data:
                    raise SourceError("truncated gzip file: the compressed data ends early")
            try:
                out = d.decompress(data, size)
            except zlib.error as exc:
                raise SourceError(f"corrupt gzip data ({exc})") from exc
            if out:
                return out
