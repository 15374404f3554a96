"""Validation of STIX 2.1 objects, on every write: `validate` (errors) and `lint` (warnings).

`validate` rejects what STIX 2.1 forbids, matching the OASIS stix2-validator in its default
(non-strict) mode; `lint` reports what only its strict mode or best practice objects to:
custom content without extensions, open-vocabulary values outside the vocabulary, UUID
versions, deprecated constructs.

Accepted inputs:
- one STIX object (a dict);
- a bundle (§8): its own properties, then each of its `objects`, messages prefixed
  `objects[i].`;
- a JSON list of objects: each validated, messages prefixed `[i].`.

Every message names the property path and what is wrong, e.g.
"external_references[0].url: ' http://x' is not a valid URL (RFC 3986)".

The rules are tables (`thiqa.stix.sdos`, `.scos`, `.extensions`, `.meta`, over `.common`);
section numbers (§) refer to STIX Version 2.1 Errata 01 (OASIS, 2025).

Where thiqa differs from the OASIS validator's default mode:
- STIX 2.0 content (an SDO, SRO or meta object whose `spec_version` is "2.0" or absent) is
  rejected: thiqa stores STIX 2.1;
- a custom property name must be 3-250 characters of a-z, 0-9 and '_' as a whole (§3.1);
  the OASIS schema only anchors the start of the name;
- the object paths of a pattern follow these naming rules too (`thiqa.stix.pattern_names`),
  so `file:_abc` and `x-foo-:name` are refused and `file:id` is accepted, unlike the OASIS
  validator's pattern check;
- URLs may carry non-ASCII characters (RFC 3987 IRIs), and TLSH hashes their "T1" version
  prefix.
"""

from __future__ import annotations

from functools import lru_cache

from thiqa.stix.common import custom_property, sco_spec, sdo_spec
from thiqa.stix.formats import ID_RE, TYPE_NAME_RULE, is_type_name, uuid_version
from thiqa.stix.lint import bundle_warnings, object_warnings
from thiqa.stix.meta import META_TYPES
from thiqa.stix.properties import (
    Problem,
    Problems,
    Spec,
    TypeSpec,
    check_props,
    identifier,
    problem,
    show,
)
from thiqa.stix.scos import SCO_TYPES
from thiqa.stix.sdos import SDO_TYPES, SRO_TYPES

__all__ = ["TYPES", "lint", "validate"]

TYPES: dict[str, TypeSpec] = {**SDO_TYPES, **SRO_TYPES, **SCO_TYPES, **META_TYPES}

_BUNDLE_ID = identifier("bundle")


def validate(obj: object) -> list[str]:
    """Errors that make `obj` invalid STIX 2.1 (empty list = valid). Each message names the
    property (path) and what is wrong, e.g.
    "external_references[0].url: ' http://..' is not a valid URL"."""
    if type(obj) is dict:
        found = _bundle(obj) if obj.get("type") == "bundle" else _object(obj)
        return _render(found) if found else []
    return _render(_problems(obj))


def _problems(obj: object) -> list[Problem]:
    if type(obj) is dict:
        return (_bundle(obj) if obj.get("type") == "bundle" else _object(obj)) or []
    if type(obj) is list:
        out: list[Problem] = []
        for i, item in enumerate(obj):
            out.extend(_nest(f"[{i}]", _problems(item)))
        return out
    return problem(f"{show(obj)} is not a STIX object (a JSON object)")


def _nest(prefix: str, found: list[Problem]) -> list[Problem]:
    return [
        (prefix + "." + path.lstrip(".") if path else prefix, message) for path, message in found
    ]


def lint(obj: object) -> list[str]:
    """Warnings: things only the OASIS validator's strict mode or best practice objects to (may
    be empty)."""
    return _render(_warnings(obj))


def _warnings(obj: object) -> list[Problem]:
    if type(obj) is list:
        out: list[Problem] = []
        for i, item in enumerate(obj):
            out.extend(_nest(f"[{i}]", _warnings(item)))
        return out
    if type(obj) is not dict:
        return []
    if obj.get("type") != "bundle":
        return _object_warnings(obj)
    out = bundle_warnings(obj)
    objects = obj.get("objects")
    if type(objects) is list:
        for i, item in enumerate(objects):
            if type(item) is dict:
                out.extend(_nest(f"objects[{i}]", _object_warnings(item)))
    return out


def _object_warnings(obj: dict[str, object]) -> list[Problem]:
    kind = obj.get("type")
    spec = TYPES.get(kind) if type(kind) is str else None
    return object_warnings(obj, spec)


def _render(found: list[Problem]) -> list[str]:
    out = []
    for path, message in found:
        path = path.lstrip(".")
        out.append(f"{path}: {message}" if path else message)
    return out


def _object(obj: dict[str, object]) -> Problems:
    kind = obj.get("type")
    if type(kind) is not str:
        return problem(
            "required property is missing" if kind is None else f"{show(kind)} is not a string",
            "type",
        )
    spec = TYPES.get(kind)
    if spec is None:
        return _custom_object(obj, kind)
    found = check_props(obj, spec.spec, custom_property)
    if "id" not in obj:
        found = (found or []) + problem("required property is missing", "id")
    elif spec.kind == "sco":
        found = _sco_uuid(obj, spec, obj["id"], found)
    return found


def _sco_uuid(obj: dict[str, object], spec: TypeSpec, ident: object, found: Problems) -> Problems:
    # §2.9: "If the contributing properties are all optional, and none are present on the SCO,
    # then a UUIDv4 MUST be used."
    if type(ident) is str and ID_RE.fullmatch(ident) and uuid_version(ident) != "4":
        for name in spec.id_props:
            if name in obj:
                return found
        return (found or []) + problem(
            f"{ident!r}: no ID contributing property is present, so the UUID must be"
            " version 4 (§2.9)",
            "id",
        )
    return found


def _custom_object(obj: dict[str, object], kind: str) -> Problems:
    """§11.2 custom objects (deprecated) and §7.3 extension-defined objects."""
    if kind == "bundle":
        return problem("a bundle cannot contain a bundle (§8)", "type")
    out: list[Problem] = []
    # §3.8: `action` is reserved.
    if kind == "action":
        out.append(("type", "'action' is a reserved object type name (§3.8)"))
    elif not is_type_name(kind):
        out.append(("type", f"{kind!r} is not a valid type name: {TYPE_NAME_RULE}"))
    found = check_props(obj, _custom_spec(kind, _is_new_sco(obj)), custom_property)
    if found:
        out.extend(found)
    if "id" not in obj:
        out.append(("id", "required property is missing"))
    return out or None


def _is_new_sco(obj: dict[str, object]) -> bool:
    """A custom object is an SCO when its extension says so (§7.3 `new-sco`)."""
    extensions = obj.get("extensions")
    if type(extensions) is dict:
        for ext in extensions.values():
            if type(ext) is dict and ext.get("extension_type") == "new-sco":
                return True
    return False


@lru_cache(maxsize=256)
def _custom_spec(kind: str, sco: bool) -> Spec:
    return sco_spec(kind, {}) if sco else sdo_spec(kind, {})


def _bundle(obj: dict[str, object]) -> list[Problem]:
    """§8: a bundle has an id, optionally objects, and no other specified properties."""
    out: list[Problem] = []
    if "id" not in obj:
        out.append(("id", "required property is missing"))
    for name, value in obj.items():
        if name == "id":
            found = _BUNDLE_ID(value)
        elif name == "objects":
            found = _bundle_objects(value)
        elif name == "type":
            continue
        else:
            found = custom_property(name, value)
        if found:
            out.extend((name + path, message) for path, message in found)
    return out


def _bundle_objects(objects: object) -> Problems:
    if type(objects) is not list:
        return problem(f"{show(objects)} is not a list of STIX objects")
    if not objects:
        return problem("empty list (§2.12: omit the property instead)")
    out: list[Problem] = []
    for i, item in enumerate(objects):
        if type(item) is not dict:
            out.append((f"[{i}]", f"{show(item)} is not a STIX object"))
            continue
        found = _object(item)
        if found:
            out.extend(_nest(f"[{i}]", found))
    return out or None
