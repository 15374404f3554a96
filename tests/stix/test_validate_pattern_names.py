"""The §3.1 naming rules on the object paths of indicator patterns (`thiqa.stix.pattern_names`),
and `thiqa.stix.patterns.path_names`, which feeds them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_validate_examples import example

from thiqa.stix.pattern_names import path_name_problems
from thiqa.stix.patterns import PatternError, check_pattern, parse_pattern, path_names
from thiqa.stix.validate import validate

CASES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "stix-examples"
CASES = CASES / "validator-cases" / "stix21_invalid_cases.jsonl"

TYPE_RULE = "3-250 characters of a-z, 0-9 and single hyphens, starting with a letter (§3.1)"
PROPERTY_RULE = "3-250 characters of a-z, 0-9 and '_', starting with a letter (§3.1)"


def errors(pattern: str, **changes: object) -> list[str]:
    return validate(example("indicator", pattern=pattern, **changes))


@pytest.mark.parametrize(
    "pattern",
    [
        "[file:hashes.'SHA-256' = '" + "a" * 64 + "']",
        "[ipv4-addr:value = '198.51.100.1' AND network-traffic:dst_port = 443]",
        "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = 'a']",
        "[windows-registry-key:values[*].data = 'badstuff']",
        "[user-account:extensions.'unix-account-ext'.gid = 1001]",
        # Later steps are keys or properties of something else: not names of this object.
        "[file:extensions.'x-Acme-Ext'.SomeKey = 'x']",
        "[email-message:from_ref.value MATCHES '.+@example\\\\.com$']",
        # Spec-defined properties are valid as they are, though `id` has two characters.
        "[file:id = 'file--5a27d487-c542-5f97-a131-a8866b477b46']",
        "[x-acme-widget:id = 'x-acme-widget--5a27d487-c542-4f97-a131-a8866b477b46']",
        # Custom types and properties that follow §3.1, with or without the x- / x_ prefix.
        "[x-foo:x_name = 'something']",
        "[x-x-foo:x_x_name = 'something']",
        "[foo:name = 'something']",
        "[file:x_acme_score > 5]",
        "[file:foo = 'something']",
        "[file:'quoted_name' = 'x']",
        "[x-" + "a" * 248 + ":" + "b" * 250 + " = 1]",
        # Every observation and qualifier is looked into.
        "([file:name = 'a'] FOLLOWEDBY [x-acme-thing:size > 3]) WITHIN 5 SECONDS",
        "[EXISTS process:pid] AND [mutex:name NOT LIKE 'x%']",
    ],
)
def test_valid_object_paths_are_accepted(pattern: str) -> None:
    assert errors(pattern) == []


@pytest.mark.parametrize(
    ("pattern", "bad_type"),
    [
        ("[f:name = 'x']", "f"),
        ("[ab:name = 'x']", "ab"),
        ("[File:name = 'x']", "File"),
        ("[x_foo:name = 'x']", "x_foo"),
        ("[x--foo:name = 'x']", "x--foo"),
        ("[x-foo-:name = 'x']", "x-foo-"),
        ("[x-" + "a" * 249 + ":name = 'x']", "x-" + "a" * 249),
    ],
)
def test_invalid_object_types_are_rejected(pattern: str, bad_type: str) -> None:
    assert check_pattern(pattern) is None  # the grammar allows it: only the naming rules don't
    (message,) = errors(pattern)
    assert message.startswith("pattern: object type " + repr(bad_type)[:100])
    assert message.endswith(f"is not a valid type name: {TYPE_RULE}")


@pytest.mark.parametrize(
    ("pattern", "bad_property"),
    [
        ("[file:n = 'x']", "n"),
        ("[file:nm = 'x']", "nm"),
        ("[file:Name = 'x']", "Name"),
        ("[file:_abc = 'x']", "_abc"),
        ("[file:'1abc' = 'x']", "1abc"),
        ("[file:'bad name' = 'x']", "bad name"),
        ("[file:" + "b" * 251 + " = 'x']", "b" * 251),
        # Real: misp-stix writes MISP object relations as-is (camel case, `x_misp_` prefix).
        ("[file:x_misp_KnownMalicious = 'x']", "x_misp_KnownMalicious"),
        # A custom type has only the properties every SCO has (§3.2) and its custom ones.
        ("[x-foo:yz = 'x']", "yz"),
        ("[foo:ID = 'x']", "ID"),
    ],
)
def test_invalid_property_names_are_rejected(pattern: str, bad_property: str) -> None:
    assert check_pattern(pattern) is None
    (message,) = errors(pattern)
    assert message.startswith("pattern: property ")
    assert repr(bad_property)[:100] in message
    assert message.endswith(f"is not a valid property name: {PROPERTY_RULE}")


def test_messages_name_the_object_path() -> None:
    assert errors("[ab:yz = 'something']") == [
        f"pattern: object type 'ab' (in object path 'ab:yz') is not a valid type name: {TYPE_RULE}",
        f"pattern: property 'yz' (in object path 'ab:yz') is not a valid property name:"
        f" {PROPERTY_RULE}",
    ]
    long_name = "b" * 300
    (message,) = errors(f"[file:{long_name} = 1]")
    assert len(message) < 500
    assert "(in object path 'file:bbbb" in message and "...)" in message


def test_each_bad_name_is_reported_once_wherever_it_is() -> None:
    found = errors("[ab:yz = 'a' OR ab:yz = 'b'] AND [file:n = 'c'] REPEATS 2 TIMES")
    assert [message.split(" is not")[0] for message in found] == [
        "pattern: object type 'ab' (in object path 'ab:yz')",
        "pattern: property 'yz' (in object path 'ab:yz')",
        "pattern: property 'n' (in object path 'file:n')",
    ]


def test_only_stix_patterns_are_checked() -> None:
    assert errors("[ab:yz = 'x']", pattern_type="x-acme") == []
    assert errors("[ab:yz = 'x']", pattern_type="snort") == []


def test_a_syntax_error_is_reported_alone_as_before() -> None:
    pattern = "[ab:yz = 'x' AND]"
    (message,) = errors(pattern)
    assert message == f"pattern: invalid STIX pattern: {check_pattern(pattern)}"


def test_the_oasis_validators_cases_name_the_same_offenders() -> None:
    """Every type or property the OASIS validator reports in v21-0138/0146/0150 is ours too."""
    with CASES.open(encoding="utf-8") as lines:
        cases = [json.loads(line) for line in lines]
    checked = 0
    for case in cases:
        if case["case_id"] not in ("v21-0138", "v21-0146", "v21-0150"):
            continue
        ours = validate(case["instance"])
        assert len(ours) == len(case["errors"]), (ours, case["errors"])
        for theirs in case["errors"]:
            name = theirs.split("Pattern failed to validate: ")[1].split(" is not")[0]
            what = "object type" if "type name" in theirs else "property"
            assert any(message.startswith(f"pattern: {what} {name}") for message in ours)
        checked += 1
    assert checked == 3


def test_path_name_problems_takes_any_names() -> None:
    assert path_name_problems([("file", "name"), ("x-foo", "x_bar")]) is None
    assert path_name_problems([("file", "name")], path="objects[0].pattern") is None
    found = path_name_problems([("ab", "name")], path="x_pattern")
    assert found is not None and [where for where, _ in found] == ["x_pattern"]


# -- path_names: the names, from one parse ------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "names"),
    [
        ("[ipv4-addr:value = '1.2.3.4']", [("ipv4-addr", "value")]),
        ("([ file:hashes.MD5 = '" + "0" * 32 + "' ])", [("file", "hashes")]),
        (
            "[ipv4-addr:value = '1.2.3.4' AND network-traffic:dst_port = '443']",
            [("ipv4-addr", "value"), ("network-traffic", "dst_port")],
        ),
        ("[network-traffic:dst_ref.value = 'x']", [("network-traffic", "dst_ref")]),
        ("[file:'quoted' = 'x']", [("file", "quoted")]),
        (
            "[a-b:c[*].d = 1] FOLLOWEDBY ([e-f:g > 2 OR h-i:j < 3] WITHIN 5 SECONDS)",
            [("a-b", "c"), ("e-f", "g"), ("h-i", "j")],
        ),
    ],
)
def test_path_names(pattern: str, names: list[tuple[str, str]]) -> None:
    assert path_names(pattern) == names
    tree = parse_pattern(pattern)
    assert names == [(c.path.object_type, c.path.property_name) for c in tree.comparisons()]


@pytest.mark.parametrize(
    "pattern", ["[file:name = 'x'", "[file:hashes.MD5 = 'nothex']", "", "[x:y = 1] WITHIN"]
)
def test_path_names_raises_what_parse_pattern_raises(pattern: str) -> None:
    with pytest.raises(PatternError) as raised:
        path_names(pattern)
    assert str(raised.value) == check_pattern(pattern)
