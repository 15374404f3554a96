"""Property checks: the building blocks of the per-type property tables.

A `Check` takes a property value and returns None when the value is valid, else a list of
problems: `(path, message)` pairs whose path is relative to the checked value ("" for the
value itself, "[2]" or ".url" or "[0].url" below it). Paths are only built when something is
wrong, so the valid path costs one call and one comparison per property.

A `Rule` is an object-level constraint (co-occurrence, ordering of timestamps, ...): it takes
the whole object and returns problems with paths relative to the object ("name" or "").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from thiqa.stix.formats import (
    is_base64,
    is_hex,
    is_identifier,
    is_language_tag,
    is_url,
    timestamp_error,
    timestamp_has_millis,
)
from thiqa.stix.vocab import HASH_ALGORITHM_OV

__all__ = [
    "BINARY",
    "BOOLEAN",
    "FLOAT",
    "HEX",
    "IDENTIFIER",
    "INTEGER",
    "LANG",
    "STRING",
    "STRINGS",
    "TIMESTAMP",
    "TIMESTAMP_MILLIS",
    "URL",
    "Check",
    "Problem",
    "Problems",
    "Rule",
    "Spec",
    "TypeSpec",
    "dictionary",
    "enum",
    "formatted",
    "hashes",
    "identifier",
    "integer",
    "list_of",
    "nested",
    "number",
    "problem",
    "show",
]

Problem = tuple[str, str]
Problems = list[Problem] | None
Check = Callable[[object], Problems]
Rule = Callable[[dict[str, object]], Problems]


def show(value: object) -> str:
    """A short rendering of a value for messages."""
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def problem(message: str, path: str = "") -> list[Problem]:
    return [(path, message)]


def _not_a(value: object, what: str) -> list[Problem]:
    if value is None:
        return problem("null is not allowed; omit the property instead")
    return problem(f"{show(value)} is not {what}")


@dataclass(frozen=True, slots=True)
class Spec:
    """The property table of an object or of an embedded type (e.g. external-reference)."""

    props: Mapping[str, Check]
    required: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """The table of one STIX object type.

    kind: "sdo", "sro", "sco" or "meta" (which common properties apply, §3.2).
    vocabs: open-vocabulary properties, only looked at by `lint` (§2.14).
    id_props: SCO ID contributing properties (§2.9, §6): if none is present the id must be
        a UUIDv4.
    extensions: predefined extensions of this type, by name (§3.10).
    """

    kind: str
    spec: Spec
    vocabs: Mapping[str, frozenset[str]] = field(default_factory=dict)
    id_props: tuple[str, ...] = ()
    extensions: Mapping[str, Spec] = field(default_factory=dict)


def check_props(
    value: dict[str, object], spec: Spec, unknown: Callable[[str, object], Problems] | None
) -> Problems:
    """Check `value` against `spec`; `unknown` checks properties the table does not define."""
    out: list[Problem] | None = None
    props = spec.props
    for name, item in value.items():
        check = props.get(name)
        if check is not None:
            found = check(item)
        elif unknown is not None:
            found = unknown(name, item)
        else:
            continue
        if found:
            if out is None:
                out = []
            out.extend(("." + name + rel, msg) for rel, msg in found)
    for name in spec.required:
        if name not in value:
            if out is None:
                out = []
            out.append(("." + name, "required property is missing"))
    for rule in spec.rules:
        found = rule(value)
        if found:
            if out is None:
                out = []
            out.extend(("." + rel if rel else "", msg) for rel, msg in found)
    return out


def nested(spec: Spec, what: str = "an object") -> Check:
    """An embedded object (§2.5 external-reference, §2.11 kill-chain-phase, ...).

    Properties it does not define are tolerated (the OASIS validator only objects to them in
    strict mode); `lint` reports those found in predefined extensions.
    """

    def check(value: object) -> Problems:
        if type(value) is not dict:
            return _not_a(value, what)
        return check_props(value, spec, None)

    return check


def list_of(item: Check, what: str = "a list") -> Check:
    """§2.12: a non-empty list whose items all pass `item`."""

    def check(value: object) -> Problems:
        if type(value) is not list:
            return _not_a(value, what)
        if not value:
            return problem("empty list (§2.12: omit the property instead)")
        out: list[Problem] | None = None
        for i, entry in enumerate(value):
            found = item(entry)
            if found:
                if out is None:
                    out = []
                out.extend((f"[{i}]{rel}", msg) for rel, msg in found)
        return out

    return check


def _string(value: object) -> Problems:
    return None if type(value) is str else _not_a(value, "a string")


def _strings(value: object) -> Problems:
    if type(value) is not list:
        return _not_a(value, "a list of strings")
    if not value:
        return problem("empty list (§2.12: omit the property instead)")
    for i, entry in enumerate(value):
        if type(entry) is not str:
            return [(f"[{i}]", msg) for _, msg in _not_a(entry, "a string")]
    return None


def _boolean(value: object) -> Problems:
    return None if type(value) is bool else _not_a(value, "a boolean (true or false)")


# §2.10: integers are signed 54-bit values unless a property says otherwise.
_INT_MAX = 2**53 - 1


def integer(low: int = -_INT_MAX, high: int = _INT_MAX) -> Check:
    """§2.10: a JSON integer (not a boolean), optionally bounded further."""

    def check(value: object) -> Problems:
        # 5.0 is the JSON number 5, an integer.
        if type(value) is not int and not (type(value) is float and value.is_integer()):
            return _not_a(value, "an integer")
        if value < low:
            return problem(f"{value} is less than the minimum {low}")
        if value > high:
            return problem(f"{value} is greater than the maximum {high}")
        return None

    return check


def number(low: float | None = None, high: float | None = None) -> Check:
    """§2.6: a JSON number (not a boolean, not NaN/infinite), optionally bounded."""

    def check(value: object) -> Problems:
        if type(value) is not int and type(value) is not float:
            return _not_a(value, "a number")
        if not math.isfinite(value):
            return problem(f"{value} is not a finite number")
        if low is not None and value < low:
            return problem(f"{value} is less than the minimum {low}")
        if high is not None and value > high:
            return problem(f"{value} is greater than the maximum {high}")
        return None

    return check


def enum(values: Collection[str], name: str) -> Check:
    """§2.4: one of a closed set of strings."""
    allowed = frozenset(values)

    def check(value: object) -> Problems:
        if type(value) is not str:
            return _not_a(value, "a string")
        if value not in allowed:
            return problem(f"{show(value)} is not a value of {name}: {', '.join(sorted(allowed))}")
        return None

    return check


def _timestamp(value: object) -> Problems:
    if type(value) is not str:
        return _not_a(value, "a timestamp string")
    error = timestamp_error(value)
    return None if error is None else problem(error)


def _timestamp_millis(value: object) -> Problems:
    if type(value) is not str:
        return _not_a(value, "a timestamp string")
    error = timestamp_error(value)
    if error is not None:
        return problem(error)
    if not timestamp_has_millis(value):
        return problem(f"{show(value)} must be precise to at least the millisecond (§3.2)")
    return None


def _identifier(value: object) -> Problems:
    if type(value) is not str:
        return _not_a(value, "an identifier string")
    if not is_identifier(value):
        return problem(
            f"{show(value)} is not a valid identifier: object-type--UUID with an RFC 4122 UUID"
            " (§2.9)"
        )
    return None


def identifier(*types: str, forbid: Collection[str] = (), what: str = "") -> Check:
    """§2.9 identifier, optionally restricted to the types it may reference."""
    allowed = frozenset(types)
    forbidden = frozenset(forbid)
    target = what or " or ".join(types)

    def check(value: object) -> Problems:
        if type(value) is not str:
            return _not_a(value, "an identifier string")
        if not is_identifier(value):
            return _identifier(value)
        kind = value[: value.index("--")]
        if (allowed and kind not in allowed) or kind in forbidden:
            return problem(f"{show(value)} must reference {target}")
        return None

    return check


def formatted(predicate: Callable[[str], bool], what: str) -> Check:
    """A string for which `predicate` holds; `what` names the format in messages."""

    def check(value: object) -> Problems:
        if type(value) is not str:
            return _not_a(value, "a string")
        if not predicate(value):
            return problem(f"{show(value)} is not {what}")
        return None

    return check


def _url(value: object) -> Problems:
    if type(value) is not str:
        return _not_a(value, "a URL string")
    if not is_url(value):
        return problem(f"{show(value)} is not a valid URL (RFC 3986)")
    return None


def _hex(value: object) -> Problems:
    if type(value) is not str:
        return _not_a(value, "a hex string")
    if not is_hex(value):
        return problem(f"{show(value)} is not an even number of hexadecimal digits (§2.8)")
    return None


def _binary(value: object) -> Problems:
    if type(value) is not str:
        return _not_a(value, "a base64 string")
    if not is_base64(value):
        return problem(f"{show(value)} is not base64-encoded binary (§2.1)")
    return None


def _lang(value: object) -> Problems:
    if type(value) is not str:
        return _not_a(value, "a language tag string")
    if not is_language_tag(value):
        return problem(f"{show(value)} is not an RFC 5646 language tag")
    return None


STRING: Check = _string
STRINGS: Check = _strings
BOOLEAN: Check = _boolean
INTEGER: Check = integer()
FLOAT: Check = number()
TIMESTAMP: Check = _timestamp
TIMESTAMP_MILLIS: Check = _timestamp_millis
IDENTIFIER: Check = _identifier
URL: Check = _url
HEX: Check = _hex
BINARY: Check = _binary
LANG: Check = _lang

# §2.3: dictionary keys are ASCII letters, digits, hyphen and underscore, at most 250 long.
_DICT_KEY_RE = re.compile(r"[a-zA-Z0-9_-]{0,250}")


def dictionary(values: Check | None = None, keys: Check | None = None) -> Check:
    """§2.3 dictionary: a non-empty object with well-formed keys and non-null values."""

    def check(value: object) -> Problems:
        if type(value) is not dict:
            return _not_a(value, "a dictionary")
        if not value:
            return problem("empty dictionary (§2.3: omit the property instead)")
        out: list[Problem] | None = None
        for key, item in value.items():
            if _DICT_KEY_RE.fullmatch(key) is None:
                found: Problems = problem(
                    f"dictionary key {show(key)} must be at most 250 ASCII letters, digits, '-'"
                    " or '_' (§2.3)"
                )
            elif keys is not None and (found := keys(key)):
                pass
            elif item is None:
                found = problem("null is not allowed as a dictionary value (§2.3)")
            elif values is not None:
                found = values(item)
            else:
                found = None
            if found:
                if out is None:
                    out = []
                out.extend((f".{key}{rel}", msg) for rel, msg in found)
        return out

    return check


# §2.7 / §10.7: the formats of the hash values named in hash-algorithm-ov.
_HASH_FORMATS = {
    "MD5": re.compile(r"[a-fA-F0-9]{32}"),
    "SHA-1": re.compile(r"[a-fA-F0-9]{40}"),
    "SHA-256": re.compile(r"[a-fA-F0-9]{64}"),
    "SHA-512": re.compile(r"[a-fA-F0-9]{128}"),
    "SHA3-256": re.compile(r"[a-fA-F0-9]{64}"),
    "SHA3-512": re.compile(r"[a-fA-F0-9]{128}"),
    "SSDEEP": re.compile(r"[a-zA-Z0-9/+:.]{1,128}"),
    # 70 hex digits; TLSH 4 prefixes the digest with its version, "T1".
    "TLSH": re.compile(r"[a-zA-Z0-9]{70}|T1[a-fA-F0-9]{70}"),
}
# §2.7: other hash names are 3-250 ASCII letters, digits, '-' or '_'.
_HASH_KEY_RE = re.compile(r"[a-zA-Z0-9_-]{3,250}")


def hashes(vocabulary_only: bool = False) -> Check:
    """§2.7 hashes; `vocabulary_only` for external references, whose keys MUST come from
    hash-algorithm-ov (§2.5.1)."""

    def check(value: object) -> Problems:
        if type(value) is not dict:
            return _not_a(value, "a hashes dictionary")
        if not value:
            return problem("empty hashes dictionary (§2.7)")
        out: list[Problem] | None = None
        for key, digest in value.items():
            fmt = _HASH_FORMATS.get(key)
            found: Problems = None
            if type(digest) is not str:
                found = _not_a(digest, "a string")
            elif fmt is not None:
                if fmt.fullmatch(digest) is None:
                    found = problem(f"{show(digest)} is not a valid {key} value")
            elif vocabulary_only and key not in HASH_ALGORITHM_OV:
                found = problem(f"hash name {show(key)} is not from hash-algorithm-ov (§2.5.1)")
            elif _HASH_KEY_RE.fullmatch(key) is None:
                found = problem(
                    f"hash name {show(key)} must be 3-250 ASCII letters, digits, '-' or '_' (§2.7)"
                )
            if found:
                if out is None:
                    out = []
                out.extend((f".{key}{rel}", msg) for rel, msg in found)
        return out

    return check
