"""Real published STIX 2.1 content validates clean: MITRE ATT&CK (ICS, Mobile, Enterprise) with
its x-mitre-* custom objects and x_mitre_* custom properties, and the abuse.ch SSL Blacklist
feed; CAPEC is clean except for its two references whose URL starts with a space.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest

from thiqa.stix.validate import lint, validate

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
ATTACK = DATA / "attack"
ABUSE = DATA / "ioc-feeds" / "abusech-sslbl-stix21-feeds2stix"


def load(path: Path) -> dict[str, Any]:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    bundle: dict[str, Any] = orjson.loads(raw)
    return bundle


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "ics-attack-18.1.stix21.json",
        "mobile-attack-17.1.stix21.json",
        "enterprise-attack-18.1.stix21.json.gz",
    ],
)
def test_attack_is_valid(name: str) -> None:
    bundle = load(ATTACK / name)
    assert len(bundle["objects"]) > 1000
    assert validate(bundle) == []


@pytest.mark.slow
def test_abusech_feeds_are_valid() -> None:
    paths = sorted(ABUSE.glob("*/*.json"))
    assert len(paths) == 146
    count = 0
    for path in paths:
        bundle = load(path)
        count += len(bundle["objects"])
        assert validate(bundle) == [], path.name
    assert count == 46_616


@pytest.mark.slow
def test_capec_rejects_exactly_the_urls_with_a_leading_space() -> None:
    bundle = load(ATTACK / "capec-2.1.stix21.json")
    expected: dict[str, list[str]] = {}
    expected_in_bundle: list[str] = []
    for i, obj in enumerate(bundle["objects"]):
        for j, ref in enumerate(obj.get("external_references", [])):
            if ref.get("url", "").startswith(" "):
                message = f"external_references[{j}].url: {ref['url']!r} is not a valid URL"
                expected[obj["id"]] = [message + " (RFC 3986)"]
                expected_in_bundle.append(f"objects[{i}].{message} (RFC 3986)")
    assert len(expected) == 2

    invalid = {obj["id"]: errors for obj in bundle["objects"] if (errors := validate(obj))}
    assert invalid == expected
    assert validate(bundle) == expected_in_bundle


@pytest.mark.slow
def test_attack_lint_names_the_custom_content() -> None:
    """ATT&CK's custom objects and properties are valid; `lint` still points them out."""
    bundle = load(ATTACK / "ics-attack-18.1.stix21.json")
    warnings = lint(bundle)
    assert any("x-mitre-tactic" in message for message in warnings)
    assert any(".x_mitre_version: custom property" in message for message in warnings)
