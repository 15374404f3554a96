"""Formats of STIX 2.1 property values: timestamps, identifiers, URLs, addresses, codes.

Each check takes a value already known to be a `str` and answers cheaply; these run on every
object written, so the common (valid) case is one compiled-regex match.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import ipaddress
import re

from thiqa.stix.langcodes import ISO639_1, ISO639_2, ISO639_3_ONLY

__all__ = [
    "ID_RE",
    "PROPERTY_NAME_RULE",
    "TYPE_NAME_RULE",
    "is_base64",
    "is_charset",
    "is_cpe23",
    "is_email",
    "is_hex",
    "is_identifier",
    "is_ipv4",
    "is_ipv6",
    "is_iso639_2",
    "is_language_tag",
    "is_mac",
    "is_property_name",
    "is_type_name",
    "is_url",
    "timestamp_error",
    "timestamp_has_millis",
    "timestamp_lt",
    "uuid_version",
]

# §2.16.1: RFC 3339 `YYYY-MM-DDTHH:mm:ss[.s+]Z`, UTC only. Second 60 is RFC 3339's leap second.
_TIMESTAMP_RE = re.compile(
    r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.[0-9]+)?Z"
)
_DAYS_IN_MONTH = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

# Bulk loads repeat the same values (a feed's batch timestamp, its creator identity, its
# markings, custom property names), so values found valid are remembered; the memo is
# emptied when full, which bounds its memory.
_MEMO_SIZE = 1 << 15
_GOOD_TIMESTAMPS: set[str] = set()


def timestamp_error(value: str) -> str | None:
    """Why `value` is not a STIX timestamp (§2.16), or None."""
    if value in _GOOD_TIMESTAMPS:
        return None
    error = _timestamp_error(value)
    if error is None:
        if len(_GOOD_TIMESTAMPS) >= _MEMO_SIZE:
            _GOOD_TIMESTAMPS.clear()
        _GOOD_TIMESTAMPS.add(value)
    return error


def _timestamp_error(value: str) -> str | None:
    if _TIMESTAMP_RE.fullmatch(value) is None:
        return f"{value!r} is not a timestamp of the form YYYY-MM-DDTHH:mm:ss[.s+]Z"
    if value[8:10] > "28":
        month = int(value[5:7])
        day = int(value[8:10])
        if day > _DAYS_IN_MONTH[month]:
            return f"{value!r} is not a valid date: day out of range for month"
        if month == 2 and day == 29:
            year = int(value[0:4])
            if year % 4 or (year % 100 == 0 and year % 400):
                return f"{value!r} is not a valid date: {year} is not a leap year"
    return None


def timestamp_has_millis(value: str) -> bool:
    """§3.2: `created`/`modified` need at least millisecond precision (3 sub-second digits)."""
    return len(value) >= 24 and value[19] == "."


def timestamp_lt(a: str, b: str) -> bool:
    """`a` < `b` for two valid timestamps (whose sub-second parts may differ in length)."""
    if len(a) == len(b):
        return a < b
    if a[:19] != b[:19]:
        return a[:19] < b[:19]
    fa = a[20:-1]
    fb = b[20:-1]
    width = max(len(fa), len(fb))
    return fa.ljust(width, "0") < fb.ljust(width, "0")


# §2.9: `object-type--UUID`, the UUID RFC 4122 (versions 1-5, variant 10xx); type names §3.1.
ID_RE = re.compile(
    r"([a-z][a-z0-9]*(?:-[a-z0-9]+)*)--"
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-([1-5])[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}"
)


_GOOD_IDS: set[str] = set()


def is_identifier(value: str) -> bool:
    """§2.9: `object-type--UUID`, remembered when valid (see `timestamp_error`)."""
    if value in _GOOD_IDS:
        return True
    if ID_RE.fullmatch(value) is None:
        return False
    if len(_GOOD_IDS) >= _MEMO_SIZE:
        _GOOD_IDS.clear()
    _GOOD_IDS.add(value)
    return True


def uuid_version(identifier: str) -> str:
    """The version digit of the UUID part of a valid identifier."""
    return identifier[-22]


# §3.1: type names are lowercase ASCII words joined by single hyphens, 3-250 characters.
_TYPE_RE = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
# What `is_type_name` requires, for messages.
TYPE_NAME_RULE = "3-250 characters of a-z, 0-9 and single hyphens, starting with a letter (§3.1)"


def is_type_name(value: str) -> bool:
    return 3 <= len(value) <= 250 and _TYPE_RE.fullmatch(value) is not None


# §3.1 / §11.1: property names are lowercase ASCII letters, digits and underscores, starting
# with a letter, 3-250 characters.
_PROPERTY_RE = re.compile(r"[a-z][a-z0-9_]{2,249}")
# What `is_property_name` requires, for messages.
PROPERTY_NAME_RULE = "3-250 characters of a-z, 0-9 and '_', starting with a letter (§3.1)"


_GOOD_NAMES: set[str] = set()


def is_property_name(value: str) -> bool:
    if value in _GOOD_NAMES:
        return True
    if _PROPERTY_RE.fullmatch(value) is None:
        return False
    if len(_GOOD_NAMES) >= _MEMO_SIZE:
        _GOOD_NAMES.clear()
    _GOOD_NAMES.add(value)
    return True


# RFC 3986 §3 (with RFC 3987's non-ASCII characters tolerated): a scheme, then only URI
# characters; `%` must start an escape. No whitespace anywhere, leading or inner.
_URL_RE = re.compile(
    r"[A-Za-z][A-Za-z0-9+.\-]*:"
    r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2}|[^\x00-\x7f\s])*"
)


_GOOD_URLS: set[str] = set()


def is_url(value: str) -> bool:
    if value in _GOOD_URLS:
        return True
    if _URL_RE.fullmatch(value) is None:
        return False
    if len(_GOOD_URLS) >= _MEMO_SIZE:
        _GOOD_URLS.clear()
    _GOOD_URLS.add(value)
    return True


# RFC 5322 addr-spec, simplified: one `@`, no whitespace, brackets or display name.
_EMAIL_RE = re.compile(r"[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+")


def is_email(value: str) -> bool:
    return _EMAIL_RE.fullmatch(value) is not None


# §6.8: dotted quad, optional CIDR suffix 0-32 without leading zeros.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4_RE = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}(?:/(?:3[0-2]|[12][0-9]|[0-9]))?")
_PREFIX6_RE = re.compile(r"12[0-8]|1[01][0-9]|[1-9][0-9]|[0-9]")


def is_ipv4(value: str) -> bool:
    return _IPV4_RE.fullmatch(value) is not None


def is_ipv6(value: str) -> bool:
    """§6.9: an IPv6 address, optionally with a CIDR suffix 0-128 without leading zeros."""
    address, slash, prefix = value.partition("/")
    if slash and _PREFIX6_RE.fullmatch(prefix) is None:
        return False
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        return False
    return True


# §6.10: colon-delimited, lowercase, MAC-48/EUI-48.
_MAC_RE = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")


def is_mac(value: str) -> bool:
    return _MAC_RE.fullmatch(value) is not None


_HEX_RE = re.compile(r"(?:[0-9a-fA-F]{2})+")


def is_hex(value: str) -> bool:
    """§2.8: an even number of hex digits (upper case tolerated, as the OASIS schema does)."""
    return _HEX_RE.fullmatch(value) is not None


def is_base64(value: str) -> bool:
    """§2.1: RFC 4648 base64 with padding, at least one byte."""
    if not value or len(value) % 4:
        return False
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


# RFC 5646 §2.1 syntax, with the primary subtag checked against ISO 639 below.
_LANG_RE = re.compile(
    r"(?P<primary>[A-Za-z]{2,3})(?:-[A-Za-z]{3}){0,3}"  # language, extlang
    r"(?:-[A-Za-z]{4})?"  # script
    r"(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"  # region
    r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"  # variants
    r"(?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*"  # extensions
    r"(?:-[xX](?:-[A-Za-z0-9]{1,8})+)?"  # private use
    r"|[xX](?:-[A-Za-z0-9]{1,8})+"  # private use only
    r"|[iI]-[A-Za-z]{2,8}"  # grandfathered irregular (i-klingon, ...)
)


def is_language_tag(value: str) -> bool:
    """An RFC 5646 language tag whose primary language is a registered ISO 639 code."""
    match = _LANG_RE.fullmatch(value)
    if match is None:
        return False
    primary = match.group("primary")
    if primary is None:
        return True
    primary = primary.lower()
    if len(primary) == 2:
        return primary in ISO639_1
    # qaa-qtz is reserved for local use (ISO 639-2).
    return primary in ISO639_2 or primary in ISO639_3_ONLY or "qaa" <= primary <= "qtz"


def is_iso639_2(value: str) -> bool:
    """§6.14 software `languages`: an ISO 639-2 three-letter code."""
    return value in ISO639_2 or (len(value) == 3 and "qaa" <= value <= "qtz")


def is_charset(value: str) -> bool:
    """§6.3/§6.7 `*_enc`: an IANA character set name.

    Approximated by Python's codec registry, which knows the IANA names and aliases in use.
    """
    try:
        codecs.lookup(value)
    except LookupError:
        return False
    return True


# CPE 2.3 formatted string binding (NISTIR 7695 §6.2).
_CPE_AVSTRING = (
    r"(?:(?:\?*|\*?)(?:[a-zA-Z0-9\-._]|\\[\\*?!\"#$%&'()+,/:;<=>@\[\]^`{|}~])+(?:\?*|\*?)|[*\-])"
)
_CPE_RE = re.compile(
    rf"cpe:2\.3:[aho*\-](?::{_CPE_AVSTRING}){{5}}"
    r"(?::(?:[a-zA-Z]{2,3}(?:-(?:[a-zA-Z]{2}|[0-9]{3}))?|[*\-]))"
    rf"(?::{_CPE_AVSTRING}){{4}}"
)


def is_cpe23(value: str) -> bool:
    return _CPE_RE.fullmatch(value) is not None
