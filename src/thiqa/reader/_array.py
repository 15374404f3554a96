"""Streaming the elements of a JSON array: the reader's hot loop.

Three ways to find where an element ends, fastest first:

1. The separator learned from the elements before: the bytes from the whitespace
   before one element's closing ``}`` to the next element's ``{``, e.g. ``b"},\\n{"``
   or, pretty-printed, ``b"\\n        },\\n        {"`` (the indentation tells top-level
   elements from nested ones). ``bytes.find`` locates the next one and orjson parses the
   bytes up to it. If that succeeds the cut was right: an object has only one end, so a
   slice that parses as one object is exactly that object. A wrong cut (``},{`` inside
   compact JSON, whitespace that changes) only fails the parse, and the next way takes
   the element. Finding costs next to nothing, and the parse is needed anyway.
2. ``STEP``, a regular expression matching one whole element (see ``_scan``).
3. ``Parser.value_end``: exact, unbounded, reading more input as needed; it is also what
   reports malformed JSON.

Measured on 100k generated indicators (bench/reader_compare.py, CPU time): with the
guess ~190k objects/s, with STEP alone ~85k/s; ijson (yajl2_c) + orjson.dumps ~100k/s.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson

from ._items import Item
from ._scan import STEP, WS

if TYPE_CHECKING:
    from ._parse import Parser

__all__ = ["stream_array"]

# How far ahead to look for the separator; larger elements take the exact path.
_WINDOW = 256 * 1024
# After this many wrong guesses, and if more than 1 in 20 guesses is wrong (compact
# JSON whose objects hold lists of objects), stop guessing: STEP alone is faster then.
_MAX_MISSES = 100
# First member names remembered; more than a few means there is no habit to rely on.
_MAX_HEADS = 4
# Whitespace and a short member name (no escapes) after an element's '{'.
_NAME = re.compile(rb'[ \t\r\n]*+"[a-z_0-9-]{1,40}"')


class _Guess:
    """The separator learned so far (see the module docstring).

    ``sep`` runs from the whitespace before an element's closing '}' to the next
    element's '{'; ``close`` and ``opens`` are the indexes of those two in it. ``heads``
    are the bytes seen after that '{' up to the first member name, e.g. ``b'"type"'``:
    in compact JSON ``},{`` also occurs inside objects, and the first member name is
    what tells a top-level object (STIX producers write ``type``, ``id`` or ``modified``
    first) from a nested one (``source_name``, ``kill_chain_name``).
    """

    __slots__ = ("close", "enabled", "heads", "misses", "opens", "sep")

    def __init__(self) -> None:
        self.sep = b""
        self.close = self.opens = self.misses = 0
        self.heads: tuple[bytes, ...] = ()
        self.enabled = True

    def learn(self, buf: bytes, end: int, after: int) -> bool:
        """Learn from the object ending at ``end``, whose ',' ends just before ``after``;
        True when there is a separator to use."""
        if buf[end - 1] != 0x7D:
            return bool(self.sep)
        nxt = _skip_ws(buf, after)
        if nxt >= len(buf) or buf[nxt] != 0x7B:
            return bool(self.sep)
        w = end - 1
        while w > 0 and buf[w - 1] in b" \t\r\n":
            w -= 1
        name = _NAME.match(buf, nxt + 1)
        head = buf[nxt + 1:name.end()] if name is not None else b""
        sep = buf[w:nxt + 1]
        if sep != self.sep:
            self.sep, self.close, self.opens, self.heads = sep, end - 1 - w, nxt - w, (head,)
        elif head not in self.heads:
            self.heads = (*self.heads, head)[-_MAX_HEADS:]
        return True

    def miss(self, index: int) -> None:
        self.misses += 1
        if self.misses > _MAX_MISSES and self.misses * 20 > index:
            self.enabled = False
            self.sep = b""

    def find(self, buf: bytes, pos: int) -> int:
        """Where the separator after the object at ``pos`` starts, or -1."""
        limit = pos + _WINDOW
        k = buf.find(self.sep, pos, limit)
        while k >= 0 and not buf.startswith(self.heads, k + self.opens + 1):
            k = buf.find(self.sep, k + 1, limit)
        return k


def stream_array(p: Parser, prefix: str) -> Iterator[list[Item]]:
    """Stream the elements of the array whose '[' was just consumed into ``p.out``.

    Yields ``p.out`` whenever it holds ``p.batch`` items; ``where`` is
    ``f"{prefix}[{index}]"``. Leaves ``p.pos`` just past the closing ']'.
    """
    index = 0
    step = STEP.match
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    batch = p.batch
    guess = _Guess()
    while True:
        buf, out = p.buf, p.out
        pos = _skip_ws(buf, p.pos)
        if guess.sep:
            n = len(buf)
            find, startswith = buf.find, buf.startswith
            sep, close, opens, heads = guess.sep, guess.close, guess.opens, guess.heads
            head_at = opens + 1
            while pos < n and buf[pos] == 0x7B:
                # guess.find, inlined: a method call per object costs ~10%.
                k = find(sep, pos, pos + _WINDOW)
                while k >= 0 and not startswith(heads, k + head_at):
                    k = find(sep, k + 1, pos + _WINDOW)
                if k < 0:
                    # Normal at the end of the buffer; otherwise the separator is not
                    # the one after this element, which STEP takes and learns from.
                    if n - pos > _WINDOW:
                        guess.miss(index)
                    break
                raw = buf[pos:k + close + 1]
                try:
                    obj = loads(raw)
                except decode_error:
                    guess.miss(index)
                    break
                out.append(Item(obj, raw, f"{prefix}[{index}]"))
                index += 1
                pos = k + opens
                if len(out) >= batch:
                    p.pos, p.out = pos, []
                    yield out
                    out = p.out
        # STEP takes the element the guess could not (or all of them, without a guess).
        while (m := step(buf, pos)) is not None:
            s, e = m.span(1)
            raw = buf[s:e]
            try:
                obj = loads(raw)
            except decode_error as exc:
                p.pos = s
                raise p.decode_error(exc, s, e) from None
            out.append(Item(obj if type(obj) is dict else None, raw, f"{prefix}[{index}]"))
            index += 1
            pos = m.end()
            if len(out) >= batch:
                p.pos, p.out = pos, []
                yield out
                out = p.out
            if buf[pos - 1] == 0x5D:
                p.pos = pos
                return
            if guess.enabled and guess.learn(buf, e, pos):
                break
        p.pos = pos
        if m is not None:
            continue
        # One element the fast ways could not take: it crosses the end of the buffer,
        # nests deeper than STEP, or is malformed — or the array ends here.
        c = p.skip_ws()
        if c is None:
            raise p.error(len(p.buf), "unexpected end of data inside an array")
        if c == 0x5D:
            if index:
                raise p.error(_comma_before(p.buf, p.pos), "trailing comma is not allowed")
            p.pos += 1
            return
        found = _across_chunks(p, guess) if guess.sep and c == 0x7B else None
        if found is None:
            end = p.value_end()
            obj = p.loads(p.pos, end)
        else:
            obj, end = found
        item = Item(obj if type(obj) is dict else None, p.buf[p.pos:end], f"{prefix}[{index}]")
        index += 1
        p.pos = end
        end += p.base  # absolute: skip_ws may refill the buffer
        c = p.skip_ws()
        # A number or literal cut off by the end of the data looks complete; it is not.
        if c is not None or item.raw[0] in b'{["':
            p.out.append(item)
        if c == 0x5D:
            p.pos += 1
            return
        if c is None:
            raise p.error(len(p.buf), "unexpected end of data: the array is not closed")
        if c != 0x2C:
            raise p.error(p.pos, "expected ',' or ']' after an array element")
        if guess.enabled and not guess.sep and end - p.base > 0:
            guess.learn(p.buf, end - p.base, p.pos + 1)
        p.pos += 1
        if len(p.out) >= batch:
            pending, p.out = p.out, []
            yield pending


def _skip_ws(buf: bytes, pos: int) -> int:
    m = WS.match(buf, pos)
    assert m is not None  # matches the empty string
    return m.end()


def _across_chunks(p: Parser, guess: _Guess) -> tuple[Any, int] | None:
    """Take an object that runs past the buffer by reading on to the next separator.

    Returns (object, end index) or None when the guess does not work out; ``p.pos``
    stays at the object's start either way.
    """
    while True:
        k = guess.find(p.buf, p.pos)
        if k >= 0:
            end = k + guess.close + 1
            try:
                return orjson.loads(p.buf[p.pos:end]), end
            except orjson.JSONDecodeError:
                return None
        if p.eof or len(p.buf) - p.pos >= _WINDOW:
            return None
        p.fill()


def _comma_before(buf: bytes, pos: int) -> int:
    """Where the trailing comma before ``buf[pos]`` is, if still in the buffer."""
    comma = buf.rfind(b",", 0, pos)
    return comma if comma >= 0 and not buf[comma + 1:pos].strip() else pos
