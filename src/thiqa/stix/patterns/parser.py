"""Recursive-descent parser for STIX 2.1 patterns (STIX 2.1 §9).

The grammar is the OASIS ANTLR grammar ``STIXPattern.g4`` for 2.1::

    pattern      : obs-seq EOF
    obs-seq      : obs-or (FOLLOWEDBY obs-or)*
    obs-or       : obs-and (OR obs-and)*
    obs-and      : obs (AND obs)*
    obs          : ( '[' cmp-or ']' | '(' obs-seq ')' ) qualifier*
    qualifier    : START ts STOP ts | WITHIN (int≥0 | float≥0) SECONDS | REPEATS int≥0 TIMES
    cmp-or       : cmp-and (OR cmp-and)*
    cmp-and      : test (AND test)*
    test         : '(' cmp-or ')' | NOT? EXISTS path
                 | path NOT? ( (= | != ) scalar | (< | <= | > | >=) scalar-but-bool
                             | IN '(' [scalar (',' scalar)*] ')'
                             | (LIKE | MATCHES | ISSUBSET | ISSUPERSET) string )
    path         : type ':' (name | string) ( '.' (name | string) | '[' (int | '*') ']' )*

Beyond the grammar, it applies the rules the reference validator
(``stix2patterns.validator.run_validator``, version 2.1) applies, so that both
accept the same patterns:

* the first character other than '(' and whitespace must be '[' (so no comment
  before the first observation);
* one qualifier type at most once directly on a ``[…]`` observation
  (``[a] WITHIN 1 SECONDS WITHIN 2 SECONDS`` is rejected,
  ``([a] WITHIN 1 SECONDS) WITHIN 2 SECONDS`` is not);
* a comparison on a path holding the step ``hashes`` whose last step names a
  known hash algorithm must compare with a value of that hash's form (see
  ``rules``);
* negative list indexes, and an integer index ending a compared ``hashes`` path,
  are rejected (the reference fails on them with an exception, not a verdict);
* nesting deeper than ``MAX_DEPTH`` parentheses is rejected (the reference fails
  with ``RecursionError`` from about 200 levels).
"""

from __future__ import annotations

import re
from typing import Final, NoReturn

from thiqa.stix.patterns.ast import (
    BinaryConstant,
    BoolConstant,
    BoolOp,
    Comparison,
    ComparisonExpression,
    CompoundComparison,
    CompoundObservation,
    FloatConstant,
    HexConstant,
    IntConstant,
    ObjectPath,
    Observation,
    ObservationExpression,
    ObservationOp,
    Operator,
    PathStep,
    Pattern,
    Qualified,
    Qualifier,
    Repeats,
    ScalarConstant,
    SetConstant,
    StartStop,
    StringConstant,
    TimestampConstant,
    Wildcard,
    Within,
)
from thiqa.stix.patterns.errors import PatternError
from thiqa.stix.patterns.lexer import (
    AND,
    ASTERISK,
    BINARY,
    BOOL,
    COLON,
    COMMA,
    DOT,
    EOF,
    EQ,
    EXISTS,
    FLOAT_NEG,
    FLOAT_POS,
    FOLLOWEDBY,
    GE,
    GT,
    HEX,
    IDENT,
    IDENT_HYPHEN,
    IN,
    INT_NEG,
    INT_POS,
    ISSUBSET,
    ISSUPERSET,
    LBRACK,
    LE,
    LIKE,
    LPAREN,
    LT,
    MATCHES,
    NEQ,
    NOT,
    OR,
    RBRACK,
    REPEATS,
    RPAREN,
    SECONDS,
    START,
    STOP,
    STRING,
    TIMES,
    TIMESTAMP,
    WITHIN,
    Token,
    describe,
    tokenize,
)
from thiqa.stix.patterns.rules import hash_problem

__all__ = ["MAX_DEPTH", "parse"]

#: Deepest nesting of parentheses accepted.
MAX_DEPTH: Final = 100

_LEADING: Final = re.compile(r"[(\s]*\[")
_UNESCAPE: Final = re.compile(r"\\([\\'])")

_OPERATORS: Final[dict[int, Operator]] = {
    EQ: Operator.EQ,
    NEQ: Operator.NEQ,
    LT: Operator.LT,
    LE: Operator.LE,
    GT: Operator.GT,
    GE: Operator.GE,
    IN: Operator.IN,
    LIKE: Operator.LIKE,
    MATCHES: Operator.MATCHES,
    ISSUBSET: Operator.ISSUBSET,
    ISSUPERSET: Operator.ISSUPERSET,
}
_ORDERING: Final = frozenset((LT, LE, GT, GE))
_STRING_ONLY: Final = frozenset((LIKE, MATCHES, ISSUBSET, ISSUPERSET))
_SCALARS: Final = frozenset(
    (INT_POS, INT_NEG, FLOAT_POS, FLOAT_NEG, HEX, BINARY, STRING, BOOL, TIMESTAMP)
)
_QUALIFIER_NAMES: Final = {START: "START/STOP", WITHIN: "WITHIN", REPEATS: "REPEATS"}


def parse(text: str) -> Pattern:
    """Parse ``text``; raise ``PatternError`` saying what is wrong and where.

    This is the general parser; ``parse_pattern`` tries ``fastpath`` first.
    """
    if _LEADING.match(text) is None:
        raise PatternError(
            "a pattern must start with '[' (after any '(' and whitespace; no comment before it)",
            _column_of_lead(text),
        )
    return _Parser(text).parse()


def _column_of_lead(text: str) -> int:
    for i, char in enumerate(text):
        if char != "(" and not char.isspace():
            return i + 1
    return len(text) + 1


class _Parser:
    __slots__ = ("depth", "pos", "text", "tokens")

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.depth = 0

    # -- helpers --------------------------------------------------------------

    def fail(self, expected: str, token: Token | None = None) -> NoReturn:
        if token is None:
            token = self.tokens[self.pos]
        found = describe(token, self.text)
        raise PatternError(f"expected {expected}, found {found}", token[2] + 1)

    def expect(self, kind: int, expected: str) -> Token:
        token = self.tokens[self.pos]
        if token[0] != kind:
            self.fail(expected, token)
        self.pos += 1
        return token

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise PatternError(
                f"parentheses nested deeper than {MAX_DEPTH} levels",
                self.tokens[self.pos][2] + 1,
            )

    # -- observation expressions ----------------------------------------------

    def parse(self) -> Pattern:
        expression = self.observations()
        if self.tokens[self.pos][0] != EOF:
            self.fail("AND, OR, FOLLOWEDBY, a qualifier or the end of the pattern")
        return Pattern(expression)

    def observations(self) -> ObservationExpression:
        first = self.observation_or()
        if self.tokens[self.pos][0] != FOLLOWEDBY:
            return first
        operands = [first]
        while self.tokens[self.pos][0] == FOLLOWEDBY:
            self.pos += 1
            operands.append(self.observation_or())
        return CompoundObservation(ObservationOp.FOLLOWEDBY, tuple(operands))

    def observation_or(self) -> ObservationExpression:
        first = self.observation_and()
        if self.tokens[self.pos][0] != OR:
            return first
        operands = [first]
        while self.tokens[self.pos][0] == OR:
            self.pos += 1
            operands.append(self.observation_and())
        return CompoundObservation(ObservationOp.OR, tuple(operands))

    def observation_and(self) -> ObservationExpression:
        first = self.observation()
        if self.tokens[self.pos][0] != AND:
            return first
        operands = [first]
        while self.tokens[self.pos][0] == AND:
            self.pos += 1
            operands.append(self.observation())
        return CompoundObservation(ObservationOp.AND, tuple(operands))

    def observation(self) -> ObservationExpression:
        kind = self.tokens[self.pos][0]
        node: ObservationExpression
        if kind == LBRACK:
            self.pos += 1
            node = Observation(self.comparisons())
            self.expect(RBRACK, "AND, OR or ']' to close the observation")
            bracketed = True
        elif kind == LPAREN:
            self.enter()
            self.pos += 1
            node = self.observations()
            self.expect(RPAREN, "AND, OR, FOLLOWEDBY, a qualifier or ')'")
            self.depth -= 1
            bracketed = False
        else:
            self.fail("'[' or '(' to start an observation expression")
        seen: set[int] = set()
        while True:
            token = self.tokens[self.pos]
            kind = token[0]
            if kind not in _QUALIFIER_NAMES:
                return node
            # The reference rejects a repeated qualifier type only directly on a
            # bracketed observation, not on a parenthesised group.
            if bracketed:
                if kind in seen:
                    raise PatternError(
                        f"duplicate {_QUALIFIER_NAMES[kind]} qualifier on one observation",
                        token[2] + 1,
                    )
                seen.add(kind)
            node = Qualified(node, self.qualifier())

    def qualifier(self) -> Qualifier:
        kind = self.tokens[self.pos][0]
        self.pos += 1
        if kind == WITHIN:
            token = self.tokens[self.pos]
            if token[0] == INT_POS:
                seconds: int | float = int(token[1])
            elif token[0] == FLOAT_POS:
                seconds = float(token[1])
            else:
                self.fail("a non-negative number of seconds after WITHIN", token)
            self.pos += 1
            self.expect(SECONDS, "SECONDS")
            return Within(seconds)
        if kind == REPEATS:
            token = self.expect(INT_POS, "a non-negative integer after REPEATS")
            self.expect(TIMES, "TIMES")
            return Repeats(int(token[1]))
        start = self.expect(TIMESTAMP, "a timestamp t'YYYY-MM-DDThh:mm:ss[.s]Z' after START")
        self.expect(STOP, "STOP")
        stop = self.expect(TIMESTAMP, "a timestamp t'YYYY-MM-DDThh:mm:ss[.s]Z' after STOP")
        return StartStop(TimestampConstant(start[1][2:-1]), TimestampConstant(stop[1][2:-1]))

    # -- comparison expressions -------------------------------------------------

    def comparisons(self) -> ComparisonExpression:
        first = self.comparison_and()
        if self.tokens[self.pos][0] != OR:
            return first
        operands = [first]
        while self.tokens[self.pos][0] == OR:
            self.pos += 1
            operands.append(self.comparison_and())
        return CompoundComparison(BoolOp.OR, tuple(operands))

    def comparison_and(self) -> ComparisonExpression:
        first = self.comparison()
        if self.tokens[self.pos][0] != AND:
            return first
        operands = [first]
        while self.tokens[self.pos][0] == AND:
            self.pos += 1
            operands.append(self.comparison())
        return CompoundComparison(BoolOp.AND, tuple(operands))

    def comparison(self) -> ComparisonExpression:
        tokens = self.tokens
        kind = tokens[self.pos][0]
        if kind == LPAREN:
            self.enter()
            self.pos += 1
            inner = self.comparisons()
            self.expect(RPAREN, "AND, OR or ')'")
            self.depth -= 1
            return inner
        if kind in (NOT, EXISTS):
            negated = kind == NOT
            if negated:
                self.pos += 1
            self.expect(EXISTS, "EXISTS after NOT at the start of a comparison")
            return Comparison(self.path(), Operator.EXISTS, None, negated)
        path = self.path()
        token = tokens[self.pos]
        kind = token[0]
        negated = kind == NOT
        if negated:
            self.pos += 1
            token = tokens[self.pos]
            kind = token[0]
        operator = _OPERATORS.get(kind)
        if operator is None:
            self.fail(
                "a comparison operator (=, !=, <, <=, >, >=, IN, LIKE, MATCHES, "
                "ISSUBSET, ISSUPERSET)" + ("" if negated else " or NOT"),
                token,
            )
        self.pos += 1
        first = self.pos
        value_token = tokens[first]
        value_kind = value_token[0]
        value: ScalarConstant | SetConstant
        if kind == IN:
            value = self.set_value()
        elif kind in _STRING_ONLY:
            if value_kind != STRING:
                self.fail(f"a string after {operator.value}", value_token)
            self.pos += 1
            value = StringConstant(_unescape(value_token[1]))
        elif value_kind in _SCALARS and (value_kind != BOOL or kind not in _ORDERING):
            self.pos += 1
            value = _scalar(value_token)
        else:
            what = "a constant that is not a boolean" if kind in _ORDERING else "a constant"
            self.fail(f"{what} after {operator.value}", value_token)
        if "hashes" in path.steps:
            self.check_hash(path, first)
        return Comparison(path, operator, value, negated)

    def set_value(self) -> SetConstant:
        self.expect(LPAREN, "'(' to start the set after IN")
        tokens = self.tokens
        values: list[ScalarConstant] = []
        token = tokens[self.pos]
        if token[0] != RPAREN:
            while True:
                if token[0] not in _SCALARS:
                    self.fail("a constant in the set", token)
                values.append(_scalar(token))
                self.pos += 1
                token = tokens[self.pos]
                if token[0] != COMMA:
                    break
                self.pos += 1
                token = tokens[self.pos]
        self.expect(RPAREN, "',' or ')' to close the set")
        return SetConstant(tuple(values))

    def path(self) -> ObjectPath:
        tokens = self.tokens
        token = tokens[self.pos]
        if token[0] != IDENT and token[0] != IDENT_HYPHEN:
            self.fail("an object path (object-type:property) or '('", token)
        object_type = token[1]
        self.pos += 1
        self.expect(COLON, "':' after the object type")
        token = tokens[self.pos]
        steps: list[PathStep]
        if token[0] == IDENT:
            steps = [token[1]]
        elif token[0] == STRING:
            steps = [_unescape(token[1])]
        else:
            self.fail(_property_expected(token), token)
        self.pos += 1
        while True:
            kind = tokens[self.pos][0]
            if kind == DOT:
                token = tokens[self.pos + 1]
                if token[0] == IDENT:
                    steps.append(token[1])
                elif token[0] == STRING:
                    steps.append(_unescape(token[1]))
                else:
                    self.fail(_property_expected(token), token)
                self.pos += 2
            elif kind == LBRACK:
                token = tokens[self.pos + 1]
                if token[0] == INT_POS:
                    steps.append(int(token[1]))
                elif token[0] == ASTERISK:
                    steps.append(Wildcard.ANY)
                elif token[0] == INT_NEG:
                    raise PatternError("a list index must not be negative", token[2] + 1)
                else:
                    self.fail("a list index (integer or *)", token)
                self.pos += 2
                self.expect(RBRACK, "']' after the list index")
            else:
                return ObjectPath(object_type, tuple(steps))

    def check_hash(self, path: ObjectPath, first: int) -> None:
        selector = path.steps[-1]
        if isinstance(selector, Wildcard):
            return
        column = self.tokens[first][2] + 1
        if isinstance(selector, int):
            raise PatternError("a hashes path must not end in a list index", column)
        source = "".join(token[1] for token in self.tokens[first : self.pos])
        problem = hash_problem(selector, source.replace("'", ""))
        if problem is not None:
            raise PatternError(problem, column)


def _property_expected(token: Token) -> str:
    if token[0] == IDENT_HYPHEN:
        return "a property name; quote names holding '-', as in hashes.'SHA-256'"
    return "a property name (identifier or quoted string)"


def _unescape(literal: str) -> str:
    inner = literal[1:-1]
    return _UNESCAPE.sub(r"\1", inner) if "\\" in inner else inner


def _scalar(token: Token) -> ScalarConstant:
    kind, text, _ = token
    if kind == STRING:
        return StringConstant(_unescape(text))
    if kind in (INT_POS, INT_NEG):
        return IntConstant(int(text))
    if kind in (FLOAT_POS, FLOAT_NEG):
        return FloatConstant(float(text))
    if kind == BOOL:
        return BoolConstant(text == "true")
    if kind == TIMESTAMP:
        return TimestampConstant(text[2:-1])
    if kind == BINARY:
        return BinaryConstant(text[2:-1])
    return HexConstant(text[2:-1])
