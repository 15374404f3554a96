"""STIX Domain Objects (§4) and STIX Relationship Objects (§5): property tables."""

from __future__ import annotations

import re

from thiqa.stix.common import (
    KILL_CHAIN_PHASES,
    custom_property,
    not_before,
    sdo_spec,
)
from thiqa.stix.formats import is_type_name
from thiqa.stix.pattern_names import path_name_problems
from thiqa.stix.patterns import PatternError, path_names
from thiqa.stix.properties import (
    BOOLEAN,
    IDENTIFIER,
    STRING,
    STRINGS,
    TIMESTAMP,
    Check,
    Problem,
    Problems,
    Rule,
    TypeSpec,
    check_props,
    enum,
    identifier,
    integer,
    list_of,
    number,
    problem,
    show,
)
from thiqa.stix.scos import SCO_TYPES
from thiqa.stix.vocab import (
    ATTACK_MOTIVATION_OV,
    ATTACK_RESOURCE_LEVEL_OV,
    GROUPING_CONTEXT_OV,
    IDENTITY_CLASS_OV,
    IMPLEMENTATION_LANGUAGE_OV,
    INDICATOR_TYPE_OV,
    INDUSTRY_SECTOR_OV,
    INFRASTRUCTURE_TYPE_OV,
    MALWARE_CAPABILITIES_OV,
    MALWARE_RESULT_OV,
    MALWARE_TYPE_OV,
    OPINION_ENUM,
    PATTERN_TYPE_OV,
    PROCESSOR_ARCHITECTURE_OV,
    REGION_OV,
    REPORT_TYPE_OV,
    THREAT_ACTOR_ROLE_OV,
    THREAT_ACTOR_SOPHISTICATION_OV,
    THREAT_ACTOR_TYPE_OV,
    TOOL_TYPE_OV,
)

__all__ = ["SDO_TYPES", "SDO_TYPE_NAMES", "SRO_TYPES"]

SDO_TYPE_NAMES = frozenset(
    {
        "attack-pattern",
        "campaign",
        "course-of-action",
        "grouping",
        "identity",
        "incident",
        "indicator",
        "infrastructure",
        "intrusion-set",
        "location",
        "malware",
        "malware-analysis",
        "note",
        "observed-data",
        "opinion",
        "report",
        "threat-actor",
        "tool",
        "vulnerability",
    }
)

OBJECT_REFS = list_of(IDENTIFIER)
SOFTWARE_REF = identifier("software")
SEEN = {"first_seen": TIMESTAMP, "last_seen": TIMESTAMP}
SEEN_ORDER = not_before("first_seen", "last_seen")
NAMED = {"name": STRING, "description": STRING}


def _sdo(
    type_name: str,
    props: dict[str, Check],
    required: tuple[str, ...] = (),
    rules: tuple[Rule, ...] = (),
    vocabs: dict[str, frozenset[str]] | None = None,
) -> TypeSpec:
    return TypeSpec("sdo", sdo_spec(type_name, props, required, rules), vocabs=vocabs or {})


# §4.1
ATTACK_PATTERN = _sdo(
    "attack-pattern",
    {**NAMED, "aliases": STRINGS, "kill_chain_phases": KILL_CHAIN_PHASES},
    required=("name",),
)
# §4.2
CAMPAIGN = _sdo(
    "campaign",
    {**NAMED, "aliases": STRINGS, **SEEN, "objective": STRING},
    required=("name",),
    rules=(SEEN_ORDER,),
)
# §4.3 (`action` is reserved, §3.8)
COURSE_OF_ACTION = _sdo("course-of-action", dict(NAMED), required=("name",))
# §4.4
GROUPING = _sdo(
    "grouping",
    {**NAMED, "context": STRING, "object_refs": OBJECT_REFS},
    required=("context", "object_refs"),
    vocabs={"context": GROUPING_CONTEXT_OV},
)
# §4.5
IDENTITY = _sdo(
    "identity",
    {
        **NAMED,
        "roles": STRINGS,
        "identity_class": STRING,
        "sectors": STRINGS,
        "contact_information": STRING,
    },
    required=("name",),
    vocabs={"identity_class": IDENTITY_CLASS_OV, "sectors": INDUSTRY_SECTOR_OV},
)
# §4.6
INCIDENT = _sdo("incident", {**NAMED, "kill_chain_phases": KILL_CHAIN_PHASES}, required=("name",))


# §4.7
def _indicator_pattern(obj: dict[str, object]) -> Problems:
    # §4.7.1: a `stix` pattern must be valid STIX patterning (§9), and the object types and
    # property names of its object paths must follow the naming rules (§3.1). One parse
    # gives both the verdict and the names.
    pattern = obj.get("pattern")
    if obj.get("pattern_type") == "stix" and type(pattern) is str:
        try:
            names = path_names(pattern)
        except PatternError as exc:
            return problem(f"invalid STIX pattern: {exc}", "pattern")
        return path_name_problems(names)
    return None


INDICATOR = _sdo(
    "indicator",
    {
        **NAMED,
        "indicator_types": STRINGS,
        "pattern": STRING,
        "pattern_type": STRING,
        "pattern_version": STRING,
        "valid_from": TIMESTAMP,
        "valid_until": TIMESTAMP,
        "kill_chain_phases": KILL_CHAIN_PHASES,
    },
    required=("pattern", "pattern_type", "valid_from"),
    # §4.7.1: "valid_until MUST be greater than valid_from".
    rules=(not_before("valid_from", "valid_until", strictly=True), _indicator_pattern),
    vocabs={"indicator_types": INDICATOR_TYPE_OV, "pattern_type": PATTERN_TYPE_OV},
)
# §4.8
INFRASTRUCTURE = _sdo(
    "infrastructure",
    {
        **NAMED,
        "infrastructure_types": STRINGS,
        "aliases": STRINGS,
        "kill_chain_phases": KILL_CHAIN_PHASES,
        **SEEN,
    },
    required=("name",),
    rules=(SEEN_ORDER,),
    vocabs={"infrastructure_types": INFRASTRUCTURE_TYPE_OV},
)
_MOTIVES = {
    "goals": STRINGS,
    "resource_level": STRING,
    "primary_motivation": STRING,
    "secondary_motivations": STRINGS,
}
_MOTIVE_VOCABS = {
    "resource_level": ATTACK_RESOURCE_LEVEL_OV,
    "primary_motivation": ATTACK_MOTIVATION_OV,
    "secondary_motivations": ATTACK_MOTIVATION_OV,
}
# §4.9
INTRUSION_SET = _sdo(
    "intrusion-set",
    {**NAMED, "aliases": STRINGS, **SEEN, **_MOTIVES},
    required=("name",),
    rules=(SEEN_ORDER,),
    vocabs=_MOTIVE_VOCABS,
)


# §4.10
def _location(obj: dict[str, object]) -> Problems:
    has_lat = "latitude" in obj
    has_long = "longitude" in obj
    if has_lat != has_long:
        return problem("latitude and longitude must be given together (§4.10.1)")
    if "precision" in obj and not has_lat:
        return problem("precision requires latitude and longitude (§4.10.1)", "precision")
    if not has_lat and "region" not in obj and "country" not in obj:
        return problem("one of region, country, or latitude and longitude is required (§4.10.1)")
    return None


LOCATION = _sdo(
    "location",
    {
        **NAMED,
        "latitude": number(-90.0, 90.0),
        "longitude": number(-180.0, 180.0),
        "precision": number(0.0),
        "region": STRING,
        "country": STRING,
        "administrative_area": STRING,
        "city": STRING,
        "street_address": STRING,
        "postal_code": STRING,
    },
    rules=(_location,),
    vocabs={"region": REGION_OV},
)


# §4.11
def _malware(obj: dict[str, object]) -> Problems:
    if obj.get("is_family") is True and "name" not in obj:
        return problem("name is required when is_family is true (§4.11.1)", "name")
    return None


MALWARE = _sdo(
    "malware",
    {
        **NAMED,
        "malware_types": STRINGS,
        "is_family": BOOLEAN,
        "aliases": STRINGS,
        "kill_chain_phases": KILL_CHAIN_PHASES,
        **SEEN,
        "operating_system_refs": list_of(SOFTWARE_REF),
        "architecture_execution_envs": STRINGS,
        "implementation_languages": STRINGS,
        "capabilities": STRINGS,
        "sample_refs": list_of(identifier("file", "artifact")),
    },
    required=("is_family",),
    rules=(SEEN_ORDER, _malware),
    vocabs={
        "malware_types": MALWARE_TYPE_OV,
        "architecture_execution_envs": PROCESSOR_ARCHITECTURE_OV,
        "implementation_languages": IMPLEMENTATION_LANGUAGE_OV,
        "capabilities": MALWARE_CAPABILITIES_OV,
    },
)


# §4.12
def _malware_analysis(obj: dict[str, object]) -> Problems:
    if "result" not in obj and "analysis_sco_refs" not in obj:
        return problem("at least one of result and analysis_sco_refs is required (§4.12.1)")
    return None


MALWARE_ANALYSIS = _sdo(
    "malware-analysis",
    {
        "product": STRING,
        "version": STRING,
        "host_vm_ref": SOFTWARE_REF,
        "operating_system_ref": SOFTWARE_REF,
        "installed_software_refs": list_of(SOFTWARE_REF),
        "configuration_version": STRING,
        "modules": STRINGS,
        "analysis_engine_version": STRING,
        "analysis_definition_version": STRING,
        "submitted": TIMESTAMP,
        "analysis_started": TIMESTAMP,
        "analysis_ended": TIMESTAMP,
        "result_name": STRING,
        "result": STRING,
        "analysis_sco_refs": OBJECT_REFS,
        "sample_ref": identifier("file", "network-traffic", "artifact"),
    },
    required=("product",),
    rules=(_malware_analysis,),
    vocabs={"result": MALWARE_RESULT_OV},
)
# §4.13
NOTE = _sdo(
    "note",
    {"abstract": STRING, "content": STRING, "authors": STRINGS, "object_refs": OBJECT_REFS},
    required=("content", "object_refs"),
)


# §4.14 Observed Data; `objects` is the deprecated observable container (§2.13).
def _container(value: object) -> Problems:
    if type(value) is not dict:
        return problem(f"{show(value)} is not an observable container (a dictionary of SCOs)")
    if not value:
        return problem("empty observable container (§2.13)")
    out: list[Problem] = []
    for key, sco in value.items():
        if type(sco) is not dict:
            out.append((f".{key}", f"{show(sco)} is not a cyber-observable object"))
            continue
        kind = sco.get("type")
        spec = SCO_TYPES.get(kind) if type(kind) is str else None
        if spec is not None:
            found = check_props(sco, spec.spec, custom_property)
        elif type(kind) is not str:
            found = problem("required property is missing", ".type")
        elif not is_type_name(kind):
            found = problem(f"{kind!r} is not a valid object type name (§3.1)", ".type")
        else:
            found = None  # a custom SCO: nothing is known of its properties
        if found:
            out.extend((f".{key}{rel}", msg) for rel, msg in found)
    return out or None


# §4.14.1: object_refs of observed data point to SCOs and SROs, never to SDOs.
def _observed_refs(value: object) -> Problems:
    if type(value) is not list:
        return problem(f"{show(value)} is not a list of identifiers")
    if not value:
        return problem("empty list (§2.12: omit the property instead)")
    out: list[Problem] = []
    for i, ref in enumerate(value):
        found = IDENTIFIER(ref)
        if found is None:
            kind = ref[: ref.index("--")]
            if kind in SDO_TYPE_NAMES:
                found = problem(f"{ref!r} must reference an SCO or SRO, not an SDO (§4.14.1)")
        if found:
            out.extend((f"[{i}]{rel}", msg) for rel, msg in found)
    return out or None


def _observed_data(obj: dict[str, object]) -> Problems:
    if ("objects" in obj) == ("object_refs" in obj):
        return problem("exactly one of object_refs and objects is required (§4.14.1)")
    return None


OBSERVED_DATA = _sdo(
    "observed-data",
    {
        "first_observed": TIMESTAMP,
        "last_observed": TIMESTAMP,
        "number_observed": integer(1, 999_999_999),
        "objects": _container,
        "object_refs": _observed_refs,
    },
    required=("first_observed", "last_observed", "number_observed"),
    rules=(_observed_data, not_before("first_observed", "last_observed")),
)
# §4.15
OPINION = _sdo(
    "opinion",
    {
        "explanation": STRING,
        "authors": STRINGS,
        "opinion": enum(OPINION_ENUM, "opinion-enum"),
        "object_refs": OBJECT_REFS,
    },
    required=("opinion", "object_refs"),
)
# §4.16
REPORT = _sdo(
    "report",
    {**NAMED, "report_types": STRINGS, "published": TIMESTAMP, "object_refs": OBJECT_REFS},
    required=("name", "published", "object_refs"),
    vocabs={"report_types": REPORT_TYPE_OV},
)
# §4.17
THREAT_ACTOR = _sdo(
    "threat-actor",
    {
        **NAMED,
        "threat_actor_types": STRINGS,
        "aliases": STRINGS,
        **SEEN,
        "roles": STRINGS,
        "sophistication": STRING,
        "personal_motivations": STRINGS,
        **_MOTIVES,
    },
    required=("name",),
    rules=(SEEN_ORDER,),
    vocabs={
        "threat_actor_types": THREAT_ACTOR_TYPE_OV,
        "roles": THREAT_ACTOR_ROLE_OV,
        "sophistication": THREAT_ACTOR_SOPHISTICATION_OV,
        "personal_motivations": ATTACK_MOTIVATION_OV,
        **_MOTIVE_VOCABS,
    },
)
# §4.18
TOOL = _sdo(
    "tool",
    {
        **NAMED,
        "tool_types": STRINGS,
        "aliases": STRINGS,
        "kill_chain_phases": KILL_CHAIN_PHASES,
        "tool_version": STRING,
    },
    required=("name",),
    vocabs={"tool_types": TOOL_TYPE_OV},
)
# §4.19
VULNERABILITY = _sdo("vulnerability", dict(NAMED), required=("name",))

SDO_TYPES: dict[str, TypeSpec] = {
    "attack-pattern": ATTACK_PATTERN,
    "campaign": CAMPAIGN,
    "course-of-action": COURSE_OF_ACTION,
    "grouping": GROUPING,
    "identity": IDENTITY,
    "incident": INCIDENT,
    "indicator": INDICATOR,
    "infrastructure": INFRASTRUCTURE,
    "intrusion-set": INTRUSION_SET,
    "location": LOCATION,
    "malware": MALWARE,
    "malware-analysis": MALWARE_ANALYSIS,
    "note": NOTE,
    "observed-data": OBSERVED_DATA,
    "opinion": OPINION,
    "report": REPORT,
    "threat-actor": THREAT_ACTOR,
    "tool": TOOL,
    "vulnerability": VULNERABILITY,
}

# §5.1 Relationship: source and target are SDOs or SCOs (or custom objects), never SROs or
# meta objects.
_NOT_LINKABLE = (
    "relationship",
    "sighting",
    "bundle",
    "marking-definition",
    "language-content",
    "extension-definition",
)
_LINK_REF = identifier(forbid=_NOT_LINKABLE, what="an SDO or SCO (§5.1.2)")
_RELATIONSHIP_TYPE_RE = re.compile(r"[a-z0-9-]+")


def _relationship_type(value: object) -> Problems:
    if type(value) is not str:
        return problem(f"{show(value)} is not a string")
    if _RELATIONSHIP_TYPE_RE.fullmatch(value) is None:
        return problem(f"{show(value)} must be lowercase a-z, 0-9 and hyphens (§5.1.2)")
    return None


RELATIONSHIP = TypeSpec(
    "sro",
    sdo_spec(
        "relationship",
        {
            "relationship_type": _relationship_type,
            "description": STRING,
            "source_ref": _LINK_REF,
            "target_ref": _LINK_REF,
            "start_time": TIMESTAMP,
            "stop_time": TIMESTAMP,
        },
        required=("relationship_type", "source_ref", "target_ref"),
        # §5.1.2: "stop_time MUST be later than the start_time".
        rules=(not_before("start_time", "stop_time", strictly=True),),
    ),
)
# §5.2 Sighting
SIGHTING = TypeSpec(
    "sro",
    sdo_spec(
        "sighting",
        {
            "description": STRING,
            **SEEN,
            "count": integer(0, 999_999_999),
            "sighting_of_ref": identifier(forbid=_NOT_LINKABLE, what="an SDO (§5.2.1)"),
            "observed_data_refs": list_of(identifier("observed-data")),
            "where_sighted_refs": list_of(identifier("identity", "location")),
            "summary": BOOLEAN,
        },
        required=("sighting_of_ref",),
        rules=(SEEN_ORDER,),
    ),
)

SRO_TYPES: dict[str, TypeSpec] = {"relationship": RELATIONSHIP, "sighting": SIGHTING}
