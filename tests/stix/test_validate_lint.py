"""`lint`: warnings for valid objects (strict-mode and best-practice findings), and the
robustness of both entry points on arbitrary JSON."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_validate_examples import EXAMPLES, example

from thiqa.stix.validate import lint, validate

GREEN = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
CLEAR = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"


def warned(obj: Any, text: str) -> bool:
    return any(text in message for message in lint(obj))


def test_minimal_examples_have_no_warnings() -> None:
    quiet = {kind: lint(obj) for kind, obj in EXAMPLES.items()}
    assert {kind: found for kind, found in quiet.items() if found} == {}


def test_custom_properties() -> None:
    assert lint(example("tool", rank=5)) == [
        "rank: custom property: define it with a property extension (§7.3); custom properties"
        " are deprecated (§11.1)",
        "rank: custom property names should start with 'x_' (§11.1)",
    ]
    assert len(lint(example("tool", x_acme_rank=5))) == 1
    toplevel = {
        "extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e": {
            "extension_type": "toplevel-property-extension"
        }
    }
    assert lint(example("tool", rank=5, extensions=toplevel)) == []


def test_custom_objects() -> None:
    tactic = {
        "type": "x-mitre-tactic",
        "spec_version": "2.1",
        "id": "x-mitre-tactic--2558fd61-8c75-4730-94c4-11926db2a263",
        "created": "2018-10-17T00:14:20.652Z",
        "modified": "2018-10-17T00:14:20.652Z",
        "name": "Collection",
    }
    assert validate(tactic) == []
    assert warned(tactic, "type: custom object type 'x-mitre-tactic' is not defined by an")
    new_sdo = {
        "extension-definition--1bba6c39-7ac1-40a2-819a-f33f8ea81a25": {"extension_type": "new-sdo"}
    }
    assert lint({**tactic, "extensions": new_sdo}) == []


def test_open_vocabularies() -> None:
    assert lint(example("tool", tool_types=["remote-access"])) == []
    assert lint(example("tool", tool_types=["hammer"])) == [
        "tool_types: 'hammer' is not in the suggested vocabulary (§2.14)"
    ]
    assert warned(example("identity", identity_class="company"), "identity_class: 'company'")
    assert warned(example("location", region="global"), "region: 'global'")
    assert warned(example("user-account", account_type="superhero"), "account_type:")


def test_identifier_versions() -> None:
    v5 = "tool--0c7b5b88-8ff7-5a4d-aa9d-feb398cd0061"
    assert lint(example("tool", id=v5)) == [
        "id: SDO, SRO and meta object ids should use UUIDv4 (§2.9)"
    ]
    assert lint(example("ipv4-addr", id="ipv4-addr--ff26c055-6336-4bc5-b98d-13d6226742dd")) == [
        "id: SCO ids should be UUIDv5 from the ID contributing properties (§2.9)"
    ]


def test_references() -> None:
    assert warned(
        example("tool", created_by_ref="source--f431f809-377b-45e0-aa1c-6a4751cae5ff"),
        "created_by_ref: 'source--f431f809-377b-45e0-aa1c-6a4751cae5ff' should reference an"
        " identity",
    )
    assert warned(
        example("network-traffic", dst_ref="ipv4-addr--e42c19c8-f9fe-5ae9-9fc8-22c398f78fb"),
        "dst_ref: 'ipv4-addr--e42c19c8-f9fe-5ae9-9fc8-22c398f78fb' is not a well-formed",
    )


def test_hashes_and_references() -> None:
    assert warned(example("file", hashes={"md5": "x"}), "hashes: 'md5' is not in")
    ntfs = {"ntfs-ext": {"alternate_data_streams": [{"name": "s", "hashes": {"foo": "1"}}]}}
    assert warned(
        example("file", extensions=ntfs),
        "extensions.ntfs-ext.alternate_data_streams[0].hashes: 'foo' is not in",
    )
    refs = [{"source_name": "acme", "url": "https://example.com"}]
    assert warned(
        example("tool", external_references=refs),
        "external_references[0]: hashes should accompany url",
    )


def test_deprecated_and_custom_constructs() -> None:
    container = example(
        "observed-data", object_refs=None, objects={"0": {"type": "ipv4-addr", "value": "1.2.3.4"}}
    )
    del container["object_refs"]
    assert warned(container, "objects: the observable container is deprecated")
    custom_ext = {"x-acme-ext": {"rank": 5}}
    assert warned(example("file", extensions=custom_ext), "extensions.x-acme-ext: not a predefined")
    assert warned(
        example("file", extensions={"ntfs-ext": {"sid": "1", "foo": 1}}),
        "extensions.ntfs-ext.foo: property not defined by the extension",
    )
    marking = example("marking-definition", definition_type="acme", definition={"a": "b"})
    assert warned(marking, "definition_type: 'acme': custom marking definitions should use")


def test_markings() -> None:
    assert warned(
        example("tool", object_marking_refs=[GREEN, CLEAR]),
        "object_marking_refs: more than one TLP marking",
    )
    assert lint(example("tool", object_marking_refs=[GREEN])) == []


def test_bundles() -> None:
    tool = example("tool")
    bundle = {
        "type": "bundle",
        "id": "bundle--44af6c39-c09b-59c5-9de2-394224b04982",
        "objects": [tool, tool, example("tool", rank=1)],
        "spec_version": "2.1",
    }
    assert lint(bundle) == [
        "spec_version: custom property on a bundle (§8.1 defines none)",
        "id: bundle ids should use UUIDv4 (§2.9)",
        "objects[1]: repeats an object version (same id, modified)",
        "objects[2]: repeats an object version (same id, modified)",
        "objects[2].rank: custom property: define it with a property extension (§7.3); custom"
        " properties are deprecated (§11.1)",
        "objects[2].rank: custom property names should start with 'x_' (§11.1)",
    ]
    assert lint([tool, example("tool", rank=1)])[0].startswith("[1].rank: ")


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "id",
                    "objects",
                    "name",
                    "created",
                    "modified",
                    "x_y",
                    "extensions",
                    "hashes",
                    "granular_markings",
                    "external_references",
                    "spec_version",
                    "contents",
                    "value",
                    "definition_type",
                    "definition",
                ]
            ),
            inner,
            max_size=6,
        )
    ),
    max_leaves=20,
)
_types = st.sampled_from([*EXAMPLES, "bundle", "x-acme", "Bad_Type", ""])


@settings(max_examples=300)
@given(_types, st.dictionaries(st.text(max_size=12), _json, max_size=6))
def test_never_raises_on_malformed_objects(kind: str, junk: dict[str, Any]) -> None:
    base = dict(EXAMPLES.get(kind, {"type": kind}))
    base.update(junk)
    for found in (validate(base), lint(base), validate([base]), lint([base])):
        assert all(type(message) is str and message for message in found)


@settings(max_examples=200)
@given(_json)
def test_never_raises_on_arbitrary_json(value: Any) -> None:
    assert all(type(message) is str for message in validate(value))
    assert all(type(message) is str for message in lint(value))


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_every_property_rejects_a_wrong_type(kind: str) -> None:
    """No property of a minimal example accepts an arbitrary object in place of its value."""
    for name, value in EXAMPLES[kind].items():
        if name == "type":
            continue
        wrong = {"unexpected": [value]}
        found = validate(example(kind, **{name: wrong}))
        assert found, (kind, name)
        assert any(message.startswith(name) for message in found), (kind, name, found)
