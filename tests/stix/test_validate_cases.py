"""The OASIS stix2-validator's own STIX 2.1 test inputs, checked against `validate`.

Each case records `valid_with_default_nonstrict_options`, the validator's verdict with its
default options (not strict). `validate` must reject (with at least one message) every case
the validator rejects and accept (no message at all) every case it accepts; findings of its
strict mode only may show up in `lint`.

Instances that are lists are validated element by element, bundles by the bundle rules plus
each of their objects (see `thiqa.stix.validate`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from thiqa.stix.validate import lint, validate

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
CASES_DIR = DATA / "stix-examples" / "validator-cases"

_STIX_2_0 = (
    "thiqa stores STIX 2.1: an SDO whose spec_version is '2.0' or missing is STIX 2.0 content"
    " (§3.2 requires '2.1'); the OASIS validator validates it under its STIX 2.0 rules instead"
)
_PROPERTY_NAME = (
    "the OASIS schema's property-name pattern '^([a-z][a-z0-9_]{2,249})|id$' anchors only the"
    " start of the name, so it accepts any name that begins with three valid characters;"
    " §3.1 requires the whole name to be 3-250 characters of a-z, 0-9 and '_'"
)

# Cases where thiqa disagrees with the validator, with the reason.
KNOWN_DIFFERENCES: dict[str, str] = {
    # A bundle whose identity has spec_version "2.0".
    "v21-0478": _STIX_2_0,
    "v21-0480": _STIX_2_0,
    "v21-0485": _STIX_2_0,
    # A bundle whose identity has no spec_version.
    "v21-0482": _STIX_2_0,
    "v21-0483": _STIX_2_0,
    "v21-0484": _STIX_2_0,
    # 'my_new_property!' (a '!' after the first three characters).
    "v21-0111": _PROPERTY_NAME,
    # A 256-character property name.
    "v21-0112": _PROPERTY_NAME,
}


def _load() -> list[dict[str, Any]]:
    cases = []
    for name in ("stix21_invalid_cases.jsonl", "stix21_valid_cases.jsonl"):
        with (CASES_DIR / name).open(encoding="utf-8") as lines:
            cases.extend(json.loads(line) for line in lines)
    return cases


CASES = _load()


def _params() -> list[Any]:
    params = []
    for case in CASES:
        reason = KNOWN_DIFFERENCES.get(case["case_id"])
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        params.append(pytest.param(case, id=case["case_id"], marks=marks))
    return params


@pytest.mark.parametrize("case", _params())
def test_validator_case(case: dict[str, Any]) -> None:
    errors = validate(case["instance"])
    if case["valid_with_default_nonstrict_options"]:
        assert errors == []
    else:
        assert errors, f"accepted, but the validator reports: {case['errors']}"
    assert all(type(message) is str and message for message in errors)


def test_all_cases_are_here() -> None:
    assert len(CASES) == 535
    assert len({case["case_id"] for case in CASES}) == len(CASES)
    assert set(KNOWN_DIFFERENCES) <= {case["case_id"] for case in CASES}


def test_lint_reports_most_strict_only_findings() -> None:
    """Cases valid by default but invalid in strict mode mostly get a warning from `lint`."""
    strict_only = [
        case
        for case in CASES
        if case["valid_with_default_nonstrict_options"] and not case["expected_valid"]
    ]
    warned = [case for case in strict_only if lint(case["instance"])]
    assert len(strict_only) > 100
    assert len(warned) >= 0.65 * len(strict_only)  # 110 of 153 today


def test_lint_accepts_every_instance() -> None:
    for case in CASES:
        warnings = lint(case["instance"])
        assert all(type(message) is str and message for message in warnings)
