"""Observables of a stored object version: from cyber-observable objects and from STIX
indicator patterns (docs/correlation.md lists every source).

An indicator contributes every *positive, indexable* comparison of its pattern, under
any AND, OR or observation operator: correlation asks "does any indicator mention
this value?", it does not evaluate whole patterns (the abuse.ch IP:port indicators
must match an observed IP without its port). Indexable are (STIX 2.1 §9.5):

- ``=`` with a string, each member of ``IN (…)``;
- ``LIKE`` without ``_`` and with ``%`` only at the ends: ``'%.example.com'`` on a
  domain means its subdomains; other forms are prefix, suffix and contains tests;
- ``ISSUBSET 'net/len'`` on an IP address (and ``=`` with a CIDR value): a range.

Not indexable, so never matched: ``!=``, ``NOT …``, ``MATCHES`` (a regex), ordering
operators, ``ISSUPERSET``, ``EXISTS``, comparisons of properties that are no
observable (``file:name``, ``network-traffic:dst_port``) and patterns of another
``pattern_type`` (Snort, YARA, Sigma). A revoked version contributes nothing.

Wallets, phone numbers and bank accounts have no STIX 2.1 SCO. thiqa reads them as
misp-stix writes them (``x-misp-object-btc``/``-iban``/``-phone-number`` objects with
``x_misp_value``, ``x-misp-object`` with ``x_misp_attributes``, ``user-account``
``x_misp_phone``) and from the custom types ``x-crypto-wallet`` (``address``),
``x-bank-account`` (``iban``) and ``x-phone-number`` (``value``), as objects or in
patterns.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from thiqa.correlate import normalise as n
from thiqa.correlate.detect import guess
from thiqa.stix.patterns import PatternError, parse_pattern
from thiqa.stix.patterns.ast import (
    Comparison,
    Operator,
    SetConstant,
    StringConstant,
    Wildcard,
)
from thiqa.timestamps import parse_us

EXACT, SUBDOMAINS, RANGE = "=", "sub", "cidr"
PREFIX, SUFFIX, CONTAINS = "prefix", "suffix", "contains"
#: Modes looked up by key in the index; the others are string tests held in memory.
KEYED_MODES = (EXACT, SUBDOMAINS, RANGE)


class Observable(NamedTuple):
    """One value an object version mentions: family and kind (see ``normalise``), how
    it matches (``mode``) and its normalised text (``network/len`` for a range)."""

    family: str
    kind: str
    mode: str
    value: str


class Extraction(NamedTuple):
    observables: list[Observable]
    valid_until_us: int | None


# (object type, property) → (family, kind): SCO properties and the custom conventions.
PROPERTIES: dict[tuple[str, str], tuple[str, str]] = {
    ("ipv4-addr", "value"): ("ipv4", "ipv4-addr"),
    ("ipv6-addr", "value"): ("ipv6", "ipv6-addr"),
    ("domain-name", "value"): ("domain", "domain-name"),
    ("url", "value"): ("url", "url"),
    ("email-addr", "value"): ("email", "email-addr"),
    ("mac-addr", "value"): ("mac", "mac-addr"),
    ("autonomous-system", "number"): ("asn", "autonomous-system"),
    ("x-crypto-wallet", "address"): ("wallet", "wallet"),
    ("x-bank-account", "iban"): ("iban", "iban"),
    ("x-phone-number", "value"): ("phone", "phone-number"),
    ("user-account", "x_misp_phone"): ("phone", "phone-number"),
    ("x-misp-object-btc", "x_misp_value"): ("wallet", "btc"),
    ("x-misp-object-xmr", "x_misp_value"): ("wallet", "xmr"),
    ("x-misp-object-iban", "x_misp_value"): ("iban", "iban"),
    ("x-misp-object-phone-number", "x_misp_value"): ("phone", "phone-number"),
}

# MISP attribute types (in x-misp-object x_misp_attributes) → (family, kind).
MISP_TYPES: dict[str, tuple[str, str]] = {
    "btc": ("wallet", "btc"), "xmr": ("wallet", "xmr"), "dash": ("wallet", "dash"),
    "iban": ("iban", "iban"), "phone-number": ("phone", "phone-number"),
    "whois-registrant-phone": ("phone", "phone-number"),
    "ip-src": ("ip", "ip"), "ip-dst": ("ip", "ip"),
    "domain": ("domain", "domain-name"), "hostname": ("domain", "domain-name"),
    "url": ("url", "url"), "link": ("url", "url"),
    "email": ("email", "email-addr"), "email-src": ("email", "email-addr"),
    "email-dst": ("email", "email-addr"),
    **{h: ("hash", h) for h in ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")},
}

_HASHED = ("file", "artifact", "x509-certificate")


def extract(obj: dict[str, Any]) -> Extraction:
    """The observables of one object version (duplicates removed, order kept)."""
    if obj.get("revoked") is True:
        return Extraction([], None)
    found: list[Observable] = []
    kind = obj.get("type")
    valid_until = None
    if kind == "indicator":
        if obj.get("pattern_type") == "stix" and isinstance(obj.get("pattern"), str):
            found.extend(from_pattern(obj["pattern"]))
        until = obj.get("valid_until")
        if isinstance(until, str):
            try:
                valid_until = parse_us(until)
            except ValueError:
                valid_until = None
    elif isinstance(kind, str):
        found.extend(from_sco(kind, obj))
    return Extraction(list(dict.fromkeys(found)), valid_until)


def from_sco(kind: str, obj: dict[str, Any]) -> Iterator[Observable]:
    for (otype, prop), (family, k) in PROPERTIES.items():
        if otype == kind and prop in obj:
            yield from _values(family, k, obj[prop])
    hashes = obj.get("hashes")
    if kind in _HASHED and isinstance(hashes, dict):
        for algo, digest in hashes.items():
            if isinstance(digest, str):
                yield from _values("hash", n.hash_algorithm(algo), digest)
    if kind == "x-misp-object":
        for attr in obj.get("x_misp_attributes") or ():
            if isinstance(attr, dict) and attr.get("type") in MISP_TYPES:
                family, k = MISP_TYPES[attr["type"]]
                yield from _values(family, k, attr.get("value"))


def _values(family: str, kind: str, raw: Any) -> Iterator[Observable]:
    values = raw if isinstance(raw, list) else [raw]
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str):
            got = _equal(family, kind, value)
            if got is not None:
                yield got


def _equal(family: str, kind: str, text: str) -> Observable | None:
    if family in ("ip", "ipv4", "ipv6"):
        got = n.ip(text)
        if got is None or (family != "ip" and got[0] != family):
            return None
        fam, net, plen = got
        mode = EXACT if plen == (32 if fam == "ipv4" else 128) else RANGE
        return Observable(fam, f"{fam}-addr" if family == "ip" else kind, mode,
                          n.ip_text(fam, net, plen))
    if family == "ref":  # a *_ref(s).value: the value says what it is
        seen = guess(text)
        return None if seen is None else Observable(seen.family, seen.kind, EXACT, seen.value)
    if family == "hash":
        h = n.hash_value(text)
        if h is None:
            return None
        if kind == "hash":
            kind = n.HASH_LENGTHS.get(len(h), kind) if n.hex_hash(text) else kind
        return Observable("hash", kind, EXACT, h)
    if family == "wallet":
        found = n.wallet_kind(text)
        if found is not None:
            return Observable("wallet", found[0] if kind == "wallet" else kind, EXACT, found[1])
    value = n.normalise(family, text)
    return None if value is None else Observable(family, kind, EXACT, value)


# -- patterns --------------------------------------------------------------------------

def from_pattern(text: str) -> list[Observable]:
    """The indexable comparisons of a STIX pattern (nothing for an invalid one)."""
    try:
        pattern = parse_pattern(text)
    except PatternError:
        return []
    out: list[Observable] = []
    for c in pattern.comparisons():
        if not c.negated:
            out.extend(from_comparison(c))
    return out


def path_family(c: Comparison) -> tuple[str, str] | None:
    """(family, kind) of what a comparison's object path names, or None."""
    steps = c.path.steps
    otype = c.path.object_type
    if len(steps) == 1:
        return PROPERTIES.get((otype, c.path.property_name))
    for i, step in enumerate(steps[:-1]):
        if step == "hashes" and isinstance(steps[i + 1], str):
            return "hash", n.hash_algorithm(str(steps[i + 1]))
    if steps[-1] == "value":
        ref = steps[-2]
        if isinstance(ref, Wildcard) and len(steps) >= 3:
            ref = steps[-3]
        if isinstance(ref, str) and ref.endswith(("_ref", "_refs")):
            return "ref", "ref"
    return None


def from_comparison(c: Comparison) -> list[Observable]:
    target = path_family(c)
    if target is None:
        return []
    family, kind = target
    op, value = c.operator, c.value
    if op is Operator.EQ and isinstance(value, StringConstant):
        got = _equal(family, kind, value.value)
        return [got] if got is not None else []
    if op is Operator.IN and isinstance(value, SetConstant):
        out = []
        for member in value.values:
            if isinstance(member, StringConstant):
                got = _equal(family, kind, member.value)
                if got is not None:
                    out.append(got)
        return out
    if op is Operator.ISSUBSET and isinstance(value, StringConstant) and family in (
            "ipv4", "ipv6", "ip"):
        got = _equal(family, kind, value.value)
        return [got] if got is not None else []
    if op is Operator.LIKE and isinstance(value, StringConstant) and family != "ref":
        got = _like(family, kind, value.value)
        return [got] if got is not None else []
    return []


def _like(family: str, kind: str, text: str) -> Observable | None:
    """A LIKE literal as an exact value, a subdomain test or a string test, or None."""
    if "_" in text:  # '_' is a one-character wildcard (§9.5): not indexable
        return None
    lead, trail = text.startswith("%"), text.endswith("%")
    body = text.strip("%")
    if not body or "%" in body:
        return None
    if not lead and not trail:
        return _equal(family, kind, body)
    if family == "domain" and lead and not trail and body.startswith("."):
        name = n.domain(body[1:])
        return None if name is None else Observable("domain", kind, SUBDOMAINS, name)
    if family in ("domain", "email", "hash", "mac"):
        body = body.lower()  # these families are case-folded
    mode = CONTAINS if lead and trail else SUFFIX if lead else PREFIX
    return Observable(family, kind, mode, body)
