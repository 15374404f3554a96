"""One-regex recognizer for the shapes most real indicators have.

Feeds mostly carry one observation holding one comparison, or a few joined by AND
or by OR, with a simple path (list indexes included) and a plain string or integer::

    [ipv4-addr:value = '198.51.100.1']
    ([ file:hashes.'SHA-256' = 'aec0…' ])
    [ipv4-addr:value = '78.47.235.236' AND network-traffic:dst_port = '443']
    [domain-name:value = 'example.com' AND domain-name:resolves_to_refs[*].value = '…']

A few anchored regex matches recognize them — several times faster than tokenizing.
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
    Wildcard,
)
from thiqa.stix.patterns.lexer import KEYWORDS
from thiqa.stix.patterns.rules import hash_problem

__all__ = ["fast_check", "fast_parse", "fast_path_names"]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*+"
# Identifiers are possessive: "bLIKE" must stay one identifier, as the lexer sees it.
_COMPARISON: Final = re.compile(
    r"([A-Za-z_][A-Za-z0-9_\-]*+)"  # object type
    rf":({_NAME}(?:\.{_NAME}|\[(?:\*|0|[1-9][0-9]*+)\])*+)"  # property, keys, list indexes
    r"(?:\.'([^'\\]*+)')?"  # a final quoted key, as in hashes.'SHA-256'
    r" *+(=|!=|LIKE(?![\w\-])|MATCHES(?![\w\-])) *+"
    r"(?:'([^'\\]*+)'|(0|[1-9][0-9]*+))",  # a string without escapes, or an integer
    re.ASCII,
)
_OPEN: Final = re.compile(r"(\( *+)?\[ *+")
_JOIN: Final = re.compile(r" ++(AND|OR) ++")
_CLOSE: Final = re.compile(r" *+\]")
_CLOSE_PAREN: Final = re.compile(r" *+\] *+\)")
_STEP: Final = re.compile(r"\.|\[(\*|[0-9]+)\]")
_OPERATORS: Final = {
    "=": Operator.EQ,
    "!=": Operator.NEQ,
    "LIKE": Operator.LIKE,
    "MATCHES": Operator.MATCHES,
}

_Groups = tuple[str | None, ...]


def _recognize(text: str) -> tuple[list[_Groups], str | None] | None:
    """The comparisons of a one-observation pattern joined by one operator, if valid.

    None means "don't know": another shape (qualifiers, several observations, mixed
    AND/OR, escapes, other constants), or a comparison the fast checks cannot clear.
    """
    opened = _OPEN.match(text)
    if opened is None:
        return None
    pos = opened.end()
    comparisons: list[_Groups] = []
    joiner: str | None = None
    while True:
        match = _COMPARISON.match(text, pos)
        if match is None:
            return None
        groups: _Groups = match.groups()
        if not _comparison_ok(groups):
            return None
        comparisons.append(groups)
        pos = match.end()
        join = _JOIN.match(text, pos)
        if join is None:
            break
        # AND binds tighter than OR: a mixed chain has a tree this recognizer won't build.
        if joiner is not None and join.group(1) != joiner:
            return None
        joiner = join.group(1)
        pos = join.end()
    close = _CLOSE_PAREN if opened.group(1) else _CLOSE
    if close.fullmatch(text, pos) is None:
        return None
    return comparisons, joiner


def fast_check(text: str) -> bool:
    """True when ``text`` has a recognized shape and is valid; False: don't know."""
    return _recognize(text) is not None


def fast_parse(text: str) -> Pattern | None:
    """The tree of ``text`` when ``fast_check`` would say True, else None."""
    recognized = _recognize(text)
    if recognized is None:
        return None
    comparisons, joiner = recognized
    expression: ComparisonExpression
    if joiner is None:
        expression = _comparison(comparisons[0])
    else:
        op = BoolOp.AND if joiner == "AND" else BoolOp.OR
        expression = CompoundComparison(op, tuple(_comparison(g) for g in comparisons))
    return Pattern(Observation(expression))


def fast_path_names(text: str) -> list[tuple[str, str]] | None:
    """The (object type, top-level property) of each comparison of ``text`` when
    ``fast_check`` would say True, else None: the names ``fast_parse`` would put in its
    tree, without building it."""
    recognized = _recognize(text)
    if recognized is None:
        return None
    names = []
    for groups in recognized[0]:
        object_type, properties = groups[0], groups[1]
        assert object_type is not None and properties is not None
        names.append((object_type, properties.partition(".")[0].partition("[")[0]))
    return names


def _comparison_ok(groups: _Groups) -> bool:
    object_type, properties, key, operator, string, integer = groups
    assert object_type is not None and properties is not None
    # Keywords (AND, true, …) are not identifiers for the lexer.
    if object_type in KEYWORDS:
        return False
    if "[" in properties:
        names = [n for n in _STEP.split(properties) if n and n[0] not in "*0123456789"]
        if "hashes" in names:
            return False  # a hashes path with a list index: the general parser decides
    else:
        names = properties.split(".")
    if not KEYWORDS.isdisjoint(names):
        return False
    if string is None and operator in ("LIKE", "MATCHES"):
        return False
    if "hashes" in names:
        selector = key if key is not None else names[-1]
        value = string if string is not None else integer
        assert value is not None
        return hash_problem(selector, value) is None
    return True


def _steps(properties: str) -> list[PathStep]:
    if "[" not in properties:
        return list(properties.split("."))
    steps: list[PathStep] = []
    for part in properties.split("."):
        name, _, rest = part.partition("[")
        steps.append(name)
        for index in rest.split("[") if rest else ():
            index = index.rstrip("]")
            steps.append(Wildcard.ANY if index == "*" else int(index))
    return steps


def _comparison(groups: _Groups) -> Comparison:
    object_type, properties, key, operator, string, integer = groups
    assert object_type is not None and properties is not None and operator is not None
    steps = _steps(properties)
    if key is not None:
        steps.append(key)
    value: ScalarConstant
    if string is not None:
        value = StringConstant(string)
    else:
        assert integer is not None
        value = IntConstant(int(integer))
    return Comparison(ObjectPath(object_type, tuple(steps)), _OPERATORS[operator], value)
