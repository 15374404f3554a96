"""A minimal valid object of every STIX 2.1 type, and the required properties of each.

`example(type, **changes)` is used by the other validator tests: it returns a fresh copy with
properties set, or removed when the value is `DROP`.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from thiqa.stix.validate import TYPES, validate

TS = "2024-03-01T12:00:00.000Z"
IDENTITY = "identity--6b6a4a8f-3a3e-4bb8-9b3c-5a1c1c0e2f11"
MARKING = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
DROP: Any = object()


def _sdo(kind: str, **props: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "spec_version": "2.1",
        "id": f"{kind}--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061",
        "created": TS,
        "modified": TS,
        **props,
    }


def _sco(kind: str, **props: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "spec_version": "2.1",
        "id": f"{kind}--ff26c055-6336-5bc5-b98d-13d6226742dd",
        **props,
    }


REFS = ["indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]

EXAMPLES: dict[str, dict[str, Any]] = {
    "attack-pattern": _sdo("attack-pattern", name="Spear Phishing"),
    "campaign": _sdo("campaign", name="Operation Dream Job"),
    "course-of-action": _sdo("course-of-action", name="Block port 4444"),
    "grouping": _sdo("grouping", context="suspicious-activity", object_refs=REFS),
    "identity": _sdo("identity", name="ACME", identity_class="organization"),
    "incident": _sdo("incident", name="FUBAR"),
    "indicator": _sdo(
        "indicator",
        pattern="[ipv4-addr:value = '198.51.100.1']",
        pattern_type="stix",
        valid_from="2024-03-01T12:00:00Z",
    ),
    "infrastructure": _sdo("infrastructure", name="C2 servers"),
    "intrusion-set": _sdo("intrusion-set", name="Bobcat Breakin"),
    "location": _sdo("location", region="northern-africa"),
    "malware": _sdo("malware", is_family=False),
    "malware-analysis": _sdo("malware-analysis", product="clamav", result="malicious"),
    "note": _sdo("note", content="seen again", object_refs=REFS),
    "observed-data": _sdo(
        "observed-data",
        first_observed=TS,
        last_observed=TS,
        number_observed=1,
        object_refs=["ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd"],
    ),
    "opinion": _sdo("opinion", opinion="agree", object_refs=REFS),
    "report": _sdo("report", name="APT report", published=TS, object_refs=REFS),
    "threat-actor": _sdo("threat-actor", name="Evil Org"),
    "tool": _sdo("tool", name="VNC"),
    "vulnerability": _sdo("vulnerability", name="CVE-2016-1234"),
    "relationship": _sdo(
        "relationship",
        relationship_type="indicates",
        source_ref=REFS[0],
        target_ref="malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b",
    ),
    "sighting": _sdo("sighting", sighting_of_ref=REFS[0]),
    "artifact": _sco("artifact", payload_bin="VBORw0KGgoAAAANSUhEUgAAADI=="),
    "autonomous-system": _sco("autonomous-system", number=15139),
    "directory": _sco("directory", path="C:\\Windows\\System32"),
    "domain-name": _sco("domain-name", value="example.com"),
    "email-addr": _sco("email-addr", value="jdoe@example.com"),
    "email-message": _sco("email-message", is_multipart=False, subject="Hello"),
    "file": _sco("file", name="foo.exe"),
    "ipv4-addr": _sco("ipv4-addr", value="198.51.100.3"),
    "ipv6-addr": _sco("ipv6-addr", value="2001:db8::1"),
    "mac-addr": _sco("mac-addr", value="d2:fb:49:24:37:18"),
    "mutex": _sco("mutex", name="__CLEANSWEEP__"),
    "network-traffic": _sco(
        "network-traffic",
        dst_ref="ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd",
        protocols=["tcp"],
    ),
    "process": {
        "type": "process",
        "spec_version": "2.1",
        "id": "process--f52a906a-0dfc-40bd-92f1-e7778ead38a9",
        "pid": 1221,
    },
    "software": _sco("software", name="Word"),
    "url": _sco("url", value="https://example.com/research/index.html"),
    "user-account": _sco("user-account", user_id="1001"),
    "windows-registry-key": _sco(
        "windows-registry-key", key="HKEY_LOCAL_MACHINE\\System\\Foo\\Bar"
    ),
    "x509-certificate": _sco("x509-certificate", serial_number="36:f7:d4:32:f4:ab:70:ea"),
    "marking-definition": {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41db",
        "created": TS,
        "definition_type": "statement",
        "definition": {"statement": "Copyright 2024, Example Corp"},
    },
    "extension-definition": _sdo(
        "extension-definition",
        created_by_ref=IDENTITY,
        name="Example extension",
        description="Adds a rank to attack patterns",
        schema="https://example.com/schema.json",
        version="1.0.0",
        extension_types=["property-extension"],
    ),
    "language-content": _sdo(
        "language-content",
        object_ref=REFS[0],
        contents={"de": {"name": "Bösartige Aktivität"}},
    ),
}

# Required properties that can be removed alone (others come in alternatives, tested apart).
REQUIRED: dict[str, tuple[str, ...]] = {
    "attack-pattern": ("name",),
    "campaign": ("name",),
    "course-of-action": ("name",),
    "grouping": ("context", "object_refs"),
    "identity": ("name",),
    "incident": ("name",),
    "indicator": ("pattern", "pattern_type", "valid_from"),
    "infrastructure": ("name",),
    "intrusion-set": ("name",),
    "malware": ("is_family",),
    "malware-analysis": ("product",),
    "note": ("content", "object_refs"),
    "observed-data": ("first_observed", "last_observed", "number_observed"),
    "opinion": ("opinion", "object_refs"),
    "report": ("name", "published", "object_refs"),
    "threat-actor": ("name",),
    "tool": ("name",),
    "vulnerability": ("name",),
    "relationship": ("relationship_type", "source_ref", "target_ref"),
    "sighting": ("sighting_of_ref",),
    "autonomous-system": ("number",),
    "directory": ("path",),
    "domain-name": ("value",),
    "email-addr": ("value",),
    "email-message": ("is_multipart",),
    "ipv4-addr": ("value",),
    "ipv6-addr": ("value",),
    "mac-addr": ("value",),
    "mutex": ("name",),
    "network-traffic": ("protocols",),
    "software": ("name",),
    "url": ("value",),
    "marking-definition": ("created", "spec_version"),
    "extension-definition": ("created_by_ref", "name", "schema", "version", "extension_types"),
    "language-content": ("object_ref", "contents"),
}
SDO_COMMON_REQUIRED = ("spec_version", "created", "modified")
VERSIONED_META = ("extension-definition", "language-content")


def example(kind: str, **changes: Any) -> dict[str, Any]:
    obj = copy.deepcopy(EXAMPLES[kind])
    for name, value in changes.items():
        if value is DROP:
            obj.pop(name, None)
        else:
            obj[name] = value
    return obj


def test_every_type_has_an_example() -> None:
    assert set(EXAMPLES) == set(TYPES)
    assert len(TYPES) == 19 + 2 + 18 + 3


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_example_is_valid(kind: str) -> None:
    assert validate(EXAMPLES[kind]) == []


def _required_cases() -> list[tuple[str, str]]:
    cases = []
    for kind in sorted(EXAMPLES):
        names = [*REQUIRED.get(kind, ()), "id"]
        if TYPES[kind].kind in ("sdo", "sro") or kind in VERSIONED_META:
            names += SDO_COMMON_REQUIRED
        cases.extend((kind, name) for name in dict.fromkeys(names))
    return cases


@pytest.mark.parametrize(("kind", "name"), _required_cases())
def test_required_property_missing(kind: str, name: str) -> None:
    assert f"{name}: required property is missing" in validate(example(kind, **{name: DROP}))


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_missing_type(kind: str) -> None:
    assert validate(example(kind, type=DROP)) == ["type: required property is missing"]
