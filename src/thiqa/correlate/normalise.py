"""Normalised observable values, one rule set per family (docs/correlation.md).

A *family* is what matches what: an observed value and an indicator's value match
when their family and normalised text are equal. The *kind* is finer and only
informative (``sha256`` within ``hash``, ``btc`` within ``wallet``). Every function
here is idempotent (``f(f(x)) == f(x)``, held by hypothesis tests) and returns None
for text that is not a value of its family.

    family   normalised form
    ipv4     dotted quad; a range is ``network/prefix`` with host bits cleared
    ipv6     RFC 5952 text (``ipaddress`` compressed); IPv4-mapped addresses are ipv4
    domain   lower case, IDNA (punycode), no trailing dot
    url      scheme and host lower case, host IDNA, default port and fragment dropped,
             empty path ``/``
    email    lower case (local part too: every large provider treats it so), domain IDNA
    hash     lower-case hex, colons removed; kind by algorithm or length
    iban     upper case, no spaces; auto-detection also needs the mod-97 check
    phone    ``+`` and digits (E.164) when international, else the national digits
    wallet   as given (base58 is case-sensitive); bech32 and 0x-hex lower case
    mac      six lower-case hex octets joined by colons
    asn      the number in decimal
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

FAMILIES = ("ipv4", "ipv6", "domain", "url", "email", "hash", "iban", "phone", "wallet",
            "mac", "asn")

# -- IP addresses ----------------------------------------------------------------------

_QUAD = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\Z")


def ipv4_int(text: str) -> int | None:
    """The address as an integer, or None. Leading zeros are read as decimal (never octal)."""
    m = _QUAD.match(text)
    if m is None:
        return None
    a, b, c, d = (int(x) for x in m.groups())
    if a > 255 or b > 255 or c > 255 or d > 255:
        return None
    return (a << 24) | (b << 16) | (c << 8) | d


def ipv4_text(n: int) -> str:
    return f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def ipv6_int(text: str) -> int | None:
    try:
        return int(ipaddress.IPv6Address(text.split("%", 1)[0]))
    except ValueError:
        return None


def ipv6_text(n: int) -> str:
    return ipaddress.IPv6Address(n).compressed


_MAPPED = 0xFFFF << 32  # ::ffff:0:0/96, RFC 4291 §2.5.5.2


def ip(text: str) -> tuple[str, int, int] | None:
    """(family, network as an integer, prefix length) of an address or CIDR range."""
    text = text.strip()
    addr, slash, plen_text = text.partition("/")
    v4 = ipv4_int(addr)
    if v4 is not None:
        family, n, bits = "ipv4", v4, 32
    else:
        v6 = ipv6_int(addr) if ":" in addr else None
        if v6 is None:
            return None
        if v6 >> 32 == 0xFFFF:
            family, n, bits = "ipv4", v6 & 0xFFFFFFFF, 32
        else:
            family, n, bits = "ipv6", v6, 128
    plen = bits
    if slash:
        if not plen_text.isdigit() or len(plen_text) > 3:
            return None
        plen = int(plen_text)
        if family == "ipv4" and bits == 32 and v4 is None:  # a mapped range
            plen -= 96
        if not 0 <= plen <= bits:
            return None
    mask = ((1 << bits) - 1) ^ ((1 << (bits - plen)) - 1)
    return family, n & mask, plen


def ip_text(family: str, n: int, plen: int) -> str:
    """Canonical text: the address, or ``network/prefix`` for a proper range."""
    bits = 32 if family == "ipv4" else 128
    base = ipv4_text(n) if family == "ipv4" else ipv6_text(n)
    return base if plen == bits else f"{base}/{plen}"


def network_of(family: str, n: int, plen: int) -> int:
    bits = 32 if family == "ipv4" else 128
    return n & (((1 << bits) - 1) ^ ((1 << (bits - plen)) - 1))


def ip_value(text: str) -> str | None:
    got = ip(text)
    return None if got is None else ip_text(*got)


# -- names -----------------------------------------------------------------------------

_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)\Z")


def domain(text: str) -> str | None:
    name = text.strip().rstrip(".").lower()
    if not name or len(name) > 253:
        return None
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    labels = name.split(".")
    if not all(_LABEL.match(label) for label in labels):
        return None
    return name


_NAME = re.compile(r"(?:(?!-)[a-z0-9_-]{1,63}(?<!-)\.)*(?!-)[a-z0-9_-]{1,63}(?<!-)\Z")


def fast_domain(text: str) -> str | None:
    """``domain`` with one regex for the whole of a plain ASCII name (the common case)."""
    name = text.lower()
    if name.isascii() and len(name) <= 253 and _NAME.match(name):
        return name
    return domain(text)


def parents(name: str) -> list[str]:
    """The proper parent domains of a normalised name, nearest first (``a.b.c`` → b.c, c)."""
    out = []
    dot = name.find(".")
    while dot >= 0:
        out.append(name[dot + 1 :])
        dot = name.find(".", dot + 1)
    return out


_DEFAULT_PORTS = {"http": "80", "https": "443", "ftp": "21", "ws": "80", "wss": "443"}
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)([^#]*)")


def url_parts(text: str) -> tuple[str, str, str, str] | None:
    """(scheme, userinfo@ or '', host text, port or '') of a URL, host not normalised."""
    m = _URL.match(text.strip())
    return None if m is None else _parts(m)


def _parts(m: re.Match[str]) -> tuple[str, str, str, str]:
    scheme, authority = m.group(1).lower(), m.group(2)
    user, at, hostport = authority.rpartition("@")
    if hostport.startswith("["):
        host, _, rest = hostport[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = hostport.partition(":")
    return scheme, user + at, host, port


def url(text: str) -> str | None:
    m = _URL.match(text.strip())
    if m is None:
        return None
    scheme, user, host_text, port = _parts(m)
    rest = m.group(3)
    if port and (not port.isdigit() or int(port) > 65535):
        return None
    port = str(int(port)) if port else ""
    # An address is all digits and dots, or has a colon (IPv6): a name is neither.
    looks_ip = host_text and (":" in host_text or host_text[0].isdigit())
    got = ip(host_text) if looks_ip and "/" not in host_text else None
    if got is not None and got[2] in (32, 128):
        host = ip_text(*got)
        host = f"[{host}]" if got[0] == "ipv6" else host
    else:
        name = fast_domain(host_text) if host_text else None
        if name is None:
            return None
        host = name
    if _DEFAULT_PORTS.get(scheme) == port:
        port = ""
    return f"{scheme}://{user}{host}{':' + port if port else ''}{rest or '/'}"


def url_host(normalised: str) -> str:
    """The host of a normalised URL (IPv6 without brackets)."""
    authority = normalised.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0]
    hostport = authority.rpartition("@")[2]
    if hostport.startswith("["):
        return hostport[1:].partition("]")[0]
    return hostport.partition(":")[0]


def email(text: str) -> str | None:
    text = text.strip()
    if "<" in text and text.endswith(">"):  # "Name <addr>"
        text = text[text.rindex("<") + 1 : -1].strip()
    local, at, dom = text.rpartition("@")
    if not at or not local or any(c.isspace() for c in local):
        return None
    name = domain(dom)
    return None if name is None else f"{local.lower()}@{name}"


# -- hashes ----------------------------------------------------------------------------

HASH_LENGTHS = {32: "md5", 40: "sha1", 56: "sha224", 64: "sha256", 96: "sha384",
                128: "sha512"}
_HEX = re.compile(r"[0-9a-f]+\Z")


def hash_algorithm(name: str) -> str:
    """``SHA-256``, ``sha256``, ``'SHA-256'`` → ``sha256`` (STIX 2.1 §10.7 hash names)."""
    return name.strip("'").lower().replace("-", "").replace("_", "")


def hex_hash(text: str) -> str | None:
    """Lower-case hex of a hex digest (fingerprint colons removed), or None."""
    h = text.strip().lower().replace(":", "")
    return h if h and _HEX.match(h) else None


def hash_value(text: str) -> str | None:
    """Hex digests are folded; other digests (ssdeep, TLSH) are opaque strings."""
    h = hex_hash(text)
    if h is not None:
        return h
    stripped = text.strip()
    return stripped or None


# -- financial and telecom identifiers -------------------------------------------------

_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}\Z")


def iban(text: str) -> str | None:
    v = re.sub(r"[\s-]", "", text).upper()
    return v if _IBAN.match(v) else None


def iban_valid(normalised: str) -> bool:
    """ISO 13616 mod-97 check: the rearranged number, letters as 10–35, ≡ 1 (mod 97)."""
    moved = normalised[4:] + normalised[:4]
    digits = "".join(str(int(c, 36)) for c in moved)
    return int(digits) % 97 == 1


_PHONE_JUNK = re.compile(r"[\s().\-/]")


def phone(text: str) -> str | None:
    v = _PHONE_JUNK.sub("", text.strip())
    if v.startswith("00"):
        v = "+" + v[2:]
    digits = v[1:] if v.startswith("+") else v
    if not digits.isdigit() or not digits.isascii():
        return None
    if v.startswith("+"):
        return v if 7 <= len(digits) <= 15 and digits[0] != "0" else None
    return v if 4 <= len(digits) <= 15 else None


_B58 = "[1-9A-HJ-NP-Za-km-z]"
_WALLETS: tuple[tuple[str, re.Pattern[str], bool], ...] = (
    # (kind, shape, case-insensitive?): formats of the currencies seen in financing cases
    ("btc", re.compile(rf"[13]{_B58}{{25,34}}\Z"), False),
    ("btc", re.compile(r"(bc1|tb1)[ac-hj-np-z02-9]{11,71}\Z", re.I), True),
    ("eth", re.compile(r"0x[0-9a-fA-F]{40}\Z"), True),
    ("xmr", re.compile(rf"[48][0-9AB]{_B58}{{93}}\Z"), False),
    ("ltc", re.compile(rf"[LM]{_B58}{{26,33}}\Z"), False),
    ("ltc", re.compile(r"ltc1[ac-hj-np-z02-9]{11,71}\Z", re.I), True),
    ("trx", re.compile(rf"T{_B58}{{33}}\Z"), False),
    ("bch", re.compile(r"(bitcoincash:)?[qp][ac-hj-np-z02-9]{41}\Z", re.I), True),
)


def wallet_kind(text: str) -> tuple[str, str] | None:
    """(currency, normalised address) when ``text`` has a known wallet address format."""
    v = text.strip()
    for kind, shape, folded in _WALLETS:
        if shape.match(v):
            return kind, v.lower() if folded else v
    return None


def wallet(text: str) -> str | None:
    got = wallet_kind(text)
    if got is not None:
        return got[1]
    v = text.strip()
    return v if v and not any(c.isspace() for c in v) else None


_MAC = re.compile(r"([0-9a-f]{2})[:\-.]?([0-9a-f]{2})[:\-.]?([0-9a-f]{2})[:\-.]?"
                  r"([0-9a-f]{2})[:\-.]?([0-9a-f]{2})[:\-.]?([0-9a-f]{2})\Z")


def mac(text: str) -> str | None:
    m = _MAC.match(text.strip().lower())
    return ":".join(m.groups()) if m else None


def asn(text: str) -> str | None:
    v = text.strip().upper().removeprefix("AS")
    return str(int(v)) if v.isdigit() and v.isascii() and int(v) < 2**32 else None


#: The normaliser of each family (``ipv4``/``ipv6`` also take ranges).
NORMALISERS: dict[str, Callable[[str], str | None]] = {
    "ipv4": ip_value, "ipv6": ip_value, "domain": domain, "url": url, "email": email,
    "hash": hash_value, "iban": iban, "phone": phone, "wallet": wallet, "mac": mac,
    "asn": asn,
}


def normalise(family: str, text: str) -> str | None:
    """The normalised value of ``text`` in ``family`` (None: not a value of it).

    An IP text of the other address family is refused, so that ``ipv4`` never holds
    an IPv6 value; an IPv4-mapped IPv6 address counts as ipv4.
    """
    if family in ("ipv4", "ipv6"):
        got = ip(text)
        return ip_text(*got) if got is not None and got[0] == family else None
    return NORMALISERS[family](text)
