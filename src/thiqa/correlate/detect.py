"""What an observed value is: ``kind:value`` as given, else guessed from its shape.

Defanged values (``evil[.]com``, ``hxxps://…``, ``a[@]b.org``) are refanged first.
Auto-detection then tries, in order: URL (``scheme://``), IP address or range, hex digest
(by length), domain name (a dot, no ``@``; ``aabb.ccdd.eeff`` is a MAC address), e-mail
address, MAC address, IBAN (with a valid mod-97 check), international phone number
(``+`` or ``00`` and 7–15 digits), wallet address (known currency formats),
``AS<number>``. Anything else is not recognised and matches nothing. A value that is
ambiguous — a 40-hex string is a SHA-1 and could be an unprefixed Ethereum address —
gets the first reading; prefix it (``eth:…``) to choose another.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from thiqa.correlate import normalise as n


class Observed(NamedTuple):
    """A recognised observed value: its family, kind and normalised text."""

    family: str
    kind: str
    value: str


def _observed(family: str, kind: str, value: str) -> Observed:
    """``Observed(family, kind, value)`` without the Python-level ``__new__`` of a named
    tuple: detection makes one per submitted value."""
    return _new_observed(Observed, (family, kind, value))


_new_observed = tuple.__new__


#: ``kind:`` prefixes accepted on observed values, and the (family, kind) each names.
PREFIXES: dict[str, tuple[str, str]] = {
    "ip": ("ip", "ip"), "ipv4": ("ipv4", "ipv4-addr"), "ipv6": ("ipv6", "ipv6-addr"),
    "domain": ("domain", "domain-name"), "hostname": ("domain", "domain-name"),
    "url": ("url", "url"), "email": ("email", "email-addr"),
    "hash": ("hash", "hash"), "md5": ("hash", "md5"), "sha1": ("hash", "sha1"),
    "sha224": ("hash", "sha224"), "sha256": ("hash", "sha256"),
    "sha384": ("hash", "sha384"), "sha512": ("hash", "sha512"),
    "ssdeep": ("hash", "ssdeep"), "tlsh": ("hash", "tlsh"),
    "iban": ("iban", "iban"), "phone": ("phone", "phone-number"),
    "wallet": ("wallet", "wallet"), "btc": ("wallet", "btc"), "eth": ("wallet", "eth"),
    "xmr": ("wallet", "xmr"), "ltc": ("wallet", "ltc"), "trx": ("wallet", "trx"),
    "bch": ("wallet", "bch"), "mac": ("mac", "mac-addr"), "asn": ("asn", "autonomous-system"),
}

_HEXCHARS = frozenset("0123456789abcdefABCDEF")
_HEX = re.compile(r"[0-9a-fA-F]+\Z")


def detect(text: str) -> Observed | None:
    """The reading of ``text`` (``kind:value`` or a bare value), or None."""
    colon = text.find(":", 0, 8)  # the longest kind prefix is 'hostname'
    if colon > 0:
        head = text[:colon].lower()
        if head in PREFIXES and not text.startswith("//", colon + 1):
            return explicit(head, text[colon + 1 :])
    return guess(text)


def explicit(prefix: str, text: str) -> Observed | None:
    family, kind = PREFIXES[prefix]
    if family == "ip":
        got = n.ip(text)
        if got is None:
            return None
        return Observed(got[0], f"{got[0]}-addr", n.ip_text(*got))
    if family == "wallet" and kind == "wallet":
        found = n.wallet_kind(text)
        if found is not None:
            return Observed("wallet", found[0], found[1])
    if family == "hash" and kind == "hash":
        h = n.hex_hash(text)
        if h is not None:
            kind = n.HASH_LENGTHS.get(len(h), "hash")
    value = n.normalise(family, text)
    return None if value is None else Observed(family, kind, value)


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# A canonical dotted quad (no leading zeros): the common case, recognised in one match.
CANONICAL_QUAD = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}\Z")


_DEFANGED = (("[.]", "."), ("(.)", "."), ("{.}", "."), ("[dot]", "."), ("[:]", ":"),
             ("[@]", "@"), ("[at]", "@"), ("[://]", "://"))


def refang(v: str) -> str:
    """``evil[.]com``, ``hxxps://…``, ``a[@]b.org`` as analysts paste them → the value."""
    for defanged, plain in _DEFANGED:
        v = v.replace(defanged, plain)
    low = v[:5].lower()
    if low.startswith("hxxp") or low.startswith("hxxps"):
        v = "http" + v[4:]
    return v


def guess(text: str) -> Observed | None:
    v = text.strip()
    size = len(v)
    if not v or size > 8192:
        return None
    first = v[0]
    if "[" in v or "(." in v or "{." in v or (first in "hH" and v[:4].lower() == "hxxp"):
        v = refang(v)
        size, first = len(v), v[:1]
        if not v:
            return None
    if "://" in v:
        u = n.url(v)
        return None if u is None else _observed("url", "url", u)
    if first.isdigit() and CANONICAL_QUAD.match(v):
        return _observed("ipv4", "ipv4-addr", v)
    if size in n.HASH_LENGTHS and _HEX.match(v):
        return _observed("hash", n.HASH_LENGTHS[size], v.lower())
    if "." in v and "@" not in v and ":" not in v and not first.isdigit():
        if size == 14 and (m := n.mac(v)) is not None:
            return _observed("mac", "mac-addr", m)
        d = n.fast_domain(v)  # the common case after addresses and hashes
        if d is not None:
            return _observed("domain", "domain-name", d)
    if first.isdigit() or ":" in v:
        got = n.ip(v)
        if got is not None:
            return _observed(got[0], f"{got[0]}-addr", n.ip_text(*got))
    if "@" in v:
        e = n.email(v)
        return None if e is None else _observed("email", "email-addr", e)
    if size == 59 and v.count(":") == 19 and _HEXCHARS.issuperset(v.replace(":", "")):
        return _observed("hash", "sha1", v.replace(":", "").lower())  # a TLS fingerprint
    if size in (12, 14, 17):
        m = n.mac(v)
        if m is not None:
            return _observed("mac", "mac-addr", m)
    if size >= 15 and v[2:4].isdigit() and first.isalpha() and v[1:2].isalpha():
        i = n.iban(v)
        if i is not None and n.iban_valid(i):
            return _observed("iban", "iban", i)
    if first == "+" or v.startswith("00"):
        p = n.phone(v)
        if p is not None and p.startswith("+"):
            return _observed("phone", "phone-number", p)
    if size >= 26 and "." not in v:
        w = n.wallet_kind(v)
        if w is not None:
            return _observed("wallet", w[0], w[1])
    if (first in "aA") and v[:2].upper() == "AS" and v[2:].isdigit():
        a = n.asn(v)
        return None if a is None else _observed("asn", "autonomous-system", a)
    if "." in v:
        d = n.domain(v)
        if d is not None and not d.replace(".", "").isdigit():
            return _observed("domain", "domain-name", d)
    return None
