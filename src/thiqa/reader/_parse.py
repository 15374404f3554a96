"""The reader proper: top-level shapes, the ``objects`` array, buffering and errors.

A file is read as a sequence of top-level JSON values separated by whitespace, which
covers both one-document files and JSON lines with one rule. Each value is:

- an object with an ``objects`` list and no ``type`` or ``type: "bundle"`` — a STIX
  bundle (STIX 2.1 §8) or TAXII envelope (TAXII 2.1 §3.7): its elements are streamed;
- an object that is a bundle or an envelope with no ``objects`` — nothing to read;
- any other object — a single STIX object;
- an array — its elements are streamed;
- anything else — one item with ``obj=None``.

The buffer holds the unconsumed tail of what has been read plus one more chunk, so
memory does not grow with the file. The one exception is a single top-level object,
which must be held whole to be parsed — it is one STIX object.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from ._array import stream_array
from ._items import Item, ReadError
from ._scan import NEED_MORE, VALUE, WS, JSONSyntax, ScanState, scan_end
from ._source import Source, SourceError

CHUNK = 1024 * 1024
_UTF8_BOM = b"\xef\xbb\xbf"
_MISSING = object()
# TAXII 2.1 §3.7: every envelope property is optional, so {} is an empty envelope.
_ENVELOPE_KEYS = {"more", "next"}


class Parser:
    """State of one read: the buffer, where in it and in the file we are, the batch."""

    def __init__(self, source: Source, name: str, batch: int, chunk: int = CHUNK) -> None:
        self.src = source
        self.chunk = chunk
        self.name = name
        self.batch = batch
        self.buf = b""
        self.pos = 0  # next byte to look at
        self.base = 0  # offset in the (decompressed) data of buf[0]
        self.hold = -1  # when >= 0, buf[hold:] must survive refills (a top-level object)
        self.eof = False
        self.out: list[Item] = []
        self.lines = 1  # line number at buf[line_mark]
        self.line_mark = 0
        self.dropped_nl = -1  # offset of the last newline dropped from the buffer

    # --- buffer -----------------------------------------------------------------------

    def fill(self) -> bool:
        """Read more input, dropping consumed bytes; False at end of input.

        Indexes into ``self.buf`` shift: callers re-read ``self.pos`` afterwards.
        """
        if self.eof:
            return False
        keep = self.pos if self.hold < 0 else min(self.hold, self.pos)
        # Grow reads with what is kept, so a value spanning many chunks is rescanned
        # O(log size) times rather than once per chunk.
        chunk = self.src.read(max(self.chunk, len(self.buf) - keep))
        if not chunk:
            self.eof = True
            return False
        if keep > self.line_mark:
            self.lines += self.buf.count(b"\n", self.line_mark, keep)
            self.line_mark = 0
        else:
            self.line_mark -= keep
        if (nl := self.buf.rfind(b"\n", 0, keep)) >= 0:
            self.dropped_nl = self.base + nl
        self.buf = self.buf[keep:] + chunk
        self.base += keep
        self.pos -= keep
        if self.hold >= 0:
            self.hold -= keep
        return True

    def skip_ws(self) -> int | None:
        """Move to the next non-whitespace byte and return it; None at end of input."""
        while True:
            m = WS.match(self.buf, self.pos)
            assert m is not None
            self.pos = m.end()
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.fill():
                return None

    def value_end(self) -> int:
        """Index in ``self.buf`` just past the value at ``self.pos``, reading as needed."""
        state = ScanState()
        while True:
            if self.buf[self.pos] in b'{["':
                m = VALUE.match(self.buf, self.pos)
                if m is not None:
                    return m.end()
            end = scan_end(self.buf, self.pos, self.eof, state)
            if end != NEED_MORE:
                return end
            self.fill()

    def line_at(self, i: int) -> int:
        if i >= self.line_mark:
            self.lines += self.buf.count(b"\n", self.line_mark, i)
            self.line_mark = i
            return self.lines
        return self.lines - self.buf.count(b"\n", i, self.line_mark)

    def error(self, i: int, reason: str) -> ReadError:
        i = min(i, len(self.buf))
        nl = self.buf.rfind(b"\n", 0, i)
        column = i - nl if nl >= 0 else self.base + i - self.dropped_nl
        return ReadError(self.name, reason, offset=self.base + i, line=self.line_at(i),
                         column=column)

    def loads(self, start: int, end: int) -> Any:
        try:
            return orjson.loads(self.buf[start:end])
        except orjson.JSONDecodeError as exc:
            raise self.decode_error(exc, start, end) from None

    def decode_error(self, exc: orjson.JSONDecodeError, start: int, end: int) -> ReadError:
        # orjson reports a position in characters; convert it to bytes.
        text = self.buf[start:end].decode("utf-8", "surrogateescape")
        offset = len(text[: exc.pos].encode("utf-8", "surrogateescape"))
        return self.error(start + offset, exc.msg)

    # --- top level --------------------------------------------------------------------

    def batches(self) -> Iterator[list[Item]]:
        try:
            yield from self._values()
        except JSONSyntax as exc:
            error = self.error(exc.pos, exc.message)
        except SourceError as exc:
            error = self.error(len(self.buf), str(exc))
        except ReadError as exc:
            error = exc
        else:
            if self.out:
                yield self.out
            return
        # Hand over what was read before the error, then report it.
        if self.out:
            pending, self.out = self.out, []
            yield pending
        raise error

    def _values(self) -> Iterator[list[Item]]:
        self.fill()
        if self.buf.startswith(_UTF8_BOM):
            # RFC 8259 §8.1 lets parsers ignore a BOM; Windows tools write one.
            self.pos = len(_UTF8_BOM)
        elif self.buf[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in self.buf[:4]:
            raise self.error(0, "looks like UTF-16 or UTF-32; JSON must be UTF-8 "
                                "(RFC 8259 §8.1)")
        found = False
        while (c := self.skip_ws()) is not None:
            found = True
            line = self.line_at(self.pos)
            if c == 0x7B:
                yield from self._object(line)
            elif c == 0x5B:
                self.pos += 1
                yield from stream_array(self, self._prefix(line, ""))
            else:
                start, end = self.pos, self.value_end()
                self.loads(start, end)  # reject malformed scalars here, not as items
                self.out.append(Item(None, self.buf[start:end], f"{self.name}:{line}"))
                self.pos = end
            if len(self.out) >= self.batch:
                pending, self.out = self.out, []
                yield pending
        if not found:
            raise self.error(0, "empty file: no JSON value")

    def _prefix(self, line: int, key: str) -> str:
        # The line matters for JSON lines; a one-document file needs only the index.
        return f"{self.name}: {key}" if line == 1 else f"{self.name}:{line} {key}"

    def _object(self, line: int) -> Iterator[list[Item]]:
        start = self.pos
        # Fast paths for JSON lines and small files: the whole object is in the buffer,
        # either on one line (a JSON string cannot hold a raw newline) or matched by
        # VALUE. Only a container (or an error) needs the member-by-member walk.
        nl = self.buf.find(b"\n", start)
        end = -1
        obj: Any = None
        if nl >= 0:
            end = start + len(self.buf[start:nl].rstrip(b" \t\r"))
            try:
                obj = orjson.loads(self.buf[start:end])
            except orjson.JSONDecodeError:
                end = -1
        if end < 0 and (m := VALUE.match(self.buf, start)) is not None:
            end = m.end()
            obj = self.loads(start, end)
        if end >= 0:
            shape = _shape(obj)
            if shape != "container":
                if shape == "single":
                    self.out.append(Item(obj, self.buf[start:end], f"{self.name}:{line}"))
                self.pos = end
                return
        yield from self._members(line)

    def _members(self, line: int) -> Iterator[list[Item]]:
        """Walk a top-level object key by key, streaming its ``objects`` array."""
        self.hold = self.pos
        self.pos += 1
        kind: Any = _MISSING
        keys: list[str] = []
        objects_at = -1  # offset of a non-list ``objects`` value
        streamed = False
        while True:
            c = self.skip_ws()
            if c is None:
                raise self.error(len(self.buf), "unexpected end of data inside an object")
            if c == 0x7D:
                if keys:
                    raise self.error(self.pos, "trailing comma is not allowed")
                break
            if c != 0x22:
                raise self.error(self.pos, "expected a member name in double quotes")
            end = self.value_end()
            key = self.loads(self.pos, end)
            self.pos = end
            if self.skip_ws() != 0x3A:
                raise self.error(self.pos, f"expected ':' after member name {key!r}")
            self.pos += 1
            c = self.skip_ws()
            if c is None:
                raise self.error(len(self.buf), "unexpected end of data inside an object")
            if key in keys:
                raise self.error(self.pos, f"duplicate member {key!r}")
            keys.append(key)
            if key == "objects" and c == 0x5B and kind in (_MISSING, "bundle"):
                self.hold = -1  # what came before is no longer needed
                self.pos += 1
                yield from stream_array(self, self._prefix(line, "objects"))
                streamed = True
            else:
                if key == "objects":
                    objects_at = self.base + self.pos
                end = self.value_end()
                value = self.loads(self.pos, end)
                if key == "type":
                    kind = value
                self.pos = end
            c = self.skip_ws()
            if c == 0x2C:
                self.pos += 1
            elif c == 0x7D:
                break
            else:
                raise self.error(self.pos, "expected ',' or '}' after an object member")
        self.pos += 1
        container = kind in (_MISSING, "bundle")
        if streamed:
            if not container:
                raise self.error(self.pos - 1, f"an object of type {kind!r} has an "
                                 "'objects' list before its type; expected a bundle")
            return
        if objects_at >= 0 and container:
            # hold is still set (nothing was streamed), so the value is in the buffer.
            raise self.error(objects_at - self.base, "'objects' is not a list "
                             "(STIX 2.1 §8, TAXII 2.1 §3.7)")
        members: dict[str, Any] = dict.fromkeys(keys)
        if "type" in members:
            members["type"] = kind
        if _shape(members) == "empty":
            self.hold = -1
            return
        start, self.hold = self.hold, -1
        obj = self.loads(start, self.pos)
        self.out.append(Item(obj, self.buf[start:self.pos], f"{self.name}:{line}"))


def _shape(obj: dict[str, Any]) -> str:
    """How a top-level object is read: "container" (a bundle or envelope with
    ``objects``), "empty" (one without) or "single" (a STIX object)."""
    kind = obj.get("type", _MISSING)
    if kind is _MISSING:
        if "objects" in obj:
            return "container"
        return "single" if obj.keys() - _ENVELOPE_KEYS else "empty"
    if kind == "bundle":
        return "container" if "objects" in obj else "empty"
    return "single"
