"""Warnings for valid STIX 2.1 objects: what the OASIS validator's strict mode or best practice
objects to, but STIX 2.1 allows. Never on the write path; `thiqa.stix.validate.lint` is the
entry point.
"""

from __future__ import annotations

import re

from thiqa.stix.formats import ID_RE, uuid_version
from thiqa.stix.meta import TLP_1_MARKINGS, TLP_2_MARKINGS
from thiqa.stix.properties import Problem, TypeSpec, show
from thiqa.stix.vocab import HASH_ALGORITHM_OV, WINDOWS_PEBINARY_TYPE_OV

__all__ = ["bundle_warnings", "object_warnings"]

_NEW_TYPE_EXTENSIONS = frozenset({"new-sdo", "new-sco", "new-sro"})
_TLP_IDS = frozenset(TLP_1_MARKINGS) | frozenset(TLP_2_MARKINGS)
_LOWER_HYPHENATED_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_COUNTRY_RE = re.compile(r"[A-Za-z]{2}")
_MIME_RE = re.compile(
    r"(?:application|audio|font|image|message|model|multipart|text|video)/[A-Za-z0-9.+_-]+"
    r"(?:\s*;.*)?"
)


def object_warnings(obj: dict[str, object], spec: TypeSpec | None) -> list[Problem]:
    """Warnings for one object; `spec` is its type's table, None for a custom object type."""
    out: list[Problem] = []
    kind = obj.get("type")
    extension_types = _extension_types(obj)
    if spec is None:
        if not extension_types & _NEW_TYPE_EXTENSIONS:
            out.append(
                (
                    "type",
                    f"custom object type {kind!r} is not defined by an extension-definition"
                    " (new-sdo, new-sco or new-sro, §7.3); custom objects are deprecated (§11.2)",
                )
            )
    else:
        out.extend(_custom_properties(obj, spec, extension_types))
        out.extend(_vocabularies(obj, spec))
        if spec.kind == "sco":
            out.extend(_sco_refs(obj, spec))
    out.extend(_identifiers(obj, spec))
    out.extend(_hashes(obj))
    out.extend(_embedded(obj))
    out.extend(_markings(obj))
    if spec is not None:
        out.extend(_extensions(obj, spec))
    if kind == "observed-data" and "objects" in obj:
        out.append(("objects", "the observable container is deprecated; use object_refs (§2.13)"))
    if kind == "extension-definition":
        if "description" not in obj:
            out.append(("description", "should be present (§7.3.1)"))
        types = obj.get("extension_types")
        if (
            type(types) is list
            and "toplevel-property-extension" in types
            and "extension_properties" not in obj
        ):
            out.append(("extension_properties", "should list the top-level properties (§7.3.1)"))
    if kind == "location":
        country = obj.get("country")
        if type(country) is str and _COUNTRY_RE.fullmatch(country) is None:
            out.append(("country", f"{country!r} should be an ISO 3166-1 alpha-2 code (§4.10.1)"))
    if kind == "file":
        mime_type = obj.get("mime_type")
        if type(mime_type) is str and _MIME_RE.fullmatch(mime_type) is None:
            out.append(("mime_type", f"{mime_type!r} should be an IANA media type (§6.7.1)"))
    if kind == "marking-definition":
        definition_type = obj.get("definition_type")
        if definition_type is not None and definition_type not in ("statement", "tlp"):
            out.append(
                (
                    "definition_type",
                    f"{show(definition_type)}: custom marking definitions should use an"
                    " extension (§7.2.1)",
                )
            )
    return out


def bundle_warnings(bundle: dict[str, object]) -> list[Problem]:
    """Warnings for a bundle's own properties and for versions it repeats."""
    out: list[Problem] = [
        (name, "custom property on a bundle (§8.1 defines none)")
        for name in bundle
        if name not in ("type", "id", "objects")
    ]
    ident = bundle.get("id")
    if type(ident) is str and ID_RE.fullmatch(ident) and uuid_version(ident) != "4":
        out.append(("id", "bundle ids should use UUIDv4 (§2.9)"))
    objects = bundle.get("objects")
    if type(objects) is list:
        seen: set[tuple[object, object]] = set()
        for i, item in enumerate(objects):
            if type(item) is dict and "modified" in item:
                version = (item.get("id"), item.get("modified"))
                if version in seen:
                    out.append((f"objects[{i}]", "repeats an object version (same id, modified)"))
                seen.add(version)
    return out


def _extension_types(obj: dict[str, object]) -> set[str]:
    extensions = obj.get("extensions")
    found: set[str] = set()
    if type(extensions) is dict:
        for ext in extensions.values():
            if type(ext) is dict and type(ext.get("extension_type")) is str:
                found.add(ext["extension_type"])
    return found


def _custom_properties(
    obj: dict[str, object], spec: TypeSpec, extension_types: set[str]
) -> list[Problem]:
    if "toplevel-property-extension" in extension_types:
        return []  # §7.3: top-level extension properties are declared by the extension
    out: list[Problem] = []
    for name in obj:
        if name in spec.spec.props:
            continue
        out.append(
            (
                name,
                "custom property: define it with a property extension (§7.3); custom"
                " properties are deprecated (§11.1)",
            )
        )
        if not name.startswith("x_"):
            out.append((name, "custom property names should start with 'x_' (§11.1)"))
    return out


def _vocabularies(obj: dict[str, object], spec: TypeSpec) -> list[Problem]:
    out: list[Problem] = []
    for name, vocabulary in spec.vocabs.items():
        value = obj.get(name)
        values = value if type(value) is list else [value] if type(value) is str else []
        for term in values:
            if type(term) is str and term not in vocabulary:
                out.append((name, f"{term!r} is not in the suggested vocabulary (§2.14)"))
    return out


def _sco_refs(obj: dict[str, object], spec: TypeSpec) -> list[Problem]:
    out: list[Problem] = []
    for name, value in obj.items():
        if not (name.endswith("_ref") or name.endswith("_refs")) or name not in spec.spec.props:
            continue
        values = value if type(value) is list else [value]
        for ref in values:
            if type(ref) is str and ID_RE.fullmatch(ref) is None:
                out.append((name, f"{ref!r} is not a well-formed identifier (§2.9)"))
    return out


def _identifiers(obj: dict[str, object], spec: TypeSpec | None) -> list[Problem]:
    out: list[Problem] = []
    ident = obj.get("id")
    if type(ident) is str and ID_RE.fullmatch(ident) is not None:
        version = uuid_version(ident)
        if spec is not None and spec.kind == "sco":
            if version != "5" and any(name in obj for name in spec.id_props):
                out.append(
                    ("id", "SCO ids should be UUIDv5 from the ID contributing properties (§2.9)")
                )
        elif version != "4" and obj.get("type") not in ("marking-definition",):
            out.append(("id", "SDO, SRO and meta object ids should use UUIDv4 (§2.9)"))
    creator = obj.get("created_by_ref")
    if type(creator) is str and not creator.startswith("identity--"):
        out.append(("created_by_ref", f"{creator!r} should reference an identity (§3.2)"))
    return out


def _hashes(obj: dict[str, object]) -> list[Problem]:
    out: list[Problem] = []
    hashes = obj.get("hashes")
    if type(hashes) is dict:
        for key in hashes:
            if key not in HASH_ALGORITHM_OV:
                out.append(("hashes", f"{key!r} is not in hash-algorithm-ov (§10.7)"))
    refs = obj.get("external_references")
    if type(refs) is list:
        for i, ref in enumerate(refs):
            if type(ref) is dict and "url" in ref and "hashes" not in ref:
                out.append((f"external_references[{i}]", "hashes should accompany url (§2.5.1)"))
    phases = obj.get("kill_chain_phases")
    if type(phases) is list:
        for i, phase in enumerate(phases):
            if type(phase) is not dict:
                continue
            for key in ("kill_chain_name", "phase_name"):
                value = phase.get(key)
                if type(value) is str and _LOWER_HYPHENATED_RE.fullmatch(value) is None:
                    out.append((f"kill_chain_phases[{i}].{key}", "should be lowercase-hyphenated"))
    return out


def _embedded(obj: dict[str, object]) -> list[Problem]:
    """Hash names anywhere below the top level (extensions, alternate data streams, ...)."""
    out: list[Problem] = []
    stack: list[tuple[str, object]] = [
        (name, value) for name, value in obj.items() if name != "hashes"
    ]
    while stack:
        path, value = stack.pop()
        if type(value) is dict:
            for key, item in value.items():
                if key.endswith("hashes") and type(item) is dict:
                    out.extend(
                        (f"{path}.{key}", f"{name!r} is not in hash-algorithm-ov (§10.7)")
                        for name in item
                        if name not in HASH_ALGORITHM_OV
                    )
                else:
                    stack.append((f"{path}.{key}", item))
        elif type(value) is list:
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
    return out


def _extensions(obj: dict[str, object], spec: TypeSpec) -> list[Problem]:
    extensions = obj.get("extensions")
    if type(extensions) is not dict:
        return []
    out: list[Problem] = []
    for name, ext in extensions.items():
        if name.endswith("-ext") and name not in spec.extensions:
            out.append(
                (
                    f"extensions.{name}",
                    "not a predefined extension: define it with an extension-definition (§7.3);"
                    " custom extensions are deprecated (§11.3)",
                )
            )
        if type(ext) is not dict:
            continue
        known = spec.extensions.get(name)
        if known is not None:
            out.extend(
                (f"extensions.{name}.{key}", "property not defined by the extension (§11.3)")
                for key in ext
                if key not in known.props
            )
        if name == "windows-pebinary-ext":
            pe_type = ext.get("pe_type")
            if type(pe_type) is str and pe_type not in WINDOWS_PEBINARY_TYPE_OV:
                out.append(
                    (f"extensions.{name}.pe_type", f"{pe_type!r} is not in windows-pebinary-ov")
                )
        if name == "windows-process-ext":
            priority = ext.get("priority")
            if type(priority) is str and not priority.endswith("_CLASS"):
                out.append((f"extensions.{name}.priority", "should end in '_CLASS' (§6.13.2)"))
    return out


def _markings(obj: dict[str, object]) -> list[Problem]:
    refs = obj.get("object_marking_refs")
    if type(refs) is list and sum(1 for ref in refs if ref in _TLP_IDS) > 1:
        return [("object_marking_refs", "more than one TLP marking (§7.2.1.4)")]
    return []
