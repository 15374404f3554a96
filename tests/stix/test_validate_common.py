"""Rules every object shares: common properties (§3.2), external references (§2.5), markings
(§7.2), extensions (§7.3), custom properties and objects (§11), bundles (§8), input shapes."""

from __future__ import annotations

from typing import Any

import pytest
from test_validate_examples import DROP, IDENTITY, MARKING, example

from thiqa.stix.validate import validate


def errors(obj: Any) -> list[str]:
    return validate(obj)


def assert_error(obj: Any, *expected: str) -> None:
    found = validate(obj)
    for text in expected:
        assert any(text in message for message in found), (text, found)


# -- type and id (§2.9, §3.1) ------------------------------------------------------------


def test_id_must_start_with_the_type() -> None:
    obj = example("indicator", id="something--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")
    assert errors(obj) == [
        "id: 'something--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f' does not start with"
        " 'indicator--' (§2.9)"
    ]


@pytest.mark.parametrize(
    "ident",
    [
        "malware--a932fcc6-e032-176c-126f-cb970a5a1adf",  # variant bits 0xxx
        "malware--blablabla",
        "malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3",
        42,
    ],
)
def test_id_must_be_an_rfc4122_uuid(ident: object) -> None:
    assert_error(example("malware", id=ident), "id: ")


def test_uuid_versions_1_to_5_are_accepted() -> None:
    for version in "12345":
        ident = f"malware--fdd60b30-b67c-{version}1e3-b0b9-f01faf20d111"
        assert errors(example("malware", id=ident)) == []


def test_type_must_be_a_string() -> None:
    assert errors(example("tool", type=["tool"])) == ["type: ['tool'] is not a string"]


# -- spec_version (§3.2) --------------------------------------------------------------------


@pytest.mark.parametrize("version", ["2.0", "2.2", 2.1, "2.1 "])
def test_spec_version_must_be_2_1(version: object) -> None:
    assert_error(example("campaign", spec_version=version), "spec_version: ")


def test_spec_version_is_required_of_sdos_but_optional_for_scos() -> None:
    assert errors(example("campaign", spec_version=DROP)) == [
        "spec_version: required property is missing"
    ]
    assert errors(example("ipv4-addr", spec_version=DROP)) == []
    assert_error(example("ipv4-addr", spec_version="2.0"), "spec_version: '2.0'")


# -- created / modified (§3.2, §2.16) -------------------------------------------------------


def test_created_and_modified_need_milliseconds() -> None:
    obj = example("tool", created="2016-04-06T20:03:48Z", modified="2016-04-06T20:03:48Z")
    assert errors(obj) == [
        "created: '2016-04-06T20:03:48Z' must be precise to at least the millisecond (§3.2)",
        "modified: '2016-04-06T20:03:48Z' must be precise to at least the millisecond (§3.2)",
    ]


def test_modified_may_not_precede_created() -> None:
    obj = example(
        "identity", created="2014-08-08T15:50:10.983123Z", modified="2014-08-08T15:50:10.983Z"
    )
    assert errors(obj) == [
        "modified: '2014-08-08T15:50:10.983Z' must be later than or equal to created"
        " ('2014-08-08T15:50:10.983123Z')"
    ]
    same = example(
        "identity", created="2014-08-08T15:50:10.983Z", modified="2014-08-08T15:50:10.983000Z"
    )
    assert errors(same) == []


def test_invalid_dates_are_reported_once() -> None:
    obj = example("tool", created="2016-04-31T20:03:48.000Z", modified="2016-04-06T20:03:48.000Z")
    assert errors(obj) == [
        "created: '2016-04-31T20:03:48.000Z' is not a valid date: day out of range for month"
    ]


# -- simple common properties -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("revoked", "true", "revoked: 'true' is not a boolean (true or false)"),
        ("labels", [], "labels: empty list (§2.12: omit the property instead)"),
        ("labels", "apt", "labels: 'apt' is not a list of strings"),
        ("labels", ["apt", 1], "labels[1]: 1 is not a string"),
        ("confidence", 101, "confidence: 101 is greater than the maximum 100"),
        ("confidence", -1, "confidence: -1 is less than the minimum 0"),
        ("confidence", True, "confidence: True is not an integer"),
        ("confidence", "50", "confidence: '50' is not an integer"),
        ("lang", "foo", "lang: 'foo' is not an RFC 5646 language tag"),
        (
            "created_by_ref",
            "identity",
            "created_by_ref: 'identity' is not a valid identifier: object-type--UUID with an RFC"
            " 4122 UUID (§2.9)",
        ),
        ("description", None, "description: null is not allowed; omit the property instead"),
        ("name", 7, "name: 7 is not a string"),
    ],
)
def test_common_property_values(name: str, value: object, message: str) -> None:
    assert errors(example("threat-actor", **{name: value})) == [message]


def test_valid_common_properties() -> None:
    obj = example(
        "threat-actor",
        created_by_ref=IDENTITY,
        revoked=False,
        labels=["apt"],
        confidence=0,
        lang="de-CH",
        object_marking_refs=[MARKING],
    )
    assert errors(obj) == []


def test_defanged_is_only_for_scos() -> None:
    assert errors(example("tool", defanged=True)) == [
        "defanged: only SCOs may carry defanged (§3.2)"
    ]
    assert errors(example("url", defanged=True)) == []


# -- external references (§2.5) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ({"source_name": "capec"}, "external_references[0]: at least one of description, url"),
        (
            {"source_name": "capec", "url": "https://capec.mitre.org"},
            "external_references[0].external_id: None is not a CAPEC id",
        ),
        ({"description": "x"}, "external_references[0].source_name: required property"),
        ({"source_name": "acme"}, "external_references[0]: at least one of description, url"),
        ({"source_name": "capec", "external_id": "CAPEC-abc"}, "is not a CAPEC id"),
        ({"source_name": "cve", "external_id": "2016-1234"}, "is not a CVE id"),
        ({"source_name": "cve", "external_id": "CVE-2016-abc"}, "is not a CVE id"),
        ({"source_name": "cve", "external_id": "cve-2016-1234"}, "is not a CVE id"),
        ({"source_name": "cve", "external_id": "CVE-20161234"}, "is not a CVE id"),
        ({"source_name": "cve", "external_id": "CVE-2016-123"}, "is not a CVE id"),
        (
            {"source_name": "CVE", "external_id": "CVE-2016-1234"},
            "external_references[0].source_name: 'CVE-2016-1234' is a CVE/CAPEC id",
        ),
        (
            {"source_name": "acme", "url": " http://example.com"},
            "external_references[0].url: ' http://example.com' is not a valid URL (RFC 3986)",
        ),
        (
            {"source_name": "acme", "url": "http://example.com", "hashes": {"SHA-256": "abc"}},
            "external_references[0].hashes.SHA-256: 'abc' is not a valid SHA-256 value",
        ),
        (
            {"source_name": "acme", "url": "http://example.com", "hashes": {"sha256": "ab"}},
            "external_references[0].hashes.sha256: hash name 'sha256' is not from",
        ),
        ({"source_name": 5, "external_id": "x"}, "external_references[0].source_name: 5 is not"),
        ("capec", "external_references[0]: 'capec' is not an external-reference object"),
    ],
)
def test_invalid_external_references(ref: object, message: str) -> None:
    assert_error(example("vulnerability", external_references=[ref]), message)


@pytest.mark.parametrize(
    "ref",
    [
        {"source_name": "capec", "external_id": "CAPEC-463"},
        {"source_name": "cve", "external_id": "CVE-2016-1234"},
        {"source_name": "cve", "external_id": "CVE-2021-44228"},
        {"source_name": "mitre-attack", "external_id": "T1059", "url": "https://attack.mitre.org"},
        {"source_name": "ACME Threat Intel", "description": "Threat report"},
        {
            "source_name": "veris",
            "external_id": "0001AA7F-C601-424A-B2B8-BE6C9F5164E7",
            "url": "https://github.com/vz-risk/VCDB/blob/125307638178efddd3ecfe2c267ea434",
            "hashes": {
                "SHA-256": "6db12788c37247f2316052e142f42f4b259d6561751e5f401a1ae2a6df9c674b"
            },
        },
        {"source_name": "acme", "url": "https://example.com", "x_acme_rank": 3},
    ],
)
def test_valid_external_references(ref: dict[str, Any]) -> None:
    assert errors(example("vulnerability", external_references=[ref])) == []


def test_empty_external_references() -> None:
    assert errors(example("tool", external_references=[])) == [
        "external_references: empty list (§2.12: omit the property instead)"
    ]


# -- markings (§7.2) --------------------------------------------------------------------------


def test_object_marking_refs_reference_marking_definitions() -> None:
    obj = example("tool", object_marking_refs=["indicator--44098fce-860f-48ae-8e50-ebd3cc5e41da"])
    assert errors(obj) == [
        "object_marking_refs[0]: 'indicator--44098fce-860f-48ae-8e50-ebd3cc5e41da' must"
        " reference marking-definition"
    ]


@pytest.mark.parametrize(
    ("marking", "message"),
    [
        ({"marking_ref": MARKING, "selectors": ["[0]"]}, "'[0]' is not a valid selector"),
        ({"marking_ref": MARKING, "selectors": []}, "selectors: empty list"),
        ({"marking_ref": MARKING}, "granular_markings[0].selectors: required property"),
        ({"selectors": ["name"]}, "exactly one of marking_ref and lang is required"),
        (
            {"marking_ref": MARKING, "lang": "en", "selectors": ["name"]},
            "exactly one of marking_ref and lang is required",
        ),
        (
            {"marking_ref": "tool--44098fce-860f-48ae-8e50-ebd3cc5e41da", "selectors": ["name"]},
            "granular_markings[0].marking_ref: 'tool--44098fce-860f-48ae-8e50-ebd3cc5e41da' must"
            " reference marking-definition",
        ),
        (
            {"marking_ref": MARKING, "selectors": ["description"]},
            "granular_markings[0].selectors[0]: 'description' does not select anything",
        ),
        (
            {"marking_ref": MARKING, "selectors": ["aliases.[3]"]},
            "'aliases.[3]' does not select anything",
        ),
        (
            {"marking_ref": MARKING, "selectors": ["name.[0]"]},
            "'name.[0]' does not select anything",
        ),
    ],
)
def test_invalid_granular_markings(marking: dict[str, Any], message: str) -> None:
    obj = example("tool", aliases=["vnc"], granular_markings=[marking])
    assert_error(obj, message)


@pytest.mark.parametrize(
    "selectors",
    [["name"], ["aliases"], ["aliases.[0]"], ["id"], ["kill_chain_phases.[0].phase_name"]],
)
def test_valid_granular_markings(selectors: list[str]) -> None:
    obj = example(
        "tool",
        aliases=["vnc"],
        kill_chain_phases=[{"kill_chain_name": "lockheed-martin", "phase_name": "delivery"}],
        granular_markings=[{"marking_ref": MARKING, "selectors": selectors}],
    )
    assert errors(obj) == []
    language = {"lang": "en", "selectors": selectors}
    assert errors({**obj, "granular_markings": [language]}) == []


# -- kill chain phases (§2.11) ----------------------------------------------------------------


def test_kill_chain_phases() -> None:
    good = [{"kill_chain_name": "mitre-attack", "phase_name": "execution"}]
    assert errors(example("attack-pattern", kill_chain_phases=good)) == []
    assert errors(example("attack-pattern", kill_chain_phases=[{"kill_chain_name": "x"}])) == [
        "kill_chain_phases[0].phase_name: required property is missing"
    ]
    assert errors(example("attack-pattern", kill_chain_phases="execution")) == [
        "kill_chain_phases: 'execution' is not a list"
    ]


# -- extensions (§3.2, §7.3) ------------------------------------------------------------------

EXT = "extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e"


@pytest.mark.parametrize(
    ("extensions", "message"),
    [
        ({EXT: {"extension_type": "something"}}, f"extensions.{EXT}.extension_type: 'something'"),
        ({EXT: {"extension_type": ["new-sdo"]}}, f"extensions.{EXT}.extension_type: ['new-sdo']"),
        ({EXT: {"rank": 5}}, f"extensions.{EXT}.extension_type: required property is missing"),
        ({EXT: "property-extension"}, "is not an extension object"),
        ({"x-foobar": {"foo": "bar"}}, "extensions.x-foobar: 'x-foobar' is neither"),
        ({"extension-definition--1": {}}, "is not a valid extension-definition identifier"),
        ({"foo-ext": {}}, "extensions.foo-ext: empty extension object"),
        ({}, "extensions: empty dictionary"),
        ("example:Object-f39f745f", "extensions: 'example:Object-f39f745f' is not a dictionary"),
        ({EXT: {"extension_type": "property-extension", "Rank": 5}}, "invalid property name"),
    ],
)
def test_invalid_extensions(extensions: object, message: str) -> None:
    assert_error(example("attack-pattern", extensions=extensions), message)


def test_valid_extensions() -> None:
    ext = {EXT: {"extension_type": "property-extension", "rank": 5, "toxicity": 8}}
    assert errors(example("attack-pattern", extensions=ext)) == []
    toplevel = {EXT: {"extension_type": "toplevel-property-extension"}}
    assert errors(example("attack-pattern", extensions=toplevel, rank=5)) == []
    custom = {"x-acme-ext": {"rank": 5}}  # §11.3 custom extension: deprecated, still valid
    assert errors(example("attack-pattern", extensions=custom)) == []


# -- custom properties (§11.1, §3.1, §3.8) ----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("x-something", "v", "x-something: invalid property name 'x-something'"),
        ("mp", "v", "mp: invalid property name 'mp'"),
        ("9ome_custom_stuff", 14, "9ome_custom_stuff: invalid property name"),
        ("X_acme", 1, "X_acme: invalid property name"),
        ("my_new_property!", 1, "invalid property name 'my_new_property!'"),
        ("a" * 251, 1, "invalid property name"),
        ("my_new_property", [], "my_new_property: empty list"),
        ("x_acme", None, "x_acme: null is not allowed"),
        ("severity", "high", "severity: 'severity' is a reserved property name (§3.8)"),
        ("action", "x", "action: 'action' is a reserved property name (§3.8)"),
        ("username", "x", "'username' is a reserved property name"),
        ("phone_numbers", ["1"], "'phone_numbers' is a reserved property name"),
        ("x_acme_bin", "not base64!", "x_acme_bin: 'not base64!' is not base64-encoded"),
        ("x_acme_hex", "xyz", "x_acme_hex: 'xyz' is not an even number of hexadecimal digits"),
    ],
)
def test_invalid_custom_properties(name: str, value: object, message: str) -> None:
    assert_error(example("indicator", **{name: value}), message)


def test_reserved_names_are_rejected_on_scos_too() -> None:
    assert_error(example("file", action=True), "'action' is a reserved property name")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("x_mitre_version", "1.0"),
        ("x_mitre_deprecated", False),
        ("x_mitre_platforms", ["Windows"]),
        ("x_capec_child_of_refs", ["attack-pattern--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061"]),
        ("something", {"nested": [1, 2]}),
        ("x_acme_bin", "YWJj"),
        ("x_acme_hex", "00ff"),
        ("a" * 250, 1),
    ],
)
def test_valid_custom_properties(name: str, value: object) -> None:
    assert errors(example("malware", **{name: value})) == []


def test_custom_property_checks_do_not_depend_on_call_order() -> None:
    """Valid names are remembered for speed; values must still be checked every time."""
    assert errors(example("tool", x_acme_note="fine")) == []
    assert_error(example("tool", x_acme_note=None), "x_acme_note: null is not allowed")
    assert_error(example("tool", x_acme_note=[]), "x_acme_note: empty list")


# -- custom objects (§11.2, §7.3) -------------------------------------------------------------

NEW_SDO = {
    "extension-definition--1bba6c39-7ac1-40a2-819a-f33f8ea81a25": {"extension_type": "new-sdo"}
}
CUSTOM_ID = "4527e5de-8572-446a-a57a-706f15467461"


def custom(kind: str, **props: Any) -> dict[str, Any]:
    obj = {
        "type": kind,
        "spec_version": "2.1",
        "id": f"{kind}--{CUSTOM_ID}",
        "created": "2021-02-20T09:16:08.989000Z",
        "modified": "2021-02-20T09:16:08.989000Z",
        **props,
    }
    return {name: value for name, value in obj.items() if value is not DROP}


def test_attack_custom_objects_are_accepted() -> None:
    tactic = custom(
        "x-mitre-tactic",
        name="Collection",
        x_mitre_shortname="collection",
        external_references=[{"source_name": "mitre-attack", "external_id": "TA0035"}],
    )
    assert errors(tactic) == []
    assert errors(custom("x-example-com-customobject", extensions=NEW_SDO, some_stuff=14)) == []
    assert errors(custom("my-favorite-sdo", extensions=NEW_SDO)) == []


@pytest.mark.parametrize("kind", ["corpo_ration", "corpor@tion", "X-example-com", "ab", "x--y"])
def test_custom_type_names(kind: str) -> None:
    assert_error(custom(kind, extensions=NEW_SDO), f"type: {kind!r} is not a valid type name")


def test_action_is_a_reserved_type() -> None:
    assert_error(custom("action"), "type: 'action' is a reserved object type name (§3.8)")


def test_custom_objects_follow_the_common_rules() -> None:
    assert_error(custom("x-acme-thing", created=DROP), "created: required property is missing")
    assert_error(custom("x-acme-thing", modified=DROP), "modified: required property is missing")
    assert_error(
        custom("x-acme-thing", id="x-type--353ed279-5f4f-4a79-bffc-b2e2ed08ea1f"),
        "id: 'x-type--353ed279-5f4f-4a79-bffc-b2e2ed08ea1f' does not start with 'x-acme-thing--'",
    )
    assert_error(custom("x-acme-thing", **{"9lives": 1}), "9lives: invalid property name")
    assert_error(
        custom("x-acme-thing", created="2021-02-20T09:16:08.989123Z"),
        "modified: '2021-02-20T09:16:08.989000Z' must be later than or equal to created",
    )


def test_custom_scos_declared_by_extension_need_no_timestamps() -> None:
    new_sco = {
        "extension-definition--1bba6c39-7ac1-40a2-819a-f33f8ea81a25": {"extension_type": "new-sco"}
    }
    obj = {
        "type": "x-acme-observable",
        "id": f"x-acme-observable--{CUSTOM_ID}",
        "value": "v",
        "extensions": new_sco,
    }
    assert errors(obj) == []


# -- bundles, lists and other input shapes (§8) -----------------------------------------------

BUNDLE_ID = "bundle--44af6c39-c09b-49c5-9de2-394224b04982"


def test_bundle_objects_are_validated_with_their_position() -> None:
    bundle = {
        "type": "bundle",
        "id": BUNDLE_ID,
        "objects": [example("tool"), example("identity", id=DROP), example("url", value="x")],
    }
    assert errors(bundle) == [
        "objects[1].id: required property is missing",
        "objects[2].value: 'x' is not a valid URL (RFC 3986)",
    ]


def test_bundle_rules() -> None:
    assert errors({"type": "bundle", "id": BUNDLE_ID}) == []
    assert errors({"type": "bundle", "id": BUNDLE_ID, "objects": [example("tool")]}) == []
    assert errors({"type": "bundle"}) == ["id: required property is missing"]
    assert_error(
        {"type": "bundle", "id": "tool--44af6c39-c09b-49c5-9de2-394224b04982"},
        "id: 'tool--44af6c39-c09b-49c5-9de2-394224b04982' must reference bundle",
    )
    assert errors({"type": "bundle", "id": BUNDLE_ID, "objects": []}) == [
        "objects: empty list (§2.12: omit the property instead)"
    ]
    assert errors({"type": "bundle", "id": BUNDLE_ID, "objects": ["tool"]}) == [
        "objects[0]: 'tool' is not a STIX object"
    ]
    nested = {"type": "bundle", "id": BUNDLE_ID}
    assert errors({"type": "bundle", "id": BUNDLE_ID, "objects": [nested]}) == [
        "objects[0].type: a bundle cannot contain a bundle (§8)"
    ]
    # Properties the spec does not define on a bundle are custom properties (non-strict).
    assert errors({"type": "bundle", "id": BUNDLE_ID, "spec_version": "2.1"}) == []
    assert_error({"type": "bundle", "id": BUNDLE_ID, "x-y": 1}, "x-y: invalid property name")


def test_lists_are_validated_element_by_element() -> None:
    found = errors(
        [example("tool"), example("identity", id="abc--2d1c6ab3-5e4e-48ac-a32b-f0c01c2836a8")]
    )
    assert found == [
        "[1].id: 'abc--2d1c6ab3-5e4e-48ac-a32b-f0c01c2836a8' does not start with"
        " 'identity--' (§2.9)"
    ]
    assert errors([]) == []
    assert errors([7]) == ["[0]: 7 is not a STIX object (a JSON object)"]


@pytest.mark.parametrize("value", [None, "tool", 3, 2.5, True])
def test_non_objects_are_rejected(value: object) -> None:
    assert errors(value) == [f"{value!r} is not a STIX object (a JSON object)"]


def test_messages_name_the_path() -> None:
    obj = example(
        "attack-pattern",
        external_references=[
            {"source_name": "a", "url": "https://a.example"},
            {"source_name": "b", "url": " http://b.example"},
        ],
    )
    assert errors(obj) == [
        "external_references[1].url: ' http://b.example' is not a valid URL (RFC 3986)"
    ]
