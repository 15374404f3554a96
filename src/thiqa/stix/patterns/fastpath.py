"""One-regex recognizer for the shapes most real indicators have.

Feeds mostly carry one observation holding one comparison, or two joined by AND or
OR, with a simple path and a plain string or integer::

    [ipv4-addr:value = '198.51.100.1']
    ([ file:hashes.'SHA-256' = 'aec0…' ])
    [ipv4-addr:value = '78.47.235.236' AND network-traffic:dst_port = '443']

A single ``fullmatch`` recognizes them — several times faster than tokenizing.
The recognizer is deliberately conservative: it answers "valid" only when the
general parser would accept the pattern too (and would build the same tree), and
"don't know" otherwise, never "invalid". Whatever it doesn't know goes to the
general parser, which also produces the error message.
"""

from __future__ import annotations

import re
from typing import Final

from thiqa.stix.patterns.ast import (
    BoolOp,
    Comparison,
    ComparisonExpression,
    CompoundComparison,
    IntConstant,
    ObjectPath,
    Observation,
    Operator,
    PathStep,
    Pattern,
    ScalarConstant,
    StringConstant,
)
from thiqa.stix.patterns.lexer import KEYWORDS
from thiqa.stix.patterns.rules import hash_problem

__all__ = ["fast_check", "fast_parse", "fast_path_names"]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*+"
# Identifiers are possessive: "bLIKE" must stay one identifier, as the lexer sees it.
_COMPARISON = (
    r"([A-Za-z_][A-Za-z0-9_\-]*+)"  # object type
    rf":({_NAME}(?:\.{_NAME})*+)"  # property and keys
    r"(?:\.'([^'\\]*+)')?"  # a final quoted key, as in hashes.'SHA-256'
    r" *+(=|!=|LIKE(?![\w\-])|MATCHES(?![\w\-])) *+"
    r"(?:'([^'\\]*+)'|(0|[1-9][0-9]*+))"  # a string without escapes, or an integer
)
_FAST: Final = re.compile(
    rf"(\( *+)?\[ *+{_COMPARISON}(?: ++(AND|OR) ++{_COMPARISON})? *+\](?(1) *+\))", re.ASCII
)
_OPERATORS: Final = {
    "=": Operator.EQ,
    "!=": Operator.NEQ,
    "LIKE": Operator.LIKE,
    "MATCHES": Operator.MATCHES,
}

_Groups = tuple[str | None, ...]


def fast_check(text: str) -> bool:
    """True when ``text`` has a recognized shape and is valid; False: don't know."""
    match = _FAST.fullmatch(text)
    if match is None:
        return False
    groups: _Groups = match.groups()
    if not _comparison_ok(groups, 1):
        return False
    return groups[7] is None or _comparison_ok(groups, 8)


def fast_parse(text: str) -> Pattern | None:
    """The tree of ``text`` when ``fast_check`` would say True, else None."""
    match = _FAST.fullmatch(text)
    if match is None:
        return None
    groups: _Groups = match.groups()
    if not _comparison_ok(groups, 1):
        return None
    expression: ComparisonExpression = _comparison(groups, 1)
    if groups[7] is not None:
        if not _comparison_ok(groups, 8):
            return None
        op = BoolOp.AND if groups[7] == "AND" else BoolOp.OR
        expression = CompoundComparison(op, (expression, _comparison(groups, 8)))
    return Pattern(Observation(expression))


def fast_path_names(text: str) -> list[tuple[str, str]] | None:
    """The (object type, top-level property) of each comparison of ``text`` when
    ``fast_check`` would say True, else None: the names ``fast_parse`` would put in its tree,
    without building it."""
    match = _FAST.fullmatch(text)
    if match is None:
        return None
    groups: _Groups = match.groups()
    if not _comparison_ok(groups, 1):
        return None
    names = [_names(groups, 1)]
    if groups[7] is not None:
        if not _comparison_ok(groups, 8):
            return None
        names.append(_names(groups, 8))
    return names


def _names(groups: _Groups, at: int) -> tuple[str, str]:
    object_type, properties = groups[at], groups[at + 1]
    assert object_type is not None and properties is not None
    return object_type, properties.partition(".")[0]


def _comparison_ok(groups: _Groups, at: int) -> bool:
    object_type, properties, key, operator, string, _ = groups[at : at + 6]
    assert object_type is not None and properties is not None
    # Keywords (AND, true, …) are not identifiers for the lexer.
    if object_type in KEYWORDS:
        return False
    names = properties.split(".")
    if not KEYWORDS.isdisjoint(names):
        return False
    if string is None and operator in ("LIKE", "MATCHES"):
        return False
    if "hashes" in names:
        selector = key if key is not None else names[-1]
        value = string if string is not None else groups[at + 5]
        assert value is not None
        return hash_problem(selector, value) is None
    return True


def _comparison(groups: _Groups, at: int) -> Comparison:
    object_type, properties, key, operator, string, integer = groups[at : at + 6]
    assert object_type is not None and properties is not None and operator is not None
    steps: list[PathStep] = list(properties.split("."))
    if key is not None:
        steps.append(key)
    value: ScalarConstant
    if string is not None:
        value = StringConstant(string)
    else:
        assert integer is not None
        value = IntConstant(int(integer))
    return Comparison(ObjectPath(object_type, tuple(steps)), _OPERATORS[operator], value)
