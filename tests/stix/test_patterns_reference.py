"""Differential tests: our pattern validator against the OASIS reference.

The acceptance criterion of ``thiqa.stix.patterns``: ``check_pattern(p) is None``
exactly when ``stix2patterns.validator.run_validator(p, stix_version="2.1")``
reports no error, over the real corpus (every STIX pattern in the shared data) and
a seeded generated corpus of valid and subtly invalid patterns.

The default run checks ``THIQA_PATTERN_CASES`` (8,000) generated patterns from
seed ``THIQA_PATTERN_SEED`` (2021) and ``THIQA_PATTERN_EXAMPLES`` (300) examples per
hypothesis test; raise them for a longer run, e.g.
``THIQA_PATTERN_CASES=300000 THIQA_PATTERN_EXAMPLES=20000 pytest tests/stix/test_patterns*``.
"""

from __future__ import annotations

import functools
import os
import random
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pattern_corpus import generated_patterns, pattern_strategy, real_patterns, reference_accepts

from thiqa.stix.patterns import PatternError, check_pattern, parse_pattern, path_names
from thiqa.stix.patterns import lexer as L
from thiqa.stix.patterns.fastpath import fast_check, fast_parse, fast_path_names
from thiqa.stix.patterns.parser import parse

CASES = int(os.environ.get("THIQA_PATTERN_CASES", "8000"))
SEED = int(os.environ.get("THIQA_PATTERN_SEED", "2021"))
EXAMPLES = int(os.environ.get("THIQA_PATTERN_EXAMPLES", "300"))


@functools.cache
def _real() -> dict[str, list[str]]:
    return real_patterns()


@functools.cache
def _generated() -> list[str]:
    return generated_patterns(SEED, CASES)


def _reference_errors(text: str) -> str:
    from stix2patterns.validator import run_validator

    try:
        errors = run_validator(text, stix_version="2.1")
    except Exception as exc:
        return f"raised {exc!r}"
    return "; ".join(errors) if errors else "accepted"


def _disagreements(patterns: Iterable[str]) -> tuple[list[str], int, int]:
    """(report lines for disagreements, cases, cases the reference accepts)."""
    lines: list[str] = []
    cases = accepted = 0
    for text in patterns:
        cases += 1
        reference = reference_accepts(text)
        accepted += reference
        ours = check_pattern(text)
        if reference != (ours is None):
            lines.append(
                f"{text!r}\n    reference: {_reference_errors(text)}\n"
                f"    ours:      {ours or 'accepted'}"
            )
    return lines, cases, accepted


def _report(lines: list[str], cases: int) -> str:
    shown = "\n".join(lines[:40])
    more = f"\n… and {len(lines) - 40} more" if len(lines) > 40 else ""
    return f"{len(lines)} of {cases} patterns judged differently:\n{shown}{more}"


# -- real corpus ----------------------------------------------------------------


@pytest.mark.slow
def test_real_corpus_is_there() -> None:
    sizes = {name: len(patterns) for name, patterns in _real().items()}
    assert sum(sizes.values()) >= 9000, sizes
    assert sizes["ioc-feeds/abusech-sslbl-stix21-feeds2stix"] >= 8000, sizes
    assert sizes["misp/misp-stix"] >= 150, sizes


@pytest.mark.slow
@pytest.mark.parametrize(
    "data_set",
    [
        "ioc-feeds/abusech-sslbl-stix21-feeds2stix",
        "misp/misp-stix",
        "stix-examples/validator-cases",
        "stix-examples/json-schemas-repo",
        "stix-examples/cti-documentation",
    ],
)
def test_real_corpus_agrees_with_reference(data_set: str) -> None:
    lines, cases, _ = _disagreements(_real()[data_set])
    assert not lines, _report(lines, cases)


@pytest.mark.slow
def test_fast_path_builds_the_general_parsers_tree() -> None:
    patterns = [p for ps in _real().values() for p in ps] + _generated()
    recognized = 0
    for text in patterns:
        tree = fast_parse(text)
        assert fast_check(text) == (tree is not None), text
        if tree is not None:
            recognized += 1
            assert tree == parse(text), text
    assert recognized > 8000  # the abuse.ch feed and most single comparisons


@pytest.mark.slow
def test_path_names_are_the_trees_names() -> None:
    """`path_names` (which ingest uses) judges like `check_pattern` and lists the object type
    and top-level property of each comparison of the tree, on the fast path too."""
    patterns = [p for ps in _real().values() for p in ps] + _generated()
    fast = 0
    for text in patterns:
        error = check_pattern(text)
        try:
            names = path_names(text)
        except PatternError as exc:
            assert str(exc) == error, text
            continue
        assert error is None, text
        tree = parse(text)
        assert names == [(c.path.object_type, c.path.property_name) for c in tree.comparisons()]
        fast += fast_path_names(text) is not None
    assert fast > 8000


@pytest.mark.slow
def test_every_valid_pattern_round_trips() -> None:
    patterns = [p for ps in _real().values() for p in ps] + _generated()
    for text in patterns:
        if check_pattern(text) is None:
            tree = parse_pattern(text)
            again = str(tree)
            assert check_pattern(again) is None, (text, again)
            assert parse_pattern(again) == tree, (text, again)


# -- generated corpus -----------------------------------------------------------


def test_generated_corpus_agrees_with_reference() -> None:
    lines, cases, accepted = _disagreements(_generated())
    assert not lines, _report(lines, cases)
    # Keep the generator meaningful: plenty of both verdicts.
    assert accepted > cases * 0.15, (accepted, cases)
    assert cases - accepted > cases * 0.3, (accepted, cases)


@settings(max_examples=EXAMPLES, deadline=None)
@given(pattern_strategy())
def test_hypothesis_patterns_agree(text: str) -> None:
    assert reference_accepts(text) == (check_pattern(text) is None), (
        text,
        _reference_errors(text),
        check_pattern(text),
    )


_SOUP = [
    *"[](){}'\"\\.:=!<>-+*/,^ \t\nabhtzAZ_09éT\u00a0\u200b",
    "AND",
    "OR",
    "NOT",
    "IN",
    "true",
    "a:b",
    "x-y",
    "t'2020-01-01T00:00:00Z'",
    "h'ff'",
    "b'AAAA'",
    "WITHIN 5 SECONDS",
    "/*",
    "*/",
    "//",
]


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(st.sampled_from(_SOUP), max_size=25).map("".join))
def test_hypothesis_character_soup_agrees(text: str) -> None:
    assert reference_accepts(text) == (check_pattern(text) is None), (
        text,
        _reference_errors(text),
        check_pattern(text),
    )


# -- the tokenizer against the reference's ANTLR lexer ----------------------------

_ANTLR_KINDS = {
    "IntNegLiteral": L.INT_NEG,
    "IntPosLiteral": L.INT_POS,
    "FloatNegLiteral": L.FLOAT_NEG,
    "FloatPosLiteral": L.FLOAT_POS,
    "HexLiteral": L.HEX,
    "BinaryLiteral": L.BINARY,
    "StringLiteral": L.STRING,
    "BoolLiteral": L.BOOL,
    "TimestampLiteral": L.TIMESTAMP,
    "IdentifierWithoutHyphen": L.IDENT,
    "IdentifierWithHyphen": L.IDENT_HYPHEN,
    "POWER_OP": L.POWER,
    "HYPHEN": L.MINUS,
    "InvalidCharacter": L.INVALID,
}


def _antlr_tokens(text: str) -> list[tuple[int, str, int]]:
    from antlr4 import InputStream
    from stix2patterns.v21.grammars.STIXPatternLexer import STIXPatternLexer

    lexer = STIXPatternLexer(InputStream(text))
    lexer.removeErrorListeners()
    tokens = []
    while True:
        token = lexer.nextToken()
        if token.type == -1:
            tokens.append((L.EOF, "", len(text)))
            return tokens
        name = STIXPatternLexer.symbolicNames[token.type]
        kind = _ANTLR_KINDS.get(name)
        if kind is None:
            kind = getattr(L, name)
        tokens.append((kind, token.text, token.start))


def _as_antlr_sees_it(tokens: list[L.Token]) -> list[L.Token]:
    # Our one deliberate difference: "0123" is one BAD_NUMBER token, the grammar's
    # lexer makes "0" "123" of it (see the lexer's docstring).
    out: list[L.Token] = []
    for kind, value, start in tokens:
        if kind != L.BAD_NUMBER:
            out.append((kind, value, start))
            continue
        rest = value.lstrip("0")
        out += [(L.INT_POS, "0", start + i) for i in range(len(value) - len(rest))]
        if rest:
            out.append((L.INT_POS, rest, start + len(value) - len(rest)))
    return out


def test_tokenizer_matches_the_reference_lexer() -> None:
    rng = random.Random(SEED)
    texts = generated_patterns(SEED + 1, 2000)
    texts += ["".join(rng.choices(_SOUP, k=rng.randint(0, 30))) for _ in range(2000)]
    texts += ["0", "00", "0123", "00.5", "0123.x", "-0123", "+007", "1.0123", "/* a", "/*/ */"]
    for text in texts:
        assert _as_antlr_sees_it(L.tokenize(text)) == _antlr_tokens(text), text


# -- the fast path's own shapes ----------------------------------------------------

_FAST_SHAPES = [
    # chains of one operator, as misp-stix and feeds2stix write them
    "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = "
    "'5.157.201.166' AND network-traffic:dst_port = 80]",
    "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e' OR file:hashes.'SHA-1' = "
    "'da39a3ee5e6b4b0d3255bfef95601890afd80709' OR file:name = 'a.exe']",
    "([domain-name:value = 'ropromi.in' AND domain-name:resolves_to_refs[*].value = "
    "'193.186.194.209'])",
    "[email-message:to_refs[0].value = 'a@example.com']",
    "[x-custom:list[12][3].leaf != 'x']",
]
_NOT_FAST = [
    "[a:b = 'x' AND a:c = 'y' OR a:d = 'z']",  # mixed: AND binds tighter
    "[file:hashes[0] = 'd41d8cd98f00b204e9800998ecf8427e']",  # hashes + list index
    "[a:b[01] = 'x']",
    "[a:b[ * ] = 'x']",
    "[a:b[-1] = 'x']",
    "[a:b = 'x' AND]",
    "[a:b = 'x' AND a:c = 'y'",
    "([a:b = 'x']",
    "[a:b = 'x' ANDa:c = 'y']",
    "[file:hashes.MD5 = 'zz' AND file:name = 'a']",
    "[a:b = 'x' AND true:c = 'y']",
]


@pytest.mark.parametrize("text", _FAST_SHAPES)
def test_fast_path_takes_common_chains(text: str) -> None:
    assert reference_accepts(text)
    tree = fast_parse(text)
    assert tree is not None and fast_check(text)
    assert tree == parse(text)


@pytest.mark.parametrize("text", _NOT_FAST)
def test_fast_path_leaves_other_shapes_to_the_parser(text: str) -> None:
    assert fast_parse(text) is None and not fast_check(text)
    assert reference_accepts(text) == (check_pattern(text) is None), _reference_errors(text)
