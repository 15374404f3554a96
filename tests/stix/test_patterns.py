"""Unit tests for thiqa.stix.patterns: tree shapes, error messages, reference quirks."""

from __future__ import annotations

import time

import pytest
from pattern_corpus import reference_accepts

from thiqa.stix.patterns import Pattern, PatternError, check_pattern, parse_pattern
from thiqa.stix.patterns.ast import (
    BinaryConstant,
    BoolConstant,
    BoolOp,
    Comparison,
    CompoundComparison,
    CompoundObservation,
    FloatConstant,
    HexConstant,
    IntConstant,
    ObjectPath,
    Observation,
    ObservationOp,
    Operator,
    Qualified,
    Repeats,
    SetConstant,
    StartStop,
    StringConstant,
    TimestampConstant,
    Wildcard,
    Within,
)
from thiqa.stix.patterns.parser import MAX_DEPTH


def _cmp(
    object_type: str,
    *steps: str | int | Wildcard,
    op: Operator = Operator.EQ,
    value: object = None,
    negated: bool = False,
) -> Comparison:
    if isinstance(value, str):
        constant: object = StringConstant(value)
    elif isinstance(value, bool):
        constant = BoolConstant(value)
    elif isinstance(value, int):
        constant = IntConstant(value)
    else:
        constant = value
    return Comparison(ObjectPath(object_type, steps), op, constant, negated)  # type: ignore[arg-type]


def _obs(*comparisons: Comparison, op: BoolOp = BoolOp.AND) -> Observation:
    if len(comparisons) == 1:
        return Observation(comparisons[0])
    return Observation(CompoundComparison(op, comparisons))


# -- tree shapes ------------------------------------------------------------------


def test_single_comparison() -> None:
    tree = parse_pattern("[ipv4-addr:value = '198.51.100.1']")
    assert tree == Pattern(_obs(_cmp("ipv4-addr", "value", value="198.51.100.1")))


def test_quoted_hash_key() -> None:
    sha = "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"
    tree = parse_pattern(f"[file:hashes.'SHA-256' = '{sha}']")
    assert tree == Pattern(_obs(_cmp("file", "hashes", "SHA-256", value=sha)))
    assert str(next(tree.comparisons()).path) == "file:hashes.'SHA-256'"


def test_two_comparisons_with_reference_and_integer() -> None:
    tree = parse_pattern(
        "[network-traffic:dst_ref.value = '1.2.3.4' AND network-traffic:dst_port = 443]"
    )
    assert tree == Pattern(
        _obs(
            _cmp("network-traffic", "dst_ref", "value", value="1.2.3.4"),
            _cmp("network-traffic", "dst_port", value=443),
        )
    )


def test_comparison_precedence_and_grouping() -> None:
    a, b, c = (_cmp("x", name, value=1) for name in "abc")
    assert parse_pattern("[x:a = 1 OR x:b = 1 AND x:c = 1]").expression == Observation(
        CompoundComparison(BoolOp.OR, (a, CompoundComparison(BoolOp.AND, (b, c))))
    )
    assert parse_pattern("[(x:a = 1 OR x:b = 1) AND x:c = 1]").expression == Observation(
        CompoundComparison(BoolOp.AND, (CompoundComparison(BoolOp.OR, (a, b)), c))
    )
    # A chain of one operator is one node; redundant parentheses leave none.
    assert parse_pattern("[x:a = 1 AND (x:b = 1) AND ((x:c = 1))]").expression == Observation(
        CompoundComparison(BoolOp.AND, (a, b, c))
    )


def test_observation_precedence() -> None:
    a, b, c, d = (_obs(_cmp("x", name, value=1)) for name in "abcd")
    tree = parse_pattern("[x:a = 1] OR [x:b = 1] AND [x:c = 1] FOLLOWEDBY [x:d = 1]")
    assert tree.expression == CompoundObservation(
        ObservationOp.FOLLOWEDBY,
        (
            CompoundObservation(
                ObservationOp.OR, (a, CompoundObservation(ObservationOp.AND, (b, c)))
            ),
            d,
        ),
    )


def test_qualifiers_nest_left_to_right() -> None:
    tree = parse_pattern(
        "([x:a = 1] FOLLOWEDBY [x:b = 1]) WITHIN 1.5 SECONDS REPEATS 2 TIMES"
        " START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00.5Z'"
    )
    inner = CompoundObservation(
        ObservationOp.FOLLOWEDBY, (_obs(_cmp("x", "a", value=1)), _obs(_cmp("x", "b", value=1)))
    )
    assert tree.expression == Qualified(
        Qualified(Qualified(inner, Within(1.5)), Repeats(2)),
        StartStop(
            TimestampConstant("2016-06-01T00:00:00Z"), TimestampConstant("2016-07-01T00:00:00.5Z")
        ),
    )
    # Qualifiers bind tighter than observation operators.
    tree = parse_pattern("[x:a = 1] AND [x:b = 1] WITHIN 5 SECONDS")
    assert tree.expression == CompoundObservation(
        ObservationOp.AND,
        (_obs(_cmp("x", "a", value=1)), Qualified(_obs(_cmp("x", "b", value=1)), Within(5))),
    )


def test_object_paths() -> None:
    tree = parse_pattern(
        "[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0"
        " AND x-acme:'first key'[0].'it\\'s' != 'x']"
    )
    first, second = tree.comparisons()
    assert first.path == ObjectPath(
        "file", ("extensions", "windows-pebinary-ext", "sections", Wildcard.ANY, "entropy")
    )
    assert first.operator is Operator.GT and first.value == FloatConstant(7.0)
    assert second.path == ObjectPath("x-acme", ("first key", 0, "it's"))
    assert second.path.property_name == "first key"


@pytest.mark.parametrize(
    ("text", "operator", "value", "negated"),
    [
        ("x:a == 1", Operator.EQ, IntConstant(1), False),
        ("x:a <> -1", Operator.NEQ, IntConstant(-1), False),
        ("x:a NOT = +7", Operator.EQ, IntConstant(7), True),
        ("x:a <= -.5", Operator.LE, FloatConstant(-0.5), False),
        (
            "x:a >= t'2020-01-01T00:00:00Z'",
            Operator.GE,
            TimestampConstant("2020-01-01T00:00:00Z"),
            False,
        ),
        ("x:a = true", Operator.EQ, BoolConstant(True), False),
        ("x:a != false", Operator.NEQ, BoolConstant(False), False),
        ("x:a = b'SGVsbG8='", Operator.EQ, BinaryConstant("SGVsbG8="), False),
        ("x:a = h'0aFF'", Operator.EQ, HexConstant("0aFF"), False),
        ("x:a = 'a\\\\b\\'c'", Operator.EQ, StringConstant("a\\b'c"), False),
        (
            "x:a IN ('a', 1, 2.5)",
            Operator.IN,
            SetConstant((StringConstant("a"), IntConstant(1), FloatConstant(2.5))),
            False,
        ),
        ("x:a NOT IN ()", Operator.IN, SetConstant(()), True),
        ("x:a LIKE 'ab%'", Operator.LIKE, StringConstant("ab%"), False),
        ("x:a NOT MATCHES '^a$'", Operator.MATCHES, StringConstant("^a$"), True),
        ("x:a ISSUBSET '10.0.0.0/8'", Operator.ISSUBSET, StringConstant("10.0.0.0/8"), False),
        ("x:a ISSUPERSET '10.0.0.0/8'", Operator.ISSUPERSET, StringConstant("10.0.0.0/8"), False),
        ("EXISTS x:a", Operator.EXISTS, None, False),
        ("NOT EXISTS x:a", Operator.EXISTS, None, True),
    ],
)
def test_operators_and_constants(
    text: str, operator: Operator, value: object, negated: bool
) -> None:
    (comparison,) = parse_pattern(f"[{text}]").comparisons()
    assert comparison.path == ObjectPath("x", ("a",))
    assert (comparison.operator, comparison.value, comparison.negated) == (
        operator,
        value,
        negated,
    )


def test_constant_helpers() -> None:
    assert BinaryConstant("SGVsbG8=").to_bytes() == b"Hello"
    assert HexConstant("0aFF").to_bytes() == b"\x0a\xff"


def test_observations_and_comparisons_in_order() -> None:
    tree = parse_pattern(
        "([x:a = 1 OR (x:b = 1 AND x:c = 1)] FOLLOWEDBY [y:d = 1]) WITHIN 5 SECONDS OR [z:e = 1]"
    )
    assert [o.expression for o in tree.observations()][1] == _cmp("y", "d", value=1)
    assert [c.path.object_type + ":" + str(c.path.steps[0]) for c in tree.comparisons()] == [
        "x:a",
        "x:b",
        "x:c",
        "y:d",
        "z:e",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "[x:a = 1" + "0" * 30 + ".5 AND x:b = 0.000000001]",
        "[x:'AND' = 1 AND x:'a b'.'c-d'[*][3].true_ = 'it\\'s']",
        "[x:a = 1] REPEATS 2 TIMES WITHIN 1 SECONDS",
        "([x:a = 1] WITHIN 1 SECONDS) WITHIN 2 SECONDS",
        "([x:a = 1] AND [x:b = 2]) OR [x:c = 3] FOLLOWEDBY ([x:d = 4] OR [x:e = 5])",
        "[x:a IN (t'2020-01-01T00:00:00Z', b'AAAA', h'', true, -0.25)]",
        "[(x:a = 1 OR x:b = 2) AND NOT EXISTS x:c]",
    ],
)
def test_str_parses_back_to_the_same_tree(text: str) -> None:
    tree = parse_pattern(text)
    assert parse_pattern(str(tree)) == tree


# -- errors: what and where --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("ipv4-addr:value = '1.2.3.4'", "must start with '['", 1),
        ("/* c */ [x:a = 1]", "no comment before it", 1),
        ("", "must start with '['", 1),
        ("[ipv4-addr:value = '1.2.3.4'", "expected AND, OR or ']'", 29),
        ("[ipv4-addr:value = '1.2.3.4]", "found a quote that starts no valid string", 20),
        ("[x:a = 'a\\b']", "backslash not followed by", 8),
        ("[file:hashes.SHA-256 = 'a']", "quote names holding '-'", 14),
        ("[x:a === 1]", "expected a constant after =, found '='", 8),
        ("[x:a =~ 'a']", "found invalid character '~'", 7),
        ("[x:a LIKE 1]", "expected a string after LIKE, found integer 1", 11),
        ("[x:a < true]", "not a boolean after <", 8),
        ("[x:a IN ('a',)]", "expected a constant in the set, found ')'", 14),
        ("[x:a IN 'a']", "'(' to start the set after IN", 9),
        ("[x:a = h'abc']", "malformed hex literal", 8),
        ("[x:a = b'AAA']", "malformed binary (base64) literal", 8),
        ("[x:a = t'2020-13-01T00:00:00Z']", "malformed timestamp literal", 8),
        ("[x:a = 1] WITHIN -5 SECONDS", "non-negative number of seconds after WITHIN", 18),
        ("[x:a = 1] REPEATS 1.5 TIMES", "non-negative integer after REPEATS", 19),
        (
            "[x:a = 1] START '2020-01-01T00:00:00Z' STOP t'2020-01-01T00:00:00Z'",
            "a timestamp t'YYYY-MM-DDThh:mm:ss[.s]Z' after START",
            17,
        ),
        ("[x:a = 1] WITHIN 5 SECONDS WITHIN 6 SECONDS", "duplicate WITHIN qualifier", 28),
        ("[x:a[-1] = 1]", "list index must not be negative", 6),
        ("[file:hashes.MD5 = 'abc']", "'abc' is not a valid MD5 hash", 20),
        ("[file:hashes[0] = 'abc']", "must not end in a list index", 19),
        ("[x:a = 1] and [x:b = 2]", "expected AND, OR, FOLLOWEDBY, a qualifier or the end", 11),
        ("[x:a = 1] AND", "found the end of the pattern", 14),
        ("[AND:a = 1]", "expected an object path", 2),
        (
            "[x:true = 1]",
            "expected a property name (identifier or quoted string), found boolean",
            4,
        ),
        ("[NOT x:a = 1]", "EXISTS after NOT", 6),
        ("[x:a = 1] \u00e9", "invalid character 'é'", 11),
        ("[x:a = 0123]", "found number with a leading zero 0123", 8),
    ],
)
def test_error_says_what_and_where(text: str, message: str, column: int) -> None:
    with pytest.raises(PatternError) as caught:
        parse_pattern(text)
    assert message in caught.value.reason
    assert caught.value.column == column, str(caught.value)
    assert str(caught.value).endswith(f"(column {column})")
    assert check_pattern(text) == str(caught.value)
    assert not reference_accepts(text)


def test_nesting_limit() -> None:
    deep = "(" * MAX_DEPTH + "[x:a = 1]" + ")" * MAX_DEPTH
    assert check_pattern(deep) is None
    too_deep = "[" + "(" * (MAX_DEPTH + 1) + "x:a = 1" + ")" * (MAX_DEPTH + 1) + "]"
    with pytest.raises(PatternError, match="nested deeper than"):
        parse_pattern(too_deep)


@pytest.mark.parametrize(
    "tail", ["/*x", "0", "'\\\\", "h'ab", "b'AAAA", "-0", "00.", "(", "[x:a = 1] AND "]
)
def test_time_is_linear_in_the_length(tail: str) -> None:
    # Patterns come from untrusted feeds: no input may take quadratic time.
    # 50 KB in well under a second (quadratic took 10 s for "/*x").
    text = "[x:a = 1] " + tail * (50_000 // len(tail))
    started = time.perf_counter()
    check_pattern(text)
    assert time.perf_counter() - started < 1.0


def test_check_pattern_is_none_when_valid() -> None:
    assert check_pattern("[ipv4-addr:value = '198.51.100.1']") is None
    assert check_pattern("[x:a = 1] // trailing comment") is None
    assert isinstance(check_pattern("[x:a = 1"), str)


# -- the reference's rules beyond the grammar, pinned -----------------------------


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        # Keywords are case-sensitive; true/false lower case only.
        ("[x:a = 1] and [x:b = 1]", False),
        ("[x:a = TRUE]", False),
        ("[x:ANDROID = 1 AND x:b = 1]", True),
        # Whitespace is the grammar's set: NBSP yes, zero-width space no.
        ("[x:a\u00a0=\u30001]", True),
        ("[x:a =\u200b1]", False),
        # Comments are whitespace, except before the first '['.
        ("[x:a /* c */ = 1] // c", True),
        ("( /* c */ [x:a = 1])", False),
        # Number forms.
        ("[x:a = 01]", False),
        ("[x:a = 007.5]", True),
        ("[x:a = -0]", True),
        ("[x:a = 1.]", False),
        ("[x:a[+1] = 1]", True),
        # An empty set is allowed; any mix of constant types too.
        ("[x:a IN ()]", True),
        ("[x:a IN (1, 'a', true, b'AAAA')]", True),
        # base64 needs whole quanta with correct padding; hex whole bytes.
        ("[x:a = b'']", False),
        ("[x:a = b'AA==']", True),
        ("[x:a = b'A===']", False),
        ("[x:a = h'']", True),
        # Timestamps: the grammar's ranges only (Feb 31 and second 60 pass).
        ("[x:a = t'2020-02-31T23:59:60Z']", True),
        ("[x:a = t'2020-01-01T24:00:00Z']", False),
        ("[x:a = t'2020-01-01T00:00:00.Z']", False),
        # Qualifier numbers: WITHIN takes 0 and floats, REPEATS 0 but no float.
        ("[x:a = 1] WITHIN 0 SECONDS", True),
        ("[x:a = 1] WITHIN .5 SECONDS", True),
        ("[x:a = 1] REPEATS 0 TIMES", True),
        ("[x:a = 1] WITHIN 5 SECONDS REPEATS 2 TIMES WITHIN 6 SECONDS", False),
        ("([x:a = 1] WITHIN 5 SECONDS) WITHIN 6 SECONDS", True),
        ("([x:a = 1]) WITHIN 5 SECONDS WITHIN 6 SECONDS", True),
        # Hash values: checked on the literal's text, with the reference's forms.
        ("[file:hashes.'SHA-256' = 'ABCDEF" + "0" * 58 + "']", True),
        ("[file:hashes.sha256 = '" + "0" * 63 + "']", False),
        ("[file:hashes.'ſha1' = 'x']", False),
        ("[file:hashes.MD6 = '" + "a" * 32 + "zz']", True),
        ("[file:hashes.MD5 = '" + "a" * 32 + "\n']", True),
        ("[file:hashes.MD5 IN ('" + "a" * 32 + "')]", False),
        ("[file:hashes.MD5 = " + "1" * 32 + "]", True),
        ("[file:hashes.TLSH = 'anything']", True),
        ("[file:hashes[*] = 'x']", True),
        ("[EXISTS file:hashes[0]]", True),
        ("[x:hashes.md5 = 'x' OR x:y.hashes.'SHA-1' = 'y']", False),
    ],
)
def test_reference_rules(text: str, valid: bool) -> None:
    assert (check_pattern(text) is None) == valid, check_pattern(text)
    assert reference_accepts(text) == valid
