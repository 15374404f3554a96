"""Typed syntax tree of a STIX 2.1 pattern (STIX 2.1 §9, "STIX Patterning").

A pattern is one observation expression::

    Pattern
    └── ObservationExpression = Observation            [ comparison-expression ]
                              | CompoundObservation    AND / OR / FOLLOWEDBY of observations
                              | Qualified              observation + WITHIN / REPEATS / START…STOP
    ComparisonExpression      = Comparison             object-path operator constant
                              | CompoundComparison     AND / OR of comparisons

Chains of one operator without parentheses are flattened into one compound node
(``a AND b AND c`` has three operands); parentheses only group, they leave no node.
Constants keep the value in the most useful Python form: strings unescaped, numbers
as ``int``/``float``, timestamps as their RFC 3339 text, ``b''`` and ``h''`` as their
text with ``to_bytes()``.
"""

from __future__ import annotations

import base64
import decimal
import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass

from thiqa.stix.patterns.lexer import KEYWORDS

__all__ = [
    "BinaryConstant",
    "BoolConstant",
    "BoolOp",
    "Comparison",
    "ComparisonExpression",
    "CompoundComparison",
    "CompoundObservation",
    "Constant",
    "FloatConstant",
    "HexConstant",
    "IntConstant",
    "ObjectPath",
    "Observation",
    "ObservationExpression",
    "ObservationOp",
    "Operator",
    "PathStep",
    "Pattern",
    "Qualified",
    "Qualifier",
    "Repeats",
    "ScalarConstant",
    "SetConstant",
    "StartStop",
    "StringConstant",
    "TimestampConstant",
    "Wildcard",
    "Within",
]


class Wildcard(enum.Enum):
    """The ``[*]`` list step of an object path: any member of the list."""

    ANY = "*"


#: One step of an object path after the object type: a property or dictionary key
#: (``str``), a list index (``int``) or any list member (``Wildcard.ANY``).
PathStep = str | int | Wildcard


@dataclass(frozen=True, slots=True)
class ObjectPath:
    """``object-type:property[.key|[index]]…`` (§9, "Object Path Syntax").

    ``steps[0]`` is always the top-level property name.
    """

    object_type: str
    steps: tuple[PathStep, ...]

    @property
    def property_name(self) -> str:
        first = self.steps[0]
        assert isinstance(first, str)
        return first

    def __str__(self) -> str:
        parts = [self.object_type, ":", _render_key(self.property_name)]
        for step in self.steps[1:]:
            if isinstance(step, str):
                parts += [".", _render_key(step)]
            elif isinstance(step, Wildcard):
                parts.append("[*]")
            else:
                parts.append(f"[{step}]")
        return "".join(parts)


# -- constants (§9, "Constants") -------------------------------------------------


@dataclass(frozen=True, slots=True)
class StringConstant:
    value: str

    def __str__(self) -> str:
        return _quote(self.value)


@dataclass(frozen=True, slots=True)
class IntConstant:
    value: int

    def __str__(self) -> str:
        return str(self.value)


@dataclass(frozen=True, slots=True)
class FloatConstant:
    value: float

    def __str__(self) -> str:
        return _float_text(self.value)


@dataclass(frozen=True, slots=True)
class BoolConstant:
    value: bool

    def __str__(self) -> str:
        return "true" if self.value else "false"


@dataclass(frozen=True, slots=True)
class TimestampConstant:
    """``t'…'``: an RFC 3339 UTC timestamp, kept as text (it may hold a leap second)."""

    value: str

    def __str__(self) -> str:
        return f"t'{self.value}'"


@dataclass(frozen=True, slots=True)
class BinaryConstant:
    """``b'…'``: base64 text; ``to_bytes()`` decodes it."""

    value: str

    def to_bytes(self) -> bytes:
        return base64.b64decode(self.value)

    def __str__(self) -> str:
        return f"b'{self.value}'"


@dataclass(frozen=True, slots=True)
class HexConstant:
    """``h'…'``: hex text; ``to_bytes()`` decodes it."""

    value: str

    def to_bytes(self) -> bytes:
        return bytes.fromhex(self.value)

    def __str__(self) -> str:
        return f"h'{self.value}'"


ScalarConstant = (
    StringConstant
    | IntConstant
    | FloatConstant
    | BoolConstant
    | TimestampConstant
    | BinaryConstant
    | HexConstant
)


@dataclass(frozen=True, slots=True)
class SetConstant:
    """``(c1, c2, …)``, the right-hand side of ``IN``; the grammar allows ``()``."""

    values: tuple[ScalarConstant, ...]

    def __str__(self) -> str:
        return "(" + ", ".join(str(v) for v in self.values) + ")"


Constant = ScalarConstant | SetConstant


# -- comparison expressions (§9, "Comparison Operators") -------------------------


class Operator(enum.StrEnum):
    """Comparison operator; ``==`` parses as ``EQ`` and ``<>`` as ``NEQ``."""

    EQ = "="
    NEQ = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    IN = "IN"
    LIKE = "LIKE"
    MATCHES = "MATCHES"
    ISSUBSET = "ISSUBSET"
    ISSUPERSET = "ISSUPERSET"
    EXISTS = "EXISTS"


@dataclass(frozen=True, slots=True)
class Comparison:
    """``path [NOT] operator constant``, or ``[NOT] EXISTS path`` (``value`` is None).

    The value type follows the operator: ``SetConstant`` for ``IN``,
    ``StringConstant`` for ``LIKE``/``MATCHES``/``ISSUBSET``/``ISSUPERSET``, a
    non-boolean scalar for the ordering operators, any scalar for ``=``/``!=``.
    """

    path: ObjectPath
    operator: Operator
    value: Constant | None
    negated: bool = False

    def __str__(self) -> str:
        neg = "NOT " if self.negated else ""
        if self.operator is Operator.EXISTS:
            return f"{neg}EXISTS {self.path}"
        return f"{self.path} {neg}{self.operator.value} {self.value}"


class BoolOp(enum.StrEnum):
    AND = "AND"
    OR = "OR"


@dataclass(frozen=True, slots=True)
class CompoundComparison:
    """Two or more comparison expressions joined by one boolean operator."""

    op: BoolOp
    operands: tuple[ComparisonExpression, ...]

    def __str__(self) -> str:
        return f" {self.op.value} ".join(_group(o, CompoundComparison) for o in self.operands)


ComparisonExpression = Comparison | CompoundComparison


# -- observation expressions (§9, "Observation Operators", "Pattern Qualifiers") -


@dataclass(frozen=True, slots=True)
class Observation:
    """``[ comparison-expression ]``: one observation."""

    expression: ComparisonExpression

    def __str__(self) -> str:
        return f"[{self.expression}]"


class ObservationOp(enum.StrEnum):
    AND = "AND"
    OR = "OR"
    FOLLOWEDBY = "FOLLOWEDBY"


@dataclass(frozen=True, slots=True)
class CompoundObservation:
    """Two or more observation expressions joined by one observation operator."""

    op: ObservationOp
    operands: tuple[ObservationExpression, ...]

    def __str__(self) -> str:
        return f" {self.op.value} ".join(_group(o, CompoundObservation) for o in self.operands)


@dataclass(frozen=True, slots=True)
class Within:
    """``WITHIN n SECONDS``."""

    seconds: int | float

    def __str__(self) -> str:
        seconds = self.seconds
        text = _float_text(seconds) if isinstance(seconds, float) else str(seconds)
        return f"WITHIN {text} SECONDS"


@dataclass(frozen=True, slots=True)
class Repeats:
    """``REPEATS n TIMES``."""

    times: int

    def __str__(self) -> str:
        return f"REPEATS {self.times} TIMES"


@dataclass(frozen=True, slots=True)
class StartStop:
    """``START t'…' STOP t'…'``."""

    start: TimestampConstant
    stop: TimestampConstant

    def __str__(self) -> str:
        return f"START {self.start} STOP {self.stop}"


Qualifier = Within | Repeats | StartStop


@dataclass(frozen=True, slots=True)
class Qualified:
    """An observation expression with one qualifier; several qualifiers nest."""

    expression: ObservationExpression
    qualifier: Qualifier

    def __str__(self) -> str:
        return f"{_group(self.expression, (CompoundObservation, Qualified))} {self.qualifier}"


ObservationExpression = Observation | CompoundObservation | Qualified


@dataclass(frozen=True, slots=True)
class Pattern:
    """A parsed pattern; ``str()`` gives a canonical text that parses back to it."""

    expression: ObservationExpression

    def observations(self) -> Iterator[Observation]:
        """Every ``[…]`` observation, left to right."""
        stack: list[ObservationExpression] = [self.expression]
        while stack:
            node = stack.pop()
            if isinstance(node, Observation):
                yield node
            elif isinstance(node, Qualified):
                stack.append(node.expression)
            else:
                stack.extend(reversed(node.operands))

    def comparisons(self) -> Iterator[Comparison]:
        """Every comparison, left to right: what the correlation engine indexes."""
        for observation in self.observations():
            stack: list[ComparisonExpression] = [observation.expression]
            while stack:
                node = stack.pop()
                if isinstance(node, Comparison):
                    yield node
                else:
                    stack.extend(reversed(node.operands))

    def __str__(self) -> str:
        return str(self.expression)


def _float_text(value: float) -> str:
    # Positional notation: the grammar has no exponent form.
    text = format(decimal.Decimal(repr(value)), "f")
    return text if "." in text else text + ".0"


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _render_key(key: str) -> str:
    if _IDENTIFIER.fullmatch(key) and key not in KEYWORDS:
        return key
    return _quote(key)


def _group(node: object, parenthesised: type | tuple[type, ...]) -> str:
    # Nested compounds (necessarily of another operator) need parentheses to keep
    # their grouping; a qualified operand of a qualifier keeps them because
    # "[a] WITHIN 1 SECONDS WITHIN 2 SECONDS" is rejected where "([a] WITHIN 1
    # SECONDS) WITHIN 2 SECONDS" is not.
    text = str(node)
    return f"({text})" if isinstance(node, parenthesised) else text
