"""Finding where a JSON value ends, in bytes, without parsing it.

The reader parses each STIX object with ``orjson.loads``; what it needs from this
module is the *boundaries* of values, so that a 1 GB bundle is parsed one object at a
time and each object's exact text is kept as ``Item.raw``. (The fastest way, guessing
from the separator between objects, lives with the hot loop in ``_array``; this module
is what it falls back on.)

- ``STEP``: one regular expression that matches a whole array element and the ``,``
  or ``]`` after it. Strings are consumed whole (so quotes, brackets and braces inside
  them are never mistaken for structure) and nesting is unrolled to ``FAST_DEPTH``
  levels. Possessive quantifiers (Python 3.11) mean it never backtracks, so a failed
  match costs no more than a successful one. It runs in C at ~150 MB/s. It does not
  pair ``[`` with ``]``: a mismatch is still caught because orjson then rejects the
  slice.
- ``scan_end``: an exact, depth-unbounded scanner stepping from bracket to bracket. Used
  when ``STEP`` fails: the element runs past the end of the buffer, nests deeper than
  ``FAST_DEPTH``, or is malformed — in which case it says where.
"""

from __future__ import annotations

import re

__all__ = ["FAST_DEPTH", "MAX_DEPTH", "NEED_MORE", "STEP", "VALUE", "WS", "JSONSyntax",
           "ScanState", "scan_end"]

# Deep enough for every STIX object in shared/data (ATT&CK, MISP exports: ≤ 6 levels);
# deeper elements take the exact path, which costs more but is still correct.
FAST_DEPTH = 8
# orjson refuses documents nested deeper than 1024 levels; stop well before, with a
# message that names the depth instead of orjson's generic one. No STIX object comes
# near this.
MAX_DEPTH = 512
NEED_MORE = -1

_STRING = rb'"(?:[^"\\]++|\\.)*+"'
_PLAIN = rb'[^"\[\]{}]++'  # anything but strings and brackets: , : numbers literals spaces
_SCALAR = rb'[^ \t\r\n,:\[\]{}"]++'


def _container(depth: int) -> bytes:
    # Unrolled nesting: level k may contain level k-1. Opening and closing brackets are
    # not paired (see module docstring), which keeps the pattern linear in depth.
    inner = _PLAIN + b"|" + _STRING
    pattern = rb"[\[{](?:" + inner + rb")*+[\]}]"
    for _ in range(depth - 1):
        pattern = rb"[\[{](?:" + inner + b"|" + pattern + rb")*+[\]}]"
    return pattern


WS = re.compile(rb"[ \t\r\n]*+")
VALUE = re.compile(rb"(?:" + _container(FAST_DEPTH) + b"|" + _STRING + b")", re.S)
# One array element plus the separator after it: requiring the separator means a
# number or literal cut off by the end of the buffer is never taken as complete.
STEP = re.compile(rb"[ \t\r\n]*+(" + _container(FAST_DEPTH) + b"|" + _STRING + b"|"
                  + _SCALAR + rb")[ \t\r\n]*+[,\]]", re.S)

_STRING_RE = re.compile(_STRING, re.S)
_SCALAR_RE = re.compile(_SCALAR)
# Skip to the next bracket, stepping over strings whole; stops at a '"' only when the
# string is not terminated within the buffer.
_SKIP = re.compile(rb"(?:" + _PLAIN + b"|" + _STRING + rb")*+", re.S)

_OPEN_NAMES = {0x7B: "object", 0x5B: "array"}


class JSONSyntax(Exception):
    """Malformed JSON at ``pos`` (an index into the buffer being scanned)."""

    def __init__(self, pos: int, message: str) -> None:
        super().__init__(message)
        self.pos = pos
        self.message = message


class ScanState:
    """Where ``scan_end`` stopped for want of input, so it can resume after a refill
    instead of rescanning a large value from its start (offsets are from the start)."""

    __slots__ = ("offset", "stack")

    def __init__(self) -> None:
        self.offset = 0
        self.stack: list[tuple[int, int]] = []


def scan_end(buf: bytes, start: int, eof: bool, state: ScanState | None = None) -> int:
    """Index just past the JSON value that starts at ``buf[start]`` (not whitespace).

    Returns ``NEED_MORE`` when the value may continue beyond ``buf`` and more input
    is coming (``eof`` false), having saved its progress in ``state``; raises
    ``JSONSyntax`` for what can be seen to be wrong from brackets and strings alone.
    Everything else (a missing colon, a bad number) is left to orjson, which parses
    the slice next.
    """
    c = buf[start]
    if c == 0x22:
        m = _STRING_RE.match(buf, start)
        if m is not None:
            return m.end()
        if eof:
            raise JSONSyntax(start, "unterminated string")
        return NEED_MORE
    if c not in _OPEN_NAMES:
        m = _SCALAR_RE.match(buf, start)
        if m is None:
            raise JSONSyntax(start, f"unexpected {chr(c)!r}, expected a JSON value")
        if m.end() == len(buf) and not eof:
            return NEED_MORE
        return m.end()
    # Open brackets as (byte, offset from start): the offset names the unclosed one.
    if state is not None and state.stack:
        stack = state.stack
        i = start + state.offset
    else:
        stack = [(c, 0)]
        i = start + 1
    n = len(buf)
    skip = _SKIP.match
    while True:
        m = skip(buf, i)
        assert m is not None  # the pattern can match the empty string
        i = m.end()
        if i < n and buf[i] != 0x22:
            c = buf[i]
        elif eof:
            if i < n:
                raise JSONSyntax(i, "unterminated string")
            what, where = stack[-1]
            raise JSONSyntax(n, f"unexpected end of data: the {_OPEN_NAMES[what]} opened "
                                f"{n - start - where} bytes earlier is not closed")
        else:
            if state is not None:
                state.offset, state.stack = i - start, stack
            return NEED_MORE
        if c == 0x7B or c == 0x5B:
            stack.append((c, i - start))
            if len(stack) > MAX_DEPTH:
                raise JSONSyntax(i, f"nested deeper than {MAX_DEPTH} levels")
        else:
            opened, _ = stack.pop()
            if (opened == 0x7B) != (c == 0x7D):
                raise JSONSyntax(i, f"{chr(c)!r} does not close the {_OPEN_NAMES[opened]} "
                                    f"opened with {chr(opened)!r}")
            if not stack:
                return i + 1
        i += 1
