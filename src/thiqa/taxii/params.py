"""TAXII 2.1 URL query parameters (§3.4) parsed into domain values; 400 on anything malformed.

Every endpoint declares which ``match[...]`` fields it takes. A field the spec defines
for other endpoints only is refused (400) rather than silently ignored, because a
client that sends it expects filtering that would not happen; fields the spec does not
define are ignored, as §3.4 allows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from thiqa.errors import InvalidFilter
from thiqa.store.model import Versions
from thiqa.timestamps import parse_us, version_key

KNOWN_MATCH = ("id", "type", "version", "spec_version")
_TYPE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,248}[a-z0-9])?\Z")
_ID = re.compile(r"[a-z0-9][a-z0-9-]*--[0-9A-Za-z-]+\Z")
_SPEC = re.compile(r"\d+\.\d+\Z")
_TIMESTAMP_HINT = "a timestamp such as 2024-01-31T12:00:00.000Z"


@dataclass(frozen=True, slots=True)
class Filters:
    added_after: int | None
    limit: int
    next: str | None
    ids: tuple[str, ...]
    types: tuple[str, ...]
    versions: Versions
    spec_versions: tuple[str, ...]


def parse(
    items: Iterable[tuple[str, str]],
    *,
    match: Iterable[str],
    page_size: int,
    default_versions: Versions,
    paged: bool = True,
) -> Filters:
    allowed = set(match)
    seen: dict[str, str] = {}
    for name, value in items:
        if name in seen:
            raise InvalidFilter(f"{name} may appear only once in a request (TAXII 2.1 §3.4)")
        seen[name] = value

    added_after = limit = next_token = None
    if paged:
        if "added_after" in seen:
            try:
                added_after = parse_us(seen["added_after"])
            except ValueError as exc:
                raise InvalidFilter(f"added_after must be {_TIMESTAMP_HINT}: {exc}") from None
        if "limit" in seen:
            raw = seen["limit"]
            if not raw.isdigit() or int(raw) <= 0:
                raise InvalidFilter(f"limit must be a positive integer, not {raw!r}")
            limit = int(raw)
        next_token = seen.get("next")
        if next_token is not None and not next_token:
            raise InvalidFilter("next must not be empty")

    values: dict[str, list[str]] = {}
    for name, raw in seen.items():
        if not (name.startswith("match[") and name.endswith("]")):
            continue
        field = name[6:-1]
        if field not in KNOWN_MATCH:
            continue  # §3.4: servers MAY ignore fields they do not understand
        if field not in allowed:
            raise InvalidFilter(f"match[{field}] is not supported on this endpoint")
        parts = raw.split(",")
        if any(not p for p in parts):
            raise InvalidFilter(f"match[{field}] has an empty value; separate values with "
                                "commas and no spaces")
        values[field] = parts

    ids = tuple(_checked(values.get("id", ()), _ID, "id", "a STIX id such as "
                         "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"))
    types = tuple(_checked(values.get("type", ()), _TYPE, "type", "a STIX type name"))
    specs = tuple(_checked(values.get("spec_version", ()), _SPEC, "spec_version",
                           "a version such as 2.1"))
    versions = _versions(values["version"]) if "version" in values else default_versions
    return Filters(added_after, min(limit or page_size, page_size), next_token, ids, types,
                   versions, specs)


def _checked(values: Iterable[str], pattern: re.Pattern[str], field: str, hint: str) -> list[str]:
    out = []
    for v in values:
        if not pattern.match(v):
            raise InvalidFilter(f"match[{field}] value {v!r} is not {hint}")
        if v not in out:
            out.append(v)
    return out


def _versions(parts: list[str]) -> Versions:
    if len(set(parts)) != len(parts):
        raise InvalidFilter("match[version] must not repeat a value (TAXII 2.1 §3.4.1)")
    if "all" in parts:
        if len(parts) > 1:
            raise InvalidFilter("match[version]=all must not be combined with other values")
        return Versions(all=True)
    keys = []
    for p in parts:
        if p in ("first", "last"):
            continue
        try:
            parse_us(p)  # a real date and time, not only the right shape
            keys.append(version_key(p))
        except ValueError:
            raise InvalidFilter(f"match[version] value {p!r} is not first, last, all or "
                                f"{_TIMESTAMP_HINT}") from None
    return Versions(first="first" in parts, last="last" in parts, keys=tuple(keys))
