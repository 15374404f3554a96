"""Timestamps: STIX 2.1 (§3.2, any fractional precision) and TAXII 2.1 (§2, microseconds).

Inside thiqa a ``date_added`` is an integer count of microseconds since the Unix epoch:
exact, totally ordered and cheap to compare in SQL. A STIX ``modified`` keeps its
original text for output and gets a *version key* for ordering and matching: the same
instant written with 9 fractional digits, so that ``...00.1Z`` and ``...00.100Z``
(one instant) share a key and keys sort as the instants they denote.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# RFC 3339 in UTC with the 'Z' designator, as STIX 2.1 §3.2 and TAXII 2.1 §2 require.
_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?Z\Z"
)


def parse_us(text: str) -> int:
    """Microseconds since the epoch for an RFC 3339 UTC timestamp ('Z' required).

    Digits past the sixth fractional digit are truncated (TAXII timestamps carry
    microseconds). Raises ValueError with a readable message on anything else.
    """
    m = _TIMESTAMP.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not an RFC 3339 timestamp such as 2024-01-31T12:00:00.000Z")
    year, month, day, hour, minute, second, frac = m.groups()
    try:
        dt = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                      tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid date and time: {exc}") from None
    micros = int((frac or "0")[:6].ljust(6, "0"))
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + micros


def format_us(us: int) -> str:
    """TAXII timestamp (always six fractional digits, 'Z') for microseconds since the epoch."""
    seconds, micros = divmod(us, 1_000_000)
    dt = datetime.fromtimestamp(seconds, tz=UTC)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{micros:06d}Z"


def version_key(text: str) -> str:
    """Sortable, precision-independent key for a STIX timestamp used as a version.

    Raises ValueError when ``text`` is not a timestamp. Fractions longer than nine
    digits are cut to nine: STIX producers do not distinguish versions below a
    nanosecond in practice, and the key must have a fixed width to sort as text.
    """
    m = _TIMESTAMP.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not an RFC 3339 timestamp")
    frac = (m.group(7) or "")[:9].ljust(9, "0")
    return f"{text[:19]}.{frac}Z"
