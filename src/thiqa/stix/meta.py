"""STIX Meta Objects (§7): language content, marking definitions, extension definitions."""

from __future__ import annotations

from thiqa.stix.common import meta_spec
from thiqa.stix.formats import is_language_tag, is_property_name
from thiqa.stix.properties import (
    IDENTIFIER,
    STRING,
    STRINGS,
    TIMESTAMP,
    Problem,
    Problems,
    TypeSpec,
    enum,
    identifier,
    list_of,
    problem,
    show,
)
from thiqa.stix.vocab import EXTENSION_TYPE_ENUM

__all__ = ["META_TYPES", "TLP_1_MARKINGS", "TLP_2_EXTENSION", "TLP_2_MARKINGS"]


# §7.1 Language Content
def _contents(value: object) -> Problems:
    """§7.1.1: language tag -> {property name of the referenced object: translation}."""
    if type(value) is not dict:
        return problem(f"{show(value)} is not a dictionary")
    if not value:
        return problem("empty dictionary (§2.3: omit the property instead)")
    out: list[Problem] = []
    for lang, translations in value.items():
        if not is_language_tag(lang):
            out.append((f".{lang}", f"{lang!r} is not an RFC 5646 language tag (§7.1.1)"))
        elif type(translations) is not dict or not translations:
            out.append((f".{lang}", f"{show(translations)} is not a non-empty dictionary"))
        else:
            for name, text in translations.items():
                if not is_property_name(name):
                    out.append((f".{lang}.{name}", f"{name!r} is not a valid property name"))
                elif text is None or (type(text) is list and not text):
                    out.append((f".{lang}.{name}", "translation must not be null or empty"))
    return out or None


LANGUAGE_CONTENT = TypeSpec(
    "meta",
    meta_spec(
        "language-content",
        {
            "object_ref": identifier(
                forbid=("bundle", "language-content"), what="a STIX object (§7.1.1)"
            ),
            "object_modified": TIMESTAMP,
            "contents": _contents,
        },
        required=("object_ref", "contents"),
    ),
)

# §7.2.1.4: the four TLP 1.0 marking definitions; any object with definition_type "tlp" must
# be exactly one of these.
TLP_1_MARKINGS = {
    f"marking-definition--{uuid}": {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": f"marking-definition--{uuid}",
        "created": "2017-01-20T00:00:00.000Z",
        "definition_type": "tlp",
        "name": f"TLP:{level.upper()}",
        "definition": {"tlp": level},
    }
    for level, uuid in (
        ("white", "613f2e26-407d-48c7-9eca-b8e91df99dc9"),
        ("green", "34098fce-860f-48ae-8e50-ebd3cc5e41da"),
        ("amber", "f88d31f6-486f-44da-b317-01333bde0b82"),
        ("red", "5e57c739-391a-4eb3-b6be-7d15ca92d5ed"),
    )
}

# TLP 2.0 is expressed with a property extension (extension-definition--60a3c5c5-...), whose
# schema fixes one marking definition per level.
TLP_2_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP_2_MARKINGS = {
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": "clear",
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": "green",
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": "amber",
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": "amber+strict",
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": "red",
}
_TLP_2_LEVELS = {level: marking_id for marking_id, level in TLP_2_MARKINGS.items()}


def _tlp_2(obj: dict[str, object], ext: object) -> Problems:
    path = f"extensions.{TLP_2_EXTENSION}"
    if type(ext) is not dict:
        return None  # reported by the extensions check
    level = ext.get("tlp_2_0")
    if ext.get("extension_type") != "property-extension":
        return problem("extension_type must be 'property-extension'", path + ".extension_type")
    if type(level) is not str or level not in _TLP_2_LEVELS:
        return problem(
            f"{show(level)} is not a TLP 2.0 level: " + ", ".join(_TLP_2_LEVELS), path + ".tlp_2_0"
        )
    if obj.get("id") != _TLP_2_LEVELS[level]:
        return problem(f"TLP:{level.upper()} is {_TLP_2_LEVELS[level]}", "id")
    if obj.get("name") != f"TLP:{level.upper()}":
        return problem(f"must be 'TLP:{level.upper()}'", "name")
    return None


def _marking_definition(obj: dict[str, object]) -> Problems:
    out: list[Problem] = []
    own_id = obj.get("id")
    # §3.2: markings of a marking definition must not refer to itself.
    refs = obj.get("object_marking_refs")
    if type(refs) is list and own_id in refs:
        out.append(("object_marking_refs", "must not reference this marking definition itself"))
    markings = obj.get("granular_markings")
    if type(markings) is list:
        for i, marking in enumerate(markings):
            if type(marking) is dict and marking.get("marking_ref") == own_id:
                out.append(
                    (
                        f"granular_markings[{i}].marking_ref",
                        "must not reference this marking definition itself",
                    )
                )
    kind = obj.get("definition_type")
    definition = obj.get("definition")
    extensions = obj.get("extensions")
    if kind is None and definition is None:
        # §7.2.1.1: without definition_type/definition, an extension defines the marking.
        if type(extensions) is not dict or not extensions:
            out.append(("", "definition_type and definition, or an extension, are required"))
    elif kind is None or definition is None:
        out.append(("", "definition_type and definition must be given together (§7.2.1.1)"))
    elif type(kind) is not str:
        out.append(("definition_type", f"{show(kind)} is not a string"))
    elif kind == "tlp":
        builtin = TLP_1_MARKINGS.get(own_id) if type(own_id) is str else None
        if builtin is None or obj != builtin:
            out.append(
                (
                    "",
                    "a TLP marking definition must be exactly one of the four defined in"
                    " §7.2.1.4 (TLP:WHITE, TLP:GREEN, TLP:AMBER, TLP:RED)",
                )
            )
    elif kind == "statement":
        # §7.2.1.3
        if type(definition) is not dict or type(definition.get("statement")) is not str:
            out.append(("definition", 'a statement marking is {"statement": "..."}'))
    elif type(definition) is not dict:
        out.append(("definition", f"{show(definition)} is not an object"))
    if type(extensions) is dict and TLP_2_EXTENSION in extensions:
        found = _tlp_2(obj, extensions[TLP_2_EXTENSION])
        if found:
            out.extend(found)
    return out or None


MARKING_DEFINITION = TypeSpec(
    "meta",
    meta_spec(
        "marking-definition",
        {
            "name": STRING,
            "definition_type": STRING,
            "definition": lambda value: None,  # checked with definition_type below
        },
        rules=(_marking_definition,),
        versioned=False,
    ),
)


# §7.3 Extension Definition
def _extension_definition(obj: dict[str, object]) -> Problems:
    types = obj.get("extension_types")
    # §7.3.1: extension_properties only for toplevel-property-extension.
    if "extension_properties" in obj and not (
        type(types) is list and "toplevel-property-extension" in types
    ):
        return problem(
            "extension_properties requires extension_types to include"
            " 'toplevel-property-extension' (§7.3.1)",
            "extension_properties",
        )
    return None


EXTENSION_DEFINITION = TypeSpec(
    "meta",
    meta_spec(
        "extension-definition",
        {
            "created_by_ref": IDENTIFIER,
            "name": STRING,
            "description": STRING,
            "schema": STRING,
            "version": STRING,
            "extension_types": list_of(enum(EXTENSION_TYPE_ENUM, "extension-type-enum")),
            "extension_properties": STRINGS,
        },
        required=("created_by_ref", "name", "schema", "version", "extension_types"),
        rules=(_extension_definition,),
    ),
)

META_TYPES: dict[str, TypeSpec] = {
    "language-content": LANGUAGE_CONTENT,
    "marking-definition": MARKING_DEFINITION,
    "extension-definition": EXTENSION_DEFINITION,
}
