"""The §3.1 naming rules applied to the object paths of a STIX pattern.

An object path starts with an object type and a property name (§9, "Object Path Syntax":
``object-type:property[.key|[index]]…``). The grammar lets both be almost any identifier
(``ab:yz``, ``File:Name``); the OASIS validator additionally holds them to the §3.1 naming
rules. ``stix2patterns``, which ``thiqa.stix.patterns`` matches exactly, does not apply them,
so they are this separate step, run on the names the parser found
(``thiqa.stix.patterns.path_names``: the pattern is parsed once):

- a property the specification defines for the type is valid as it is: one in the table of
  a STIX 2.1 SCO type (§6), or a property common to all SCOs (§3.2) on any type. This only
  matters for ``id``, shorter than three characters; the OASIS validator rejects ``file:id``
  (its lists of SCO properties lack ``id``) although its own schemas allow the name;
- any other object type is a custom one and must be a valid type name, any other top-level
  property a valid property name: the rules custom objects and properties follow elsewhere
  (``is_type_name``, ``is_property_name``, §11). As there, they are a little stricter than
  the OASIS validator's pattern check: a property name starts with a letter (not ``_`` or
  a digit) and a type name does not end with a hyphen;
- later steps are not names of this object: dictionary keys (``hashes.'SHA-256'``,
  ``extensions.'x-acme-ext'``), list indexes, or properties of a referenced object or of an
  extension. As in the OASIS validator, they are not checked.

The common case costs a dictionary lookup and a set lookup per comparison.
"""

from __future__ import annotations

from collections.abc import Iterable

from thiqa.stix.common import sco_spec
from thiqa.stix.formats import (
    PROPERTY_NAME_RULE,
    TYPE_NAME_RULE,
    is_property_name,
    is_type_name,
)
from thiqa.stix.properties import Problem, Problems, show
from thiqa.stix.scos import SCO_TYPES

__all__ = ["path_name_problems"]

# The properties each SCO type defines (`extensions` included), and those every SCO has.
_DEFINED: dict[str, frozenset[str]] = {
    kind: frozenset(spec.spec.props) for kind, spec in SCO_TYPES.items()
}
_SCO_COMMON = frozenset(sco_spec("x-custom", {}).props)


def path_name_problems(names: Iterable[tuple[str, str]], path: str = "pattern") -> Problems:
    """What breaks the naming rules among the (object type, top-level property) `names` of a
    pattern's object paths (None: nothing).

    Each message names the offending type or property and the object path it is in; `path` is
    the property the pattern came from.
    """
    out: list[Problem] | None = None
    for kind, name in names:
        defined = _DEFINED.get(kind)
        if defined is None:
            if not is_type_name(kind):
                out = _add(
                    out,
                    path,
                    f"object type {show(kind)} (in object path {_where(kind, name)}) is not a"
                    f" valid type name: {TYPE_NAME_RULE}",
                )
            defined = _SCO_COMMON
        if name not in defined and not is_property_name(name):
            out = _add(
                out,
                path,
                f"property {show(name)} (in object path {_where(kind, name)}) is not a valid"
                f" property name: {PROPERTY_NAME_RULE}",
            )
    return out


def _where(kind: str, name: str) -> str:
    text = repr(f"{kind}:{name}")
    return text if len(text) <= 80 else text[:77] + "..."


def _add(out: list[Problem] | None, path: str, message: str) -> list[Problem]:
    # A name repeated in several comparisons is reported once.
    found = (path, message)
    if out is None:
        return [found]
    if found not in out:
        out.append(found)
    return out
