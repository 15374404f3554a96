"""MISP warninglists: values known to be benign or too common to mean anything.

A list is a JSON file in the MISP format (``name``, ``type``, ``list``, optional
``matching_attributes``; https://github.com/MISP/misp-warninglists). A match on a
listed value is still reported, flagged ``known_benign`` with the names of the lists
(and never raises an alert). List types, as MISP applies them:

    cidr       the value is an IP address inside one of the ranges (or equal to one)
    string     the value equals an entry (case-folded)
    hostname   the value, or the host of a URL, is the entry or a subdomain of it
    substring  the value contains an entry (case-folded)
    regex      an entry (``/…/flags``, PCRE-style) finds a match in the value

``matching_attributes`` (MISP attribute types) restricts a list to some families, so
the hash list of empty files is not applied to domain names; without it a list
applies to every family.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from thiqa.correlate import normalise as n
from thiqa.correlate.detect import Observed
from thiqa.errors import ConfigError

# MISP attribute types → the families they name.
_ATTRIBUTE_FAMILIES: dict[str, tuple[str, ...]] = {
    "ip-src": ("ipv4", "ipv6"), "ip-dst": ("ipv4", "ipv6"), "domain|ip": ("domain", "ipv4",
                                                                          "ipv6"),
    "ip-src|port": ("ipv4", "ipv6"), "ip-dst|port": ("ipv4", "ipv6"),
    "domain": ("domain",), "hostname": ("domain",), "url": ("url",), "uri": ("url",),
    "link": ("url",), "email": ("email",), "email-src": ("email",), "email-dst": ("email",),
    "target-email": ("email",), "whois-registrant-email": ("email",),
    "dns-soa-email": ("email",), "phone-number": ("phone",),
    "whois-registrant-phone": ("phone",), "btc": ("wallet",), "iban": ("iban",),
}
_HASH_TYPES = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512", "ssdeep", "imphash",
               "tlsh")


def _families(attributes: Iterable[str]) -> frozenset[str] | None:
    out: set[str] = set()
    for a in attributes:
        if a in _ATTRIBUTE_FAMILIES:
            out.update(_ATTRIBUTE_FAMILIES[a])
        elif a.split("|")[-1] in _HASH_TYPES:
            out.add("hash")
    return frozenset(out) or None


def _regex(entry: str) -> re.Pattern[str] | None:
    """``/body/flags`` (PCRE) as a Python regex; None when Python cannot compile it."""
    body, flags = entry, 0
    if entry.startswith("/") and entry.rfind("/") > 0:
        end = entry.rfind("/")
        body = entry[1:end]
        for f in entry[end + 1 :]:
            flags |= {"i": re.I, "m": re.M, "s": re.S, "x": re.X}.get(f, 0)
    try:
        return re.compile(body.replace("\\@", "@").replace("\\/", "/"), flags)
    except re.error:
        return None


@dataclass
class Warninglist:
    name: str
    type: str
    families: frozenset[str] | None = None
    strings: set[str] = field(default_factory=set)
    # cidr: sorted, merged (start, end) integer intervals per family
    ranges: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    patterns: list[re.Pattern[str]] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)  # substring: entry lengths present

    @classmethod
    def from_json(cls, data: dict[str, object], source: str) -> Warninglist:
        name, kind, entries = data.get("name"), data.get("type"), data.get("list")
        if not isinstance(name, str) or kind not in (
                "cidr", "string", "hostname", "substring", "regex") or not isinstance(
                entries, list):
            raise ConfigError(f"{source}: not a MISP warninglist (needs name, type among "
                              "cidr/string/hostname/substring/regex, and list)")
        attrs = data.get("matching_attributes")
        wl = cls(name, kind, _families(a for a in attrs if isinstance(a, str))
                 if isinstance(attrs, list) else None)
        spans: dict[str, list[tuple[int, int]]] = {}
        for entry in entries:
            if not isinstance(entry, str) or not entry.strip():
                continue
            entry = entry.strip()
            if kind == "cidr":
                got = n.ip(entry)
                if got is not None:
                    family, net, plen = got
                    bits = 32 if family == "ipv4" else 128
                    spans.setdefault(family, []).append((net, net + (1 << (bits - plen)) - 1))
            elif kind == "regex":
                rx = _regex(entry)
                if rx is not None:
                    wl.patterns.append(rx)
            elif kind == "hostname":
                d = n.domain(entry.lstrip("."))
                if d is not None:
                    wl.strings.add(d)
            else:
                wl.strings.add(entry.lower())
        for family, items in spans.items():
            wl.ranges[family] = _merge(items)
        wl.lengths = sorted({len(s) for s in wl.strings}) if kind == "substring" else []
        return wl

    def applies(self, family: str) -> bool:
        return self.families is None or family in self.families

    def hit(self, o: Observed) -> bool:
        if not self.applies(o.family) and not (o.family == "url" and self.type == "hostname"
                                               and self.applies("domain")):
            return False
        v = o.value
        if self.type == "cidr":
            got = n.ip(v) if o.family in ("ipv4", "ipv6") else None
            if got is None:
                return False
            spans = self.ranges.get(got[0], [])
            i = bisect.bisect_right(spans, (got[1], 1 << 129)) - 1
            return i >= 0 and spans[i][0] <= got[1] <= spans[i][1]
        if self.type == "string":
            return v.lower() in self.strings
        if self.type == "hostname":
            host = n.url_host(v) if o.family == "url" else v
            return host in self.strings or any(p in self.strings for p in n.parents(host))
        if self.type == "substring":
            low = v.lower()
            return any(low[i : i + size] in self.strings for size in self.lengths
                       for i in range(len(low) - size + 1))
        return any(rx.search(v) for rx in self.patterns)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


class Warninglists:
    """Every list loaded from some directories (each ``*.json`` below them)."""

    def __init__(self, lists: Iterable[Warninglist] = ()) -> None:
        self.lists = list(lists)

    @classmethod
    def load(cls, *folders: Path) -> Warninglists:
        found: list[Warninglist] = []
        for folder in folders:
            if not folder.is_dir():
                continue
            for path in sorted(folder.rglob("*.json")):
                try:
                    data = orjson.loads(path.read_bytes())
                except (OSError, orjson.JSONDecodeError) as exc:
                    raise ConfigError(f"warninglist {path}: {exc}") from exc
                if isinstance(data, dict) and "list" in data:  # skips schema.json and the like
                    found.append(Warninglist.from_json(data, str(path)))
        return cls(found)

    def check(self, o: Observed) -> list[str]:
        """Names of the lists on which the value is."""
        return [wl.name for wl in self.lists if wl.hit(o)]
