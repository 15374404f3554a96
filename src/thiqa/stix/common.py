"""Common properties (§3.2), embedded types (§2.5, §2.11, §7.2.3), extensions (§3.2 `extensions`,
§7.3, §11.3) and custom properties (§11.1), shared by every object table.

The helpers `sdo_spec`, `sco_spec` and `meta_spec` merge a type's own properties with the
common ones of its category, so each type ends up with one flat table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from thiqa.stix.formats import (
    ID_RE,
    PROPERTY_NAME_RULE,
    is_identifier,
    is_property_name,
    is_url,
    timestamp_error,
    timestamp_lt,
)
from thiqa.stix.properties import (
    BINARY,
    BOOLEAN,
    HEX,
    IDENTIFIER,
    LANG,
    STRING,
    STRINGS,
    TIMESTAMP_MILLIS,
    URL,
    Check,
    Problem,
    Problems,
    Rule,
    Spec,
    check_props,
    hashes,
    identifier,
    integer,
    list_of,
    nested,
    problem,
    show,
)
from thiqa.stix.vocab import EXTENSION_TYPE_ENUM

__all__ = [
    "EXTERNAL_REFERENCES",
    "KILL_CHAIN_PHASES",
    "RESERVED_PROPERTIES",
    "at_least_one",
    "custom_property",
    "meta_spec",
    "not_before",
    "sco_spec",
    "sdo_spec",
]

# §3.8: property names reserved for future versions of STIX.
RESERVED_PROPERTIES = frozenset({"severity", "action", "username", "phone_numbers"})


_PLAIN_NAMES: set[str] = set()


def custom_property(name: str, value: object) -> Problems:
    """§11.1 (deprecated, still accepted): a property the type's table does not define."""
    if name in _PLAIN_NAMES:
        # A name seen before, valid and without an encoding suffix: only the value matters.
        if value is None or (type(value) is list and not value):
            return _custom_value(value)
        return None
    if name in RESERVED_PROPERTIES:
        return problem(f"{name!r} is a reserved property name (§3.8)")
    if not is_property_name(name):
        return problem(f"invalid property name {name!r}: must be {PROPERTY_NAME_RULE}")
    # §2.1, §2.8: the suffix declares the encoding.
    if name.endswith("_bin"):
        return _custom_value(value) or BINARY(value)
    if name.endswith("_hex"):
        return _custom_value(value) or HEX(value)
    if len(_PLAIN_NAMES) < 4096:
        _PLAIN_NAMES.add(name)
    return _custom_value(value)


def _custom_value(value: object) -> Problems:
    if value is None:
        return problem("null is not allowed; omit the property instead")
    if type(value) is list and not value:
        return problem("empty list (§2.12: omit the property instead)")
    return None


def at_least_one(*names: str) -> Rule:
    """The object must carry at least one of `names`."""
    listed = ", ".join(names)

    def rule(obj: dict[str, object]) -> Problems:
        for name in names:
            if name in obj:
                return None
        return problem(f"at least one of these properties is required: {listed}")

    return rule


def not_before(first: str, last: str, strictly: bool = False) -> Rule:
    """`last` must be later than (or, unless `strictly`, equal to) `first` when both are set."""
    relation = "later than" if strictly else "later than or equal to"

    def rule(obj: dict[str, object]) -> Problems:
        a = obj.get(first)
        b = obj.get(last)
        if type(a) is not str or type(b) is not str:
            return None
        if a == b:
            if not strictly:
                return None
        elif timestamp_error(a) is not None or timestamp_error(b) is not None:
            return None  # the format error is reported by the property check
        if timestamp_lt(b, a) or (strictly and not timestamp_lt(a, b)):
            return problem(f"{b!r} must be {relation} {first} ({a!r})", last)
        return None

    return rule


# §2.5: external references.
_CVE_RE = re.compile(r"CVE-[0-9]{4}-(?:0[0-9]{3}|[1-9][0-9]{3,})")
_CAPEC_RE = re.compile(r"CAPEC-[0-9]+")


def _external_reference(ref: dict[str, object]) -> Problems:
    if "description" not in ref and "url" not in ref and "external_id" not in ref:
        return problem("at least one of description, url or external_id is required (§2.5.2)")
    source = ref.get("source_name")
    external_id = ref.get("external_id")
    if type(external_id) is not str:
        external_id = None
    # CVE and CAPEC references name their source exactly and use the canonical ids, as the
    # OASIS schema (external-reference.json) enforces.
    if source == "cve":
        if external_id is None or _CVE_RE.fullmatch(external_id) is None:
            return problem(
                f"{show(external_id)} is not a CVE id (CVE-YYYY-NNNN+) as source_name 'cve'"
                " requires",
                "external_id",
            )
    elif source == "capec":
        if external_id is None or _CAPEC_RE.fullmatch(external_id) is None:
            return problem(
                f"{show(external_id)} is not a CAPEC id (CAPEC-N+) as source_name 'capec' requires",
                "external_id",
            )
    elif external_id is not None and (
        _CVE_RE.fullmatch(external_id) is not None or _CAPEC_RE.fullmatch(external_id) is not None
    ):
        return problem(
            f"{external_id!r} is a CVE/CAPEC id, so source_name must be 'cve' or 'capec'",
            "source_name",
        )
    return None


_EXTERNAL_REFERENCE = Spec(
    props={
        "source_name": STRING,
        "description": STRING,
        "url": URL,
        "hashes": hashes(vocabulary_only=True),
        "external_id": STRING,
    },
    required=("source_name",),
    rules=(_external_reference,),
)
_EXTERNAL_REFERENCES = list_of(nested(_EXTERNAL_REFERENCE, "an external-reference object"))


def _plain_external_reference(ref: object) -> bool:
    """True for the usual reference: only string source_name, description, url, external_id,
    all valid. Anything else takes the full check, which also words the messages."""
    if type(ref) is not dict:
        return False
    if type(ref.get("source_name")) is not str:
        return False
    count = 1
    if "description" in ref:
        if type(ref["description"]) is not str:
            return False
        count += 1
    if "url" in ref:
        url = ref["url"]
        if type(url) is not str or not is_url(url):
            return False
        count += 1
    if "external_id" in ref:
        if type(ref["external_id"]) is not str:
            return False
        count += 1
    return 1 < count == len(ref) and _external_reference(ref) is None


def _external_references(value: object) -> Problems:
    if type(value) is list and value:
        for ref in value:
            if not _plain_external_reference(ref):
                break
        else:
            return None
    return _EXTERNAL_REFERENCES(value)


EXTERNAL_REFERENCES: Check = _external_references

# §2.11
_KILL_CHAIN_PHASES = list_of(
    nested(
        Spec(
            props={"kill_chain_name": STRING, "phase_name": STRING},
            required=("kill_chain_name", "phase_name"),
        ),
        "a kill-chain-phase object",
    )
)


def _kill_chain_phases(value: object) -> Problems:
    if type(value) is list and value:
        for phase in value:
            if (
                type(phase) is not dict
                or len(phase) != 2
                or type(phase.get("kill_chain_name")) is not str
                or type(phase.get("phase_name")) is not str
            ):
                break
        else:
            return None
    return _KILL_CHAIN_PHASES(value)


KILL_CHAIN_PHASES: Check = _kill_chain_phases

# §7.2.3.1: a selector is a property name followed by `.name` / `.[index]` steps, or `id`.
_SELECTOR_RE = re.compile(r"[a-z0-9_-]{3,249}(?:\.(?:\[[0-9]+\]|[a-z0-9_-]{1,250}))*|id")


def _selector(value: object) -> Problems:
    if type(value) is not str:
        return problem(f"{show(value)} is not a selector string")
    if _SELECTOR_RE.fullmatch(value) is None:
        return problem(f"{show(value)} is not a valid selector (§7.2.3.1)")
    return None


def _granular_marking(marking: dict[str, object]) -> Problems:
    # §7.2.3.1: exactly one of marking_ref (a data marking) and lang (a language marking).
    if ("marking_ref" in marking) == ("lang" in marking):
        return problem("exactly one of marking_ref and lang is required (§7.2.3.1)")
    return None


_GRANULAR_MARKINGS = list_of(
    nested(
        Spec(
            props={
                "selectors": list_of(_selector),
                "marking_ref": identifier("marking-definition"),
                "lang": LANG,
            },
            required=("selectors",),
            rules=(_granular_marking,),
        ),
        "a granular-marking object",
    )
)


def _resolves(obj: dict[str, object], selector: str) -> bool:
    """§7.2.3: a selector must refer to a property or list item present in the object."""
    here: object = obj
    for step in selector.split("."):
        if step.startswith("["):
            if type(here) is not list:
                return False
            index = int(step[1:-1])
            if index >= len(here):
                return False
            here = here[index]
        else:
            if type(here) is not dict or step not in here:
                return False
            here = here[step]
    return True


def _selectors_resolve(obj: dict[str, object]) -> Problems:
    markings = obj.get("granular_markings")
    if type(markings) is not list:
        return None
    out: list[Problem] = []
    for i, marking in enumerate(markings):
        if type(marking) is not dict or type(marking.get("selectors")) is not list:
            continue
        for j, selector in enumerate(marking["selectors"]):
            if (
                type(selector) is str
                and _SELECTOR_RE.fullmatch(selector) is not None
                and not _resolves(obj, selector)
            ):
                out.append(
                    (
                        f"granular_markings[{i}].selectors[{j}]",
                        f"{selector!r} does not select anything in this object (§7.2.3)",
                    )
                )
    return out or None


# §3.2 `extensions`: keys are extension-definition ids (§7.3) or predefined extension names.
_PREDEFINED_EXTENSION_RE = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*-ext")


def _extension_type(value: object) -> Problems:
    if type(value) is not str or value not in EXTENSION_TYPE_ENUM:
        return problem(
            f"{show(value)} is not a value of extension-type-enum: "
            + ", ".join(sorted(EXTENSION_TYPE_ENUM))
        )
    return None


_EXTENSION_INSTANCE = Spec(props={"extension_type": _extension_type}, required=("extension_type",))
_NO_PROPS = Spec(props={})


def extensions(predefined: Mapping[str, Spec]) -> Check:
    def check(value: object) -> Problems:
        if type(value) is not dict:
            return problem(f"{show(value)} is not a dictionary of extensions")
        if not value:
            return problem("empty dictionary (§2.3: omit the property instead)")
        out: list[Problem] | None = None
        for key, ext in value.items():
            found: Problems
            if key.startswith("extension-definition--"):
                if ID_RE.fullmatch(key) is None:
                    found = problem(f"{key!r} is not a valid extension-definition identifier")
                elif type(ext) is not dict:
                    found = problem(f"{show(ext)} is not an extension object")
                else:
                    found = check_props(ext, _EXTENSION_INSTANCE, custom_property)
            elif _PREDEFINED_EXTENSION_RE.fullmatch(key) is not None:
                if type(ext) is not dict:
                    found = problem(f"{show(ext)} is not an extension object")
                elif not ext:
                    found = problem("empty extension object")
                else:
                    found = check_props(ext, predefined.get(key, _NO_PROPS), custom_property)
            else:
                found = problem(
                    f"{key!r} is neither an extension-definition id nor a predefined extension"
                    " name ending in '-ext' (§3.2, §7.3)"
                )
            if found:
                if out is None:
                    out = []
                out.extend((f".{key}{rel}", msg) for rel, msg in found)
        return out

    return check


def _spec_version(value: object) -> Problems:
    # §3.2: "MUST be 2.1 for STIX Objects defined according to this specification".
    if value != "2.1":
        return problem(f"{show(value)} is not '2.1' (thiqa stores STIX 2.1 objects)")
    return None


_MODIFIED_RULE = not_before("created", "modified")

_MARKING_REF_LIST = list_of(identifier("marking-definition"))


def _marking_refs(value: object) -> Problems:
    # Every object carries a few marking references, nearly always the same ones.
    if type(value) is list and value:
        for ref in value:
            if not (
                type(ref) is str and ref.startswith("marking-definition--") and is_identifier(ref)
            ):
                break
        else:
            return None
    return _MARKING_REF_LIST(value)


_MARKING_REFS: Check = _marking_refs


def _defanged_outside_sco(value: object) -> Problems:
    return problem("only SCOs may carry defanged (§3.2)")


# §3.2: common properties of SDOs, SROs and the meta objects (markings pick a subset).
_CORE: dict[str, Check] = {
    "spec_version": _spec_version,
    "created_by_ref": IDENTIFIER,
    "created": TIMESTAMP_MILLIS,
    "modified": TIMESTAMP_MILLIS,
    "revoked": BOOLEAN,
    "labels": STRINGS,
    "confidence": integer(0, 100),
    "lang": LANG,
    "external_references": EXTERNAL_REFERENCES,
    "object_marking_refs": _MARKING_REFS,
    "granular_markings": _GRANULAR_MARKINGS,
    "defanged": _defanged_outside_sco,
}

_SCO_CORE: dict[str, Check] = {
    "spec_version": _spec_version,
    "object_marking_refs": _MARKING_REFS,
    "granular_markings": _GRANULAR_MARKINGS,
    "defanged": BOOLEAN,
}


def _type_and_id(type_name: str) -> dict[str, Check]:
    prefix = type_name + "--"

    def check_type(value: object) -> Problems:
        return None  # dispatch already matched it

    def check_id(value: object) -> Problems:
        # The object's own id is unique: match it directly rather than through the memo.
        if type(value) is str and value.startswith(prefix) and ID_RE.fullmatch(value):
            return None
        if type(value) is str and ID_RE.fullmatch(value) is not None:
            return problem(f"{value!r} does not start with {prefix!r} (§2.9)")
        return IDENTIFIER(value)

    return {"type": check_type, "id": check_id}


def _granular_rule(obj: dict[str, object]) -> Problems:
    if "granular_markings" in obj:
        return _selectors_resolve(obj)
    return None


def sdo_spec(
    type_name: str,
    props: Mapping[str, Check],
    required: tuple[str, ...] = (),
    rules: tuple[Rule, ...] = (),
    predefined: Mapping[str, Spec] | None = None,
) -> Spec:
    """The table of an SDO or SRO (also custom ones): common §3.2 properties plus `props`."""
    table = {**_CORE, **_type_and_id(type_name), **props}
    table["extensions"] = extensions(predefined or {})
    return Spec(
        props=table,
        required=("spec_version", "created", "modified", *required),
        rules=(_MODIFIED_RULE, _granular_rule, *rules),
    )


def meta_spec(
    type_name: str,
    props: Mapping[str, Check],
    required: tuple[str, ...] = (),
    rules: tuple[Rule, ...] = (),
    versioned: bool = True,
) -> Spec:
    """The table of a meta object (§7): like an SDO; markings are not versioned (§7.2.1)."""
    table = {**_CORE, **_type_and_id(type_name), **props}
    table["extensions"] = extensions({})
    return Spec(
        props=table,
        required=("spec_version", "created", *(("modified",) if versioned else ()), *required),
        rules=(*((_MODIFIED_RULE,) if versioned else ()), _granular_rule, *rules),
    )


def sco_spec(
    type_name: str,
    props: Mapping[str, Check],
    required: tuple[str, ...] = (),
    rules: tuple[Rule, ...] = (),
    predefined: Mapping[str, Spec] | None = None,
) -> Spec:
    """The table of an SCO (§6, also custom ones): SCO common properties plus `props`.

    `id` is not listed as required: SCOs inside the deprecated observable container (§2.13)
    have none; the caller requires it of top-level objects.
    """
    table = {**_SCO_CORE, **_type_and_id(type_name), **props}
    table["extensions"] = extensions(predefined or {})
    return Spec(props=table, required=required, rules=(_granular_rule, *rules))
