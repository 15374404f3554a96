"""Handling of an object version, read from the object when it is written.

What thiqa reads (see docs/handling.md):

- **TLP** from the marking definitions the object references, in
  ``object_marking_refs`` and in ``granular_markings`` (a part marked RED makes the
  whole version RED: a node cannot serve half an object). TLP 2.0 ids (the TLP 2.0
  extension's five definitions) and the four TLP 1.0 definitions built into STIX 2.1
  (§7.2.1.4; WHITE is CLEAR). When several are given the most restrictive wins.
  Other marking definitions (copyright statements, other frameworks) say nothing
  about TLP and are ignored here.
- **PAP**, **originator control** (the third-party rule) and the **named recipients**
  of a TLP:RED version from thiqa's property extension (:data:`EXTENSION_ID`, STIX 2.1
  §7.3), since STIX has no property for them.

When the publisher set no TLP (or no PAP), the default of the community the
collection belongs to applies; without one the version is treated as the most
restrictive case (DESIGN.md rule 5): TLP:RED with no named recipients — visible only
to its originator organisation and to admins — and PAP:RED. An extension whose values
thiqa does not know is refused, never guessed at.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from thiqa.stix.formats import ID_RE


class Tlp(IntEnum):
    """TLP 2.0 levels, in order of restriction."""

    CLEAR = 0
    GREEN = 1
    AMBER = 2
    AMBER_STRICT = 3
    RED = 4

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "+")


class Pap(IntEnum):
    """PAP (Permissible Actions Protocol, FIRST) levels, in order of restriction."""

    CLEAR = 0
    GREEN = 1
    AMBER = 2
    RED = 3

    @property
    def label(self) -> str:
        return self.name.lower()


def tlp_named(name: str) -> Tlp:
    """``"amber+strict"`` (or ``AMBER+STRICT``, ``white``) → :class:`Tlp`."""
    key = name.strip().lower()
    if key == "white":
        return Tlp.CLEAR
    for level in Tlp:
        if level.label == key:
            return level
    raise ValueError(f"{name!r} is not a TLP level: {', '.join(t.label for t in Tlp)}")


def pap_named(name: str) -> Pap:
    key = name.strip().lower()
    if key == "white":
        return Pap.CLEAR
    for level in Pap:
        if level.label == key:
            return level
    raise ValueError(f"{name!r} is not a PAP level: {', '.join(p.label for p in Pap)}")


# TLP 2.0 (extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d) and TLP 1.0
# (STIX 2.1 §7.2.1.4) marking definitions.
TLP_MARKINGS: dict[str, Tlp] = {
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": Tlp.CLEAR,
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": Tlp.GREEN,
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": Tlp.AMBER,
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": Tlp.AMBER_STRICT,
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": Tlp.RED,
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": Tlp.CLEAR,  # TLP:WHITE
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": Tlp.GREEN,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": Tlp.AMBER,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": Tlp.RED,
}
TLP2_IDS: dict[Tlp, str] = {level: mid for mid, level in list(TLP_MARKINGS.items())[:5]}

# thiqa's property extension (STIX 2.1 §7.3): a fixed definition every node ships.
EXTENSION_ID = "extension-definition--2778f57d-a81d-4ca7-aeb1-c1260ebc2143"
THIQA_IDENTITY = "identity--c2e941da-2b5a-46a1-a933-b0c7b4d04223"

EXTENSION_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "thiqa handling",
    "description": "Handling STIX 2.1 has no property for: PAP, originator control (the "
                   "third-party rule) and the named recipients of a TLP:RED version.",
    "type": "object",
    "properties": {
        "extension_type": {"const": "property-extension"},
        "pap": {"enum": ["clear", "white", "green", "amber", "red"]},
        "originator_control": {"type": "boolean"},
        "recipients": {"type": "array", "uniqueItems": True, "minItems": 1,
                       "items": {"type": "string", "pattern": "^identity--[0-9a-f-]{36}$"}},
    },
    "required": ["extension_type"],
    "additionalProperties": False,
}

EXTENSION_DEFINITION: dict[str, Any] = {
    "type": "extension-definition",
    "spec_version": "2.1",
    "id": EXTENSION_ID,
    "created_by_ref": THIQA_IDENTITY,
    "created": "2026-01-01T00:00:00.000Z",
    "modified": "2026-01-01T00:00:00.000Z",
    "name": "thiqa handling",
    "description": "PAP, originator control and TLP:RED named recipients of a version.",
    "schema": json.dumps(EXTENSION_SCHEMA, sort_keys=True),
    "version": "1.0",
    "extension_types": ["property-extension"],
}
THIQA_IDENTITY_OBJECT: dict[str, Any] = {
    "type": "identity",
    "spec_version": "2.1",
    "id": THIQA_IDENTITY,
    "created": "2026-01-01T00:00:00.000Z",
    "modified": "2026-01-01T00:00:00.000Z",
    "name": "thiqa",
    "identity_class": "system",
}

_EXTENSION_FIELDS = frozenset(EXTENSION_SCHEMA["properties"])


@dataclass(frozen=True, slots=True)
class Defaults:
    """What applies when the publisher set none: a community's default TLP and PAP."""

    tlp: Tlp | None = None
    pap: Pap | None = None


NO_DEFAULTS = Defaults()


def defaults_named(tlp: str | None, pap: str | None) -> Defaults:
    """Defaults from level names (None or "none": no default); raises ValueError."""
    def absent(name: str | None) -> bool:
        return name is None or name.strip().lower() == "none"

    return Defaults(None if absent(tlp) else tlp_named(tlp or ""),
                    None if absent(pap) else pap_named(pap or ""))


@dataclass(frozen=True, slots=True)
class Handling:
    """The handling of one version, as the node enforces it.

    ``recipients`` (identity ids of organisations) are kept only for TLP:RED, where they
    are the only readers beside the originator.
    """

    tlp: Tlp
    pap: Pap
    originator_control: bool = False
    recipients: tuple[str, ...] = ()


class HandlingError(ValueError):
    """The object's handling cannot be read (an invalid thiqa extension)."""


@dataclass(frozen=True, slots=True)
class Marks:
    """The handling as the publisher wrote it; None where it set none.

    Read where objects are validated (possibly in ``thiqa load``'s reader process),
    resolved against the collection's defaults where they are stored.
    """

    tlp: Tlp | None = None
    pap: Pap | None = None
    originator_control: bool = False
    recipients: tuple[str, ...] = ()

    def resolve(self, defaults: Defaults = NO_DEFAULTS) -> Handling:
        """The handling to enforce: the publisher's, else the defaults, else the most
        restrictive (TLP:RED with no named recipients, PAP:RED)."""
        tlp = self.tlp if self.tlp is not None else defaults.tlp
        if tlp is None:
            tlp = Tlp.RED
        pap = self.pap if self.pap is not None else defaults.pap
        return Handling(tlp, Pap.RED if pap is None else pap, self.originator_control,
                        self.recipients if tlp is Tlp.RED else ())


UNMARKED = Marks()


def marks(obj: dict[str, Any]) -> Marks:
    """The handling a (validated) STIX object carries; raises :class:`HandlingError`."""
    tlp = _tlp(obj)
    extensions = obj.get("extensions")
    ext = extensions.get(EXTENSION_ID) if isinstance(extensions, dict) else None
    if ext is None:
        return Marks(tlp) if tlp is not None else UNMARKED
    pap, control, recipients = _extension(ext)
    return Marks(tlp, pap, control, recipients)


def extract(obj: dict[str, Any], defaults: Defaults = NO_DEFAULTS) -> Handling:
    """The handling to enforce on ``obj`` written where ``defaults`` apply."""
    return marks(obj).resolve(defaults)

def _tlp(obj: dict[str, Any]) -> Tlp | None:
    found: Tlp | None = None
    refs = obj.get("object_marking_refs")
    candidates = list(refs) if isinstance(refs, list) else []
    granular = obj.get("granular_markings")
    if isinstance(granular, list):
        candidates.extend(g.get("marking_ref") for g in granular if isinstance(g, dict))
    for ref in candidates:
        level = TLP_MARKINGS.get(ref) if isinstance(ref, str) else None
        if level is not None and (found is None or level > found):
            found = level
    return found


def _extension(ext: object) -> tuple[Pap | None, bool, tuple[str, ...]]:
    where = f"extensions.{EXTENSION_ID}"
    if not isinstance(ext, dict):
        raise HandlingError(f"{where}: must be an object")
    unknown = sorted(set(ext) - _EXTENSION_FIELDS)
    if unknown:
        raise HandlingError(f"{where}: unknown handling propert{'ies' if len(unknown) > 1 else 'y'}"
                            f" {', '.join(map(repr, unknown))}; thiqa refuses handling it "
                            "cannot enforce")
    if ext.get("extension_type") != "property-extension":
        raise HandlingError(f"{where}.extension_type: must be 'property-extension'")
    pap: Pap | None = None
    if "pap" in ext:
        raw = ext["pap"]
        try:
            pap = pap_named(raw) if isinstance(raw, str) else None
        except ValueError:
            pap = None
        if pap is None:
            raise HandlingError(f"{where}.pap: {raw!r} is not a PAP level: clear, green, "
                                "amber, red")
    control = ext.get("originator_control", False)
    if not isinstance(control, bool):
        raise HandlingError(f"{where}.originator_control: must be true or false")
    raw_recipients = ext.get("recipients", [])
    if (not isinstance(raw_recipients, list) or ("recipients" in ext and not raw_recipients)
            or not all(isinstance(r, str) and r.startswith("identity--") and ID_RE.fullmatch(r)
                       for r in raw_recipients)):
        raise HandlingError(f"{where}.recipients: must be a non-empty list of identity ids "
                            "(the organisations that may read this TLP:RED version)")
    return pap, control, tuple(dict.fromkeys(raw_recipients))
