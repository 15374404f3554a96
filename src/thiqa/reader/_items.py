"""What the reader hands out: items, and the one error it raises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from thiqa.errors import BadRequest

__all__ = ["Item", "ReadError"]


class ReadError(BadRequest, ValueError):
    """A file cannot be read as STIX JSON.

    A ``BadRequest`` so the CLI reports it like any other thiqa error (one hierarchy,
    ``thiqa.errors``), and a ``ValueError`` for callers that only know the reader.

    The message names the file, the byte offset (in the decompressed data for gzip), the
    line and, when known, the column, and what is wrong, e.g.
    ``events.json: byte 1532390 (line 37373, column 12): trailing comma is not allowed``.
    """

    def __init__(self, path: str, reason: str, *, offset: int | None = None,
                 line: int | None = None, column: int | None = None) -> None:
        self.path = path
        self.reason = reason
        self.offset = offset
        self.line = line
        self.column = column
        where = ""
        if offset is not None:
            where = f" byte {offset}"
            if line is not None:
                where += f" (line {line}" + (f", column {column})" if column else ")")
            where += ":"
        super().__init__(f"{path}:{where} {reason}")


@dataclass(frozen=True, slots=True)
class Item:
    """One STIX object as read.

    ``obj`` is None when the element is valid JSON but not an object (a number, a
    string, a list), so the caller can report it as an invalid STIX object.

    ``raw`` is the element's exact bytes as they appear in the file (decompressed):
    pretty-printed input keeps its inner indentation, and ``orjson.loads(raw) == obj``.
    It is never re-serialised.

    ``where`` locates it for messages: ``"f.json: objects[123]"`` for a bundle or TAXII
    envelope, ``"f.json: [5]"`` for a bare array, ``"f.jsonl:45"`` for a single object
    (the line it starts on), ``"f.jsonl:45 objects[3]"`` for a bundle on line 45.
    """

    obj: dict[str, Any] | None
    raw: bytes
    where: str
