"""Meta objects (§7): marking definitions (TLP 1.0 built-ins, the TLP 2.0 extension form,
statements, custom markings), extension definitions and language content."""

from __future__ import annotations

from typing import Any

import pytest
from test_validate_examples import DROP, example

from thiqa.stix.meta import TLP_1_MARKINGS, TLP_2_EXTENSION, TLP_2_MARKINGS
from thiqa.stix.validate import validate

GREEN = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
NOT_TLP = (
    "a TLP marking definition must be exactly one of the four defined in §7.2.1.4"
    " (TLP:WHITE, TLP:GREEN, TLP:AMBER, TLP:RED)"
)


def tlp1(level_id: str = GREEN, **changes: Any) -> dict[str, Any]:
    obj = dict(TLP_1_MARKINGS[level_id])
    obj.update(changes)
    return {name: value for name, value in obj.items() if value is not DROP}


def tlp2(marking_id: str, level: str, name: str | None = None, **changes: Any) -> dict[str, Any]:
    obj = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": marking_id,
        "created": "2022-10-01T00:00:00.000Z",
        "name": name or f"TLP:{level.upper()}",
        "extensions": {TLP_2_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": level}},
        **changes,
    }
    return obj


# -- TLP 1.0 (§7.2.1.4) -----------------------------------------------------------------------


@pytest.mark.parametrize("marking_id", sorted(TLP_1_MARKINGS))
def test_the_four_tlp_1_markings_are_valid(marking_id: str) -> None:
    assert validate(tlp1(marking_id)) == []


@pytest.mark.parametrize(
    "changes",
    [
        {"definition": {"tlp": 21}},
        {"definition": {"tlp": "red"}},
        {"name": "TLP:RED"},
        {"created": "2017-01-21T00:00:00.000Z"},
        {"id": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41db"},
        {"created_by_ref": "identity--f431f809-377b-45e0-aa1c-6a4751cae5ff"},
        {"granular_markings": [{"marking_ref": GREEN, "selectors": ["created"]}]},
        {"object_marking_refs": [GREEN]},
    ],
)
def test_tlp_markings_must_be_exactly_the_builtin_ones(changes: dict[str, Any]) -> None:
    assert NOT_TLP in validate(tlp1(**changes))


def test_markings_may_not_mark_themselves() -> None:
    assert validate(tlp1(object_marking_refs=[GREEN])) == [
        "object_marking_refs: must not reference this marking definition itself",
        NOT_TLP,
    ]
    statement = example("marking-definition")
    own = statement["id"]
    assert validate({**statement, "object_marking_refs": [own]}) == [
        "object_marking_refs: must not reference this marking definition itself"
    ]
    granular = {**statement, "granular_markings": [{"marking_ref": own, "selectors": ["id"]}]}
    assert validate(granular) == [
        "granular_markings[0].marking_ref: must not reference this marking definition itself"
    ]


# -- TLP 2.0 extension form ---------------------------------------------------------------------


@pytest.mark.parametrize(("marking_id", "level"), sorted(TLP_2_MARKINGS.items()))
def test_the_five_tlp_2_markings_are_valid(marking_id: str, level: str) -> None:
    assert validate(tlp2(marking_id, level)) == []


def test_tlp_2_marking_consistency() -> None:
    amber = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
    assert validate(tlp2(amber, "red")) == [
        "id: TLP:RED is marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
    ]
    assert validate(tlp2(amber, "amber", name="TLP:Amber")) == ["name: must be 'TLP:AMBER'"]
    assert validate(tlp2(amber, "purple")) == [
        f"extensions.{TLP_2_EXTENSION}.tlp_2_0: 'purple' is not a TLP 2.0 level: clear, green,"
        " amber, amber+strict, red"
    ]
    wrong_kind = tlp2(amber, "amber")
    wrong_kind["extensions"][TLP_2_EXTENSION]["extension_type"] = "new-sdo"
    assert validate(wrong_kind) == [
        f"extensions.{TLP_2_EXTENSION}.extension_type: extension_type must be 'property-extension'"
    ]


# -- other marking definitions (§7.2.1) -------------------------------------------------------


def test_marking_definition_forms() -> None:
    assert validate(example("marking-definition", definition_type=DROP, definition=DROP)) == [
        "definition_type and definition, or an extension, are required"
    ]
    assert validate(example("marking-definition", definition=DROP)) == [
        "definition_type and definition must be given together (§7.2.1.1)"
    ]
    assert validate(example("marking-definition", definition={"text": "x"})) == [
        'definition: a statement marking is {"statement": "..."}'
    ]
    custom = example("marking-definition", definition_type="acme-pap", definition={"pap": "red"})
    assert validate(custom) == []
    assert validate(
        example("marking-definition", definition_type="acme-pap", definition="red")
    ) == ["definition: 'red' is not an object"]
    by_extension = example(
        "marking-definition",
        definition_type=DROP,
        definition=DROP,
        name="ACME handling",
        extensions={
            "extension-definition--9ef47f81-1443-4632-8497-8b2878f8ac21": {
                "extension_type": "property-extension",
                "handling": "do not forward",
            }
        },
    )
    assert validate(by_extension) == []


def test_marking_definitions_are_not_versioned() -> None:
    assert validate(example("marking-definition", modified=DROP)) == []
    assert validate(example("marking-definition", created=DROP)) == [
        "created: required property is missing"
    ]


# -- extension definitions (§7.3) -------------------------------------------------------------


def test_extension_definition_rules() -> None:
    assert validate(example("extension-definition", extension_types=["something"])) == [
        "extension_types[0]: 'something' is not a value of extension-type-enum: new-sco,"
        " new-sdo, new-sro, property-extension, toplevel-property-extension"
    ]
    assert validate(example("extension-definition", extension_properties=["rank"])) == [
        "extension_properties: extension_properties requires extension_types to include"
        " 'toplevel-property-extension' (§7.3.1)"
    ]
    toplevel = example(
        "extension-definition",
        extension_types=["toplevel-property-extension"],
        extension_properties=["rank", "toxicity"],
    )
    assert validate(toplevel) == []


# -- language content (§7.1) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("contents", "message"),
    [
        ({"español": {"name": "x"}}, "contents.español: 'español' is not an RFC 5646 language tag"),
        ({"es": {"a": "boo"}}, "contents.es.a: 'a' is not a valid property name"),
        ({"es": {}}, "contents.es: {} is not a non-empty dictionary"),
        ({"es": {"name": None}}, "contents.es.name: translation must not be null or empty"),
        ({}, "contents: empty dictionary"),
    ],
)
def test_invalid_language_content(contents: dict[str, Any], message: str) -> None:
    found = validate(example("language-content", contents=contents))
    assert any(message in error for error in found), found


def test_language_content_refs() -> None:
    bundle_ref = "bundle--44af6c39-c09b-49c5-9de2-394224b04982"
    assert validate(example("language-content", object_ref=bundle_ref)) == [
        f"object_ref: {bundle_ref!r} must reference a STIX object (§7.1.1)"
    ]
    translations = {
        "es": {"name": "Actividad maliciosa", "aliases": ["a", "b"]},
        "zh-Hant": {"description": "惡意活動"},
    }
    good = example(
        "language-content", contents=translations, object_modified="2017-02-08T21:31:22.007Z"
    )
    assert validate(good) == []
