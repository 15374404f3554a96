"""Type-specific rules of STIX Domain Objects (§4) and Relationship Objects (§5)."""

from __future__ import annotations

from typing import Any

import pytest
from test_validate_examples import DROP, example

from thiqa.stix.validate import validate

TS = "2016-04-06T20:03:48.000Z"
LATER = "2016-04-06T20:03:48.001Z"


def assert_error(obj: Any, expected: str) -> None:
    found = validate(obj)
    assert any(expected in message for message in found), (expected, found)


# -- first/last seen and other ordered timestamps ----------------------------------------------


@pytest.mark.parametrize(
    ("kind", "first", "last", "strictly"),
    [
        ("campaign", "first_seen", "last_seen", False),
        ("intrusion-set", "first_seen", "last_seen", False),
        ("threat-actor", "first_seen", "last_seen", False),
        ("malware", "first_seen", "last_seen", False),
        ("infrastructure", "first_seen", "last_seen", False),
        ("sighting", "first_seen", "last_seen", False),
        ("observed-data", "first_observed", "last_observed", False),
        ("indicator", "valid_from", "valid_until", True),
        ("relationship", "start_time", "stop_time", True),
    ],
)
def test_timestamp_order(kind: str, first: str, last: str, strictly: bool) -> None:
    relation = "later than" if strictly else "later than or equal to"
    assert validate(example(kind, **{first: TS, last: LATER})) == []
    assert validate(example(kind, **{first: LATER, last: TS})) == [
        f"{last}: {TS!r} must be {relation} {first} ({LATER!r})"
    ]
    same = validate(example(kind, **{first: TS, last: TS}))
    assert same == ([f"{last}: {TS!r} must be later than {first} ({TS!r})"] if strictly else [])
    # The same instant at another precision.
    instant = "2016-04-06T20:03:48Z"
    assert validate(example(kind, **{first: TS, last: instant})) == (
        [f"{last}: {instant!r} must be later than {first} ({TS!r})"] if strictly else []
    )


def test_timestamp_format_of_type_properties() -> None:
    assert validate(example("malware", first_seen="2016-05-32T08:17:27.000Z")) == [
        "first_seen: '2016-05-32T08:17:27.000Z' is not a timestamp of the form"
        " YYYY-MM-DDTHH:mm:ss[.s+]Z"
    ]
    # Type-specific timestamps need no milliseconds (only created/modified do, §3.2).
    assert validate(example("report", published="2016-05-12T19:59:11Z")) == []


# -- indicator (§4.7) -----------------------------------------------------------------------


def test_indicator_stix_pattern_is_checked() -> None:
    bad = example("indicator", pattern="[file:hashes.\"SHA-256\" = 'aec0']")
    (message,) = validate(bad)
    assert message.startswith("pattern: invalid STIX pattern: ")


def test_indicator_other_pattern_languages_are_not_parsed() -> None:
    yara = example("indicator", pattern_type="yara", pattern="rule x { condition: true }")
    assert validate(yara) == []
    custom = example("indicator", pattern_type="x-acme", pattern="anything [at all")
    assert validate(custom) == []


def test_indicator_property_types() -> None:
    assert validate(example("indicator", indicator_types=["malicious-activity"])) == []
    assert validate(example("indicator", indicator_types=[])) == [
        "indicator_types: empty list (§2.12: omit the property instead)"
    ]
    assert validate(example("indicator", pattern=["[x:y = 1]"])) == [
        "pattern: ['[x:y = 1]'] is not a string"
    ]


# -- location (§4.10) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"latitude": 90.1, "longitude": 0}, "latitude: 90.1 is greater than the maximum 90.0"),
        ({"latitude": -91, "longitude": 0}, "latitude: -91 is less than the minimum -90.0"),
        ({"latitude": 0, "longitude": 180.5}, "longitude: 180.5 is greater than the maximum"),
        ({"latitude": "12", "longitude": 0}, "latitude: '12' is not a number"),
        ({"latitude": 10.0}, "latitude and longitude must be given together"),
        ({"region": DROP, "city": "Tunis"}, "one of region, country, or latitude and longitude"),
        ({"precision": 10.0}, "precision: precision requires latitude and longitude"),
        ({"latitude": 1, "longitude": 1, "precision": -1}, "precision: -1 is less than"),
    ],
)
def test_invalid_locations(props: dict[str, Any], message: str) -> None:
    assert_error(example("location", **props), message)


@pytest.mark.parametrize(
    "props",
    [
        {"region": DROP, "country": "TN"},
        {"region": DROP, "latitude": 36.8, "longitude": 10.18},
        {"latitude": -90, "longitude": 180, "precision": 1000.0},
        {"region": "global"},  # open vocabulary: any string is valid
    ],
)
def test_valid_locations(props: dict[str, Any]) -> None:
    assert validate(example("location", **props)) == []


# -- malware and malware analysis (§4.11, §4.12) ---------------------------------------------


def test_malware_family_needs_a_name() -> None:
    assert validate(example("malware", is_family=True)) == [
        "name: name is required when is_family is true (§4.11.1)"
    ]
    assert validate(example("malware", is_family=True, name="Cryptolocker")) == []
    assert validate(example("malware", is_family="true")) == [
        "is_family: 'true' is not a boolean (true or false)"
    ]


def test_malware_refs() -> None:
    sample = "file--ff1e0780-358c-5808-a8c7-d0fca4ef6ef4"
    os_ref = "software--ff1e0780-358c-5808-a8c7-d0fca4ef6ef4"
    assert validate(example("malware", sample_refs=[sample], operating_system_refs=[os_ref])) == []
    assert_error(example("malware", sample_refs=[os_ref]), "sample_refs[0]: ")
    assert_error(example("malware", operating_system_refs=[sample]), "must reference software")


def test_malware_analysis_rules() -> None:
    assert validate(example("malware-analysis", result=DROP)) == [
        "at least one of result and analysis_sco_refs is required (§4.12.1)"
    ]
    scos = ["file--ff1e0780-358c-5808-a8c7-d0fca4ef6ef4"]
    assert validate(example("malware-analysis", result=DROP, analysis_sco_refs=scos)) == []
    assert_error(example("malware-analysis", host_vm_ref="soft-id-false"), "host_vm_ref: ")
    assert_error(
        example("malware-analysis", host_vm_ref="file--ff1e0780-358c-5808-a8c7-d0fca4ef6ef4"),
        "host_vm_ref: 'file--ff1e0780-358c-5808-a8c7-d0fca4ef6ef4' must reference software",
    )
    assert_error(
        example("malware-analysis", sample_ref="url--ff1e0780-358c-5808-a8c7-d0fca4ef6ef4"),
        "must reference file or network-traffic or artifact",
    )


# -- observed data (§4.14) ------------------------------------------------------------------


def test_observed_data_needs_objects_or_object_refs_not_both() -> None:
    assert validate(example("observed-data", object_refs=DROP)) == [
        "exactly one of object_refs and objects is required (§4.14.1)"
    ]
    container = {"0": {"type": "ipv4-addr", "value": "198.51.100.3"}}
    assert validate(example("observed-data", objects=container)) == [
        "exactly one of object_refs and objects is required (§4.14.1)"
    ]
    assert validate(example("observed-data", object_refs=DROP, objects=container)) == []


def test_observed_data_refs_point_to_scos_and_sros() -> None:
    refs = [
        "attack-pattern--efcd5e80-570d-4131-b213-62cb18eaa6a8",
        "relationship--efcd5e80-570d-4131-b213-62cb18eaa6a8",
        "x-acme-thing--efcd5e80-570d-4131-b213-62cb18eaa6a8",
        "cabbage",
    ]
    assert validate(example("observed-data", object_refs=refs)) == [
        "object_refs[0]: 'attack-pattern--efcd5e80-570d-4131-b213-62cb18eaa6a8' must reference"
        " an SCO or SRO, not an SDO (§4.14.1)",
        "object_refs[3]: 'cabbage' is not a valid identifier: object-type--UUID with an RFC"
        " 4122 UUID (§2.9)",
    ]


def test_observed_data_number_observed() -> None:
    assert validate(example("observed-data", number_observed=-1)) == [
        "number_observed: -1 is less than the minimum 1"
    ]
    assert validate(example("observed-data", number_observed=1_000_000_000)) == [
        "number_observed: 1000000000 is greater than the maximum 999999999"
    ]


def test_observable_container() -> None:
    def with_objects(objects: object) -> dict[str, Any]:
        return example("observed-data", object_refs=DROP, objects=objects)

    assert_error(
        with_objects([{"type": "ipv4-addr", "value": "1.2.3.4"}]), "is not an observable container"
    )
    assert_error(with_objects({}), "objects: empty observable container")
    assert_error(
        with_objects({"0": {"type": "ipv4-addr", "value": "1.2.3.999"}}),
        "objects.0.value: '1.2.3.999' is not an IPv4 address",
    )
    assert_error(with_objects({"0": {"value": "1.2.3.4"}}), "objects.0.type: required")
    assert_error(with_objects({"0": {"type": "X_Y"}}), "objects.0.type: 'X_Y' is not a valid")
    # Local references ("0") and custom observables are fine in the container (§2.13).
    container = {
        "0": {"type": "ipv4-addr", "value": "198.51.100.2"},
        "1": {"type": "network-traffic", "dst_ref": "0", "protocols": ["tcp"]},
        "2": {"type": "x-acme-observable", "anything": 1},
    }
    assert validate(with_objects(container)) == []


# -- opinion, report, grouping, note (§4.15, §4.16, §4.4, §4.13) ------------------------------


def test_opinion_is_a_closed_enumeration() -> None:
    assert_error(example("opinion", opinion="maybe"), "opinion: 'maybe' is not a value of")


def test_object_refs_lists() -> None:
    for kind in ("report", "grouping", "note", "opinion"):
        assert validate(example(kind, object_refs=[])) == [
            "object_refs: empty list (§2.12: omit the property instead)"
        ]
        assert_error(example(kind, object_refs=["banana"]), "object_refs[0]: 'banana'")


def test_open_vocabularies_accept_any_string() -> None:
    assert validate(example("grouping", context="my-own-context")) == []
    assert validate(example("report", report_types=["zine"])) == []
    assert validate(example("tool", tool_types=["hammer"])) == []
    assert_error(example("tool", tool_types="hammer"), "tool_types: 'hammer' is not a list")


# -- relationship (§5.1) --------------------------------------------------------------------


@pytest.mark.parametrize(
    "ref",
    [
        "relationship--31b940d4-6f7f-459a-80ea-9c1f17b5891b",
        "sighting--31b940d4-6f7f-459a-80ea-9c1f17b5891b",
        "bundle--31b940d4-6f7f-459a-80ea-9c1f17b5891b",
        "marking-definition--31b940d4-6f7f-459a-80ea-9c1f17b5891b",
        "language-content--31b940d4-6f7f-459a-80ea-9c1f17b5891b",
        "extension-definition--31b940d4-6f7f-459a-80ea-9c1f17b5891b",
    ],
)
def test_relationships_link_sdos_and_scos_only(ref: str) -> None:
    assert validate(example("relationship", source_ref=ref)) == [
        f"source_ref: {ref!r} must reference an SDO or SCO (§5.1.2)"
    ]
    assert validate(example("relationship", target_ref=ref)) == [
        f"target_ref: {ref!r} must reference an SDO or SCO (§5.1.2)"
    ]


def test_relationship_endpoints() -> None:
    ipv4 = "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd"
    tactic = "x-mitre-tactic--2558fd61-8c75-4730-94c4-11926db2a263"
    assert validate(example("relationship", relationship_type="detects", target_ref=ipv4)) == []
    assert validate(example("relationship", target_ref=tactic)) == []
    assert_error(
        example("relationship", source_ref="indicator--a932fcc6-e032-176c-126f-cb970a5a1adf"),
        "source_ref: 'indicator--a932fcc6-e032-176c-126f-cb970a5a1adf' is not a valid",
    )


@pytest.mark.parametrize("kind", ["SOMETHING", "uses it", "uses_it", ""])
def test_relationship_type_characters(kind: str) -> None:
    assert_error(
        example("relationship", relationship_type=kind), "must be lowercase a-z, 0-9 and hyphens"
    )


def test_relationship_types_outside_the_spec_are_allowed() -> None:
    assert validate(example("relationship", relationship_type="subtechnique-of")) == []


# -- sighting (§5.2) ------------------------------------------------------------------------


def test_sighting_refs() -> None:
    assert_error(
        example("sighting", sighting_of_ref="bundle--36ffb872-1dd9-446e-b6f5-d58527e5b5d2"),
        "sighting_of_ref: 'bundle--36ffb872-1dd9-446e-b6f5-d58527e5b5d2' must reference an SDO",
    )
    assert_error(
        example("sighting", observed_data_refs=["tool--36ffb872-1dd9-446e-b6f5-d58527e5b5d2"]),
        "observed_data_refs[0]: 'tool--36ffb872-1dd9-446e-b6f5-d58527e5b5d2' must reference"
        " observed-data",
    )
    assert_error(
        example("sighting", where_sighted_refs=["tool--36ffb872-1dd9-446e-b6f5-d58527e5b5d2"]),
        "where_sighted_refs[0]: 'tool--36ffb872-1dd9-446e-b6f5-d58527e5b5d2' must reference"
        " identity or location",
    )
    good = example(
        "sighting",
        observed_data_refs=["observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf"],
        where_sighted_refs=[
            "identity--f431f809-377b-45e0-aa1c-6a4751cae5ff",
            "location--a6e9345f-5a15-4c29-8bb3-7dcc5d168d64",
        ],
        count=0,
        summary=True,
    )
    assert validate(good) == []


@pytest.mark.parametrize(
    ("count", "message"),
    [
        (-1, "count: -1 is less than the minimum 0"),
        (1_000_000_000, "count: 1000000000 is greater than the maximum 999999999"),
        (1.5, "count: 1.5 is not an integer"),
        ("5", "count: '5' is not an integer"),
    ],
)
def test_sighting_count_range(count: object, message: str) -> None:
    assert validate(example("sighting", count=count)) == [message]


def test_sighting_count_bounds_are_inclusive() -> None:
    assert validate(example("sighting", count=999_999_999)) == []
    assert validate(example("sighting", count=5.0)) == []  # the JSON number 5
