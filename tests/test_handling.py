"""Handling read from objects at write (thiqa.handling): TLP 2.0 and 1.0 markings, the
thiqa extension, community defaults, and the most restrictive case."""

from __future__ import annotations

from typing import Any

import pytest
import stix2

from tests.conftest import indicator
from thiqa import ingest
from thiqa.handling import (
    EXTENSION_DEFINITION,
    EXTENSION_ID,
    THIQA_IDENTITY_OBJECT,
    TLP2_IDS,
    Defaults,
    Handling,
    HandlingError,
    Pap,
    Tlp,
    extract,
    marks,
    tlp_named,
)
from thiqa.stix.validate import validate
from thiqa.store.model import NewVersion

ORG = "identity--8c5d6a3e-7b1f-4e2a-9d0c-1f2e3d4c5b6a"


def marked(*refs: str, **ext: Any) -> dict[str, Any]:
    obj: dict[str, Any] = indicator(1)
    if refs:
        obj["object_marking_refs"] = list(refs)
    if ext:
        obj["extensions"] = {EXTENSION_ID: {"extension_type": "property-extension", **ext}}
    return obj


@pytest.mark.parametrize(("marking", "level"), [
    (stix2.TLP_WHITE.id, Tlp.CLEAR),
    (stix2.TLP_GREEN.id, Tlp.GREEN),
    (stix2.TLP_AMBER.id, Tlp.AMBER),
    (stix2.TLP_RED.id, Tlp.RED),
])
def test_tlp_1_markings_of_stix_2_1_map_to_tlp_2(marking: str, level: Tlp) -> None:
    # The ids come from the stix2 library (OASIS), not from our own table.
    assert extract(marked(marking)).tlp is level


@pytest.mark.parametrize("level", list(Tlp))
def test_tlp_2_markings(level: Tlp) -> None:
    assert extract(marked(TLP2_IDS[level])).tlp is level


def test_ids_of_design_md() -> None:
    assert TLP2_IDS[Tlp.AMBER_STRICT] == ("marking-definition--939a9414-2ddd-4d32-a0cd-"
                                          "375ea402b003")
    assert TLP2_IDS[Tlp.CLEAR] == "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"


def test_most_restrictive_of_several_and_of_granular_markings() -> None:
    assert extract(marked(TLP2_IDS[Tlp.GREEN], stix2.TLP_AMBER.id)).tlp is Tlp.AMBER
    obj = marked(TLP2_IDS[Tlp.GREEN])
    obj["granular_markings"] = [{"marking_ref": TLP2_IDS[Tlp.RED], "selectors": ["name"]}]
    assert extract(obj).tlp is Tlp.RED


def test_unmarked_is_most_restrictive_without_a_default() -> None:
    assert extract(marked()) == Handling(Tlp.RED, Pap.RED, False, ())


def test_unknown_markings_are_not_tlp() -> None:
    # A copyright statement (as in ATT&CK) says nothing about TLP: the default applies.
    statement = "marking-definition--fa42a846-8d90-4e51-bc29-71d5b4802168"
    assert extract(marked(statement)).tlp is Tlp.RED
    assert extract(marked(statement), Defaults(Tlp.GREEN)).tlp is Tlp.GREEN


def test_community_default_applies_only_when_the_publisher_set_none() -> None:
    defaults = Defaults(Tlp.GREEN, Pap.GREEN)
    assert extract(marked(), defaults) == Handling(Tlp.GREEN, Pap.GREEN)
    assert extract(marked(TLP2_IDS[Tlp.AMBER]), defaults) == Handling(Tlp.AMBER, Pap.GREEN)
    assert extract(marked(TLP2_IDS[Tlp.CLEAR], pap="red"), defaults) == Handling(Tlp.CLEAR,
                                                                                 Pap.RED)


def test_extension_pap_control_and_red_recipients() -> None:
    h = extract(marked(TLP2_IDS[Tlp.RED], pap="amber", originator_control=True,
                       recipients=[ORG, ORG]))
    assert h == Handling(Tlp.RED, Pap.AMBER, True, (ORG,))
    # Recipients matter only for RED: elsewhere everyone in scope reads.
    assert extract(marked(TLP2_IDS[Tlp.AMBER], recipients=[ORG])).recipients == ()
    # PAP:WHITE is PAP:CLEAR, as TLP:WHITE is TLP:CLEAR.
    assert extract(marked(pap="white")).pap is Pap.CLEAR


@pytest.mark.parametrize(("ext", "message"), [
    ({"pap": "purple"}, "pap"),
    ({"pap": 2}, "pap"),
    ({"originator_control": "yes"}, "originator_control"),
    ({"recipients": []}, "recipients"),
    ({"recipients": ["indicator--8c5d6a3e-7b1f-4e2a-9d0c-1f2e3d4c5b6a"]}, "recipients"),
    ({"tlp": "red"}, "unknown handling property 'tlp'"),
])
def test_handling_it_cannot_enforce_is_refused(ext: dict[str, Any], message: str) -> None:
    with pytest.raises(HandlingError, match=message):
        marks(marked(**ext))
    outcome = ingest.prepare(marked(**ext))
    assert not isinstance(outcome, NewVersion) and message in (outcome.message or "")


def test_the_validator_accepts_the_extension_and_its_definition() -> None:
    obj = marked(TLP2_IDS[Tlp.RED], pap="green", originator_control=False, recipients=[ORG])
    assert validate(obj) == []
    assert validate(EXTENSION_DEFINITION) == []
    assert validate(THIQA_IDENTITY_OBJECT) == []
    prepared = ingest.prepare(obj)
    assert isinstance(prepared, NewVersion)
    assert prepared.marks.tlp is Tlp.RED and prepared.marks.recipients == (ORG,)


def test_level_names() -> None:
    assert tlp_named("AMBER+STRICT") is Tlp.AMBER_STRICT
    assert tlp_named("white") is Tlp.CLEAR
    assert Tlp.AMBER_STRICT.label == "amber+strict"
    with pytest.raises(ValueError, match="not a TLP level"):
        tlp_named("purple")
