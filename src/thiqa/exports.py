"""Exports: a whole collection (or a filtered part of it) as one STIX 2.1 bundle or as
JSON lines, for tools that do not speak TAXII.

An export is a sequence of ordinary reads (:meth:`thiqa.node.Node.read`), a page at a
time, so it sees exactly what the reader may see through TAXII (the one policy, rule 6)
and each page that discloses TLP:AMBER or stricter versions is in the audit log. It is
produced as it is read: memory stays flat whatever the size of the collection.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from thiqa.auth import Principal
from thiqa.errors import BadRequest
from thiqa.node import Node
from thiqa.store.model import LAST, ObjectQuery, Versions

Format = Literal["bundle", "jsonl"]
FORMATS: tuple[Format, ...] = ("bundle", "jsonl")
MEDIA_TYPES: dict[Format, str] = {"bundle": "application/stix+json;version=2.1",
                                  "jsonl": "application/x-ndjson"}
SUFFIXES: dict[Format, str] = {"bundle": ".json", "jsonl": ".jsonl"}
PAGE = 1000


def format_named(name: str) -> Format:
    for fmt in FORMATS:
        if name == fmt:
            return fmt
    raise BadRequest(f"format must be one of {', '.join(FORMATS)}, not {name!r}")


@dataclass(frozen=True, slots=True)
class Selection:
    """Which versions to export (the TAXII filters of a read)."""

    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    versions: Versions = LAST
    spec_versions: tuple[str, ...] = ()
    added_after: int | None = None


def bodies(node: Node, who: Principal, ref: str, selection: Selection) -> Iterator[bytes]:
    """The JSON of every version ``who`` may see in collection ``ref`` that the
    selection asks for, in date_added order. Access is checked before the first page
    (an invisible collection is a NotFound, as through TAXII)."""
    node.readable(who, ref)
    after = None
    while True:
        page = node.read(who, ref, ObjectQuery(
            0, selection.ids, selection.types, selection.versions, selection.spec_versions,
            selection.added_after, after, PAGE), bodies=True)
        for record in page.records:
            if record.body is not None:
                yield record.body
        if not page.more or page.cursor is None:
            return
        after = page.cursor


def render(chunks: Iterator[bytes], fmt: Format) -> Iterator[bytes]:
    """The bytes of the export file, in pieces of about a page."""
    if fmt == "jsonl":
        batch: list[bytes] = []
        for body in chunks:
            batch.append(body)
            if len(batch) == PAGE:
                yield b"\n".join(batch) + b"\n"
                batch = []
        if batch:
            yield b"\n".join(batch) + b"\n"
        return
    yield b'{"type":"bundle","id":"bundle--' + str(uuid.uuid4()).encode() + b'","objects":['
    first = True
    batch = []
    for body in chunks:
        batch.append(body)
        if len(batch) == PAGE:
            yield (b"" if first else b",") + b",".join(batch)
            first, batch = False, []
    if batch:
        yield (b"" if first else b",") + b",".join(batch)
    yield b"]}\n"


def export(node: Node, who: Principal, ref: str, selection: Selection,
           fmt: Format) -> Iterator[bytes]:
    """Validate access now, then produce the file lazily."""
    chunks = bodies(node, who, ref, selection)
    first = next(chunks, None)  # runs the access check (and the first page) at once

    def all_chunks() -> Iterator[bytes]:
        if first is not None:
            yield first
            yield from chunks
    return render(all_chunks(), fmt)
