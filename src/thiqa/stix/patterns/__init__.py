"""STIX 2.1 patterning (STIX 2.1 §9): parser, typed syntax tree and validator.

``parse_pattern`` turns a pattern into a ``Pattern`` tree (see ``ast``);
``check_pattern`` is the validator used on ingest. Both accept exactly the patterns
the OASIS reference validator (``stix2patterns``, STIX 2.1 grammar) accepts — a
differential test over real and generated corpora holds them to it — at a few
microseconds per pattern instead of about half a millisecond.

Exceptions::

    ValueError
    └── PatternError      what is wrong, and the column where
"""

from __future__ import annotations

from thiqa.stix.patterns.ast import Pattern
from thiqa.stix.patterns.errors import PatternError
from thiqa.stix.patterns.fastpath import fast_check, fast_parse
from thiqa.stix.patterns.parser import parse

__all__ = ["Pattern", "PatternError", "check_pattern", "parse_pattern"]


def parse_pattern(text: str) -> Pattern:
    """The syntax tree of ``text``; raises ``PatternError`` saying what is wrong and where."""
    return fast_parse(text) or parse(text)


def check_pattern(text: str) -> str | None:
    """None when ``text`` is a valid STIX 2.1 pattern, else what is wrong and where."""
    if fast_check(text):
        return None
    try:
        parse(text)
    except PatternError as exc:
        return str(exc)
    return None
