"""Seeded generator of realistic STIX 2.1 test data for benchmarks and tests.

    python bench/generate.py --count 1000000 --seed 1 --out /tmp/ind-1m.json.gz
    python bench/generate.py --count 100000 --seed 1 --out /tmp/mix.jsonl --format jsonl --mix

Writes one object at a time, so memory stays constant whatever ``--count``; a ``.gz``
suffix compresses (with a fixed gzip mtime, so equal seeds give equal bytes).

The pattern mix follows the real sets in ``shared/data``:

- abuse.ch SSL blacklist (feeds2stix): ~98% ``ipv4-addr`` + ``network-traffic:dst_port``,
  the rest ``x509``/``file`` SHA-1 certificate fingerprints;
- ESET MISP events: SHA-1 > domain > MD5 = SHA-256 > URL > ip-dst > ``domain|ip`` > email;
- malvuln MISP feed: one MD5 per event.

abuse.ch alone has more indicators than both MISP sets together, but a load test made
only of IP:port patterns would hide the cost of long URL and hash patterns, so the
weights below blend the three. Pattern forms are the ones misp-stix emits
(``misp/misp-stix/mapping/misp_attributes_to_stix21.json``) and labels carry MISP's
``misp:type="…"`` strings, whose escaped quotes exercise the reader's string handling.
Ports are integers, not the quoted ``'447'`` both sources use: ``dst_port`` is an
integer property (STIX 2.1 §6.12) and every object written here must be valid.

``count`` is the number of objects written. With ``--mix`` about 45% of them are
indicators; the rest are producer identities, malware, the SCOs indicators are based
on, ``based-on``/``indicates`` relationships, sightings and reports — roughly the
shape of a feeds2stix or misp-stix export.
"""

from __future__ import annotations

import argparse
import gzip
import ipaddress
import json
import random
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

# TLP 2.0 marking definitions (FIRST TLP 2.0 STIX extension); weights roughly as seen
# in shared feeds: most data is CLEAR/GREEN, RED is rare.
TLP = {
    "CLEAR": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "GREEN": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "AMBER": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "AMBER+STRICT": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "RED": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
_TLP_IDS = list(TLP.values())
_TLP_WEIGHTS = [30, 35, 25, 5, 5]

# STIX 2.1 §2.9: SCO ids are UUIDv5 of the id-contributing properties in this namespace.
_SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")

# (kind, weight): see the module docstring for where the weights come from.
_KINDS = [
    ("ipv4-port", 22), ("ipv4", 8), ("domain", 15), ("url", 10), ("sha1", 12),
    ("md5", 11), ("sha256", 9), ("filename-sha256", 3), ("domain-ip", 2),
    ("email", 3), ("ipv6", 2), ("x509-sha1", 3),
]
_KIND_NAMES = [k for k, _ in _KINDS]
_KIND_WEIGHTS = [w for _, w in _KINDS]
_MISP_TYPE = {
    "ipv4-port": "ip-dst|port", "ipv4": "ip-dst", "domain": "domain", "url": "url",
    "sha1": "sha1", "md5": "md5", "sha256": "sha256", "filename-sha256": "filename|sha256",
    "domain-ip": "domain|ip", "email": "email-dst", "ipv6": "ip-dst",
    "x509-sha1": "x509-fingerprint-sha1",
}
_CATEGORY = {"ipv4-port": "Network activity", "ipv4": "Network activity",
             "domain": "Network activity", "url": "Network activity",
             "domain-ip": "Network activity", "ipv6": "Network activity"}

_SYLLABLES = ("ka", "lo", "mi", "net", "sec", "up", "dat", "sys", "web", "cdn", "ro", "zen",
              "tor", "vex", "bit", "on", "al", "ex", "pro", "go", "max", "ti", "cloud", "soft")
_TLDS = ("com", "com", "com", "net", "org", "ru", "xyz", "top", "info", "cn", "io", "online",
         "site", "de", "br", "in", "su", "biz")
_PATHS = ("gate.php", "wp-content/uploads", "admin/login.php", "images", "dl", "update",
          "api/v1/beacon", "invoice", "files", "panel", "static/js", "b")
# 447/449: TrickBot ports, frequent in the abuse.ch set; 0 draws a random high port.
_PORTS = (443, 443, 80, 8080, 447, 449, 4443, 8443, 0)
_EXTS = ("exe", "dll", "doc", "xlsm", "zip", "js", "ps1", "bin", "apk", "lnk")
_FAMILIES = ("Emotet", "TrickBot", "QakBot", "AgentTesla", "Dridex", "IcedID", "Cobalt Strike",
             "AsyncRAT", "RedLine", "Turla", "Lazarus", "OceanLotus", "Sednit", "Gamaredon")
_INDICATOR_TYPES = ["malicious-activity", "anomalous-activity", "compromised", "attribution",
                    "anonymization", "benign", "unknown"]
_INDICATOR_TYPE_WEIGHTS = [80, 6, 5, 4, 2, 1, 2]
_PHASES = ("command-and-control", "initial-access", "execution", "exfiltration",
           "delivery", "installation", "actions-on-objectives")
# Multilingual descriptions, as in MISP galaxies (Arabic, Cyrillic, CJK names).
_DESCRIPTIONS = ("Observed in phishing campaign", "C2 server contacted by implant",
                 "Индикатор из отчёта о вредоносной кампании", "مؤشر اختراق من تقرير التهديد",
                 "恶意软件命令与控制服务器", "Payload dropped by loader \"stage 2\"",
                 "Seen in honeypot logs; see C:\\Temp\\drop.log")

_EPOCH_START = int(datetime(2015, 1, 1, tzinfo=UTC).timestamp())
_EPOCH_SPAN = int(datetime(2025, 6, 1, tzinfo=UTC).timestamp()) - _EPOCH_START


def _ts(seconds: int, millis: int) -> str:
    # STIX 2.1 §3.2: created/modified are written with millisecond precision.
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%dT%H:%M:%S}.{millis:03d}Z"


def _quote(value: str) -> str:
    # STIX 2.1 §9.2: pattern string literals escape ' and \ with a backslash.
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _sco_id(kind: str, contributing: dict[str, Any]) -> str:
    # JCS-style canonical JSON (sorted keys, no spaces) per STIX 2.1 §2.9.
    text = json.dumps(contributing, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{kind}--{uuid.uuid5(_SCO_NAMESPACE, text)}"


class _Maker:
    """All randomness of one generated data set flows from one seeded ``random.Random``."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.producers = [self.uuid("identity") for _ in range(3)]

    def uuid(self, kind: str) -> str:
        return f"{kind}--{uuid.UUID(int=self.rng.getrandbits(128), version=4)}"

    def ipv4(self) -> str:
        r = self.rng
        return f"{r.choice((5, 23, 45, 77, 91, 103, 185, 193, 194, 212))}.{r.randrange(256)}" \
               f".{r.randrange(256)}.{r.randrange(1, 255)}"

    def ipv6(self) -> str:
        return str(ipaddress.IPv6Address((0x2A01 << 112) | self.rng.getrandbits(96)))

    def domain(self) -> str:
        r = self.rng
        label = "".join(r.choice(_SYLLABLES) for _ in range(r.randint(2, 4)))
        if r.random() < 0.3:
            label += str(r.randrange(100))
        sub = r.choice(("", "", "", "www.", "mail.", "update.", "cdn-"))
        return f"{sub}{label}.{r.choice(_TLDS)}"

    def url(self) -> str:
        r = self.rng
        host = self.domain() if r.random() < 0.8 else self.ipv4()
        path = r.choice(_PATHS)
        if r.random() < 0.5:
            path += f"/{r.getrandbits(32):08x}.{r.choice(_EXTS)}"
        query = f"?id={r.randrange(10**6)}&t={r.getrandbits(24):x}" if r.random() < 0.2 else ""
        return f"{r.choice(('http', 'https'))}://{host}/{path}{query}"

    def hexhash(self, bits: int) -> str:
        return f"{self.rng.getrandbits(bits):0{bits // 4}x}"

    def pattern(self, kind: str) -> tuple[str, str, dict[str, Any] | None]:
        """(pattern, value for the name, the SCO the pattern is based on or None)."""
        r = self.rng
        if kind in ("ipv4-port", "ipv4", "ipv6"):
            addr = self.ipv6() if kind == "ipv6" else self.ipv4()
            sco_type = "ipv6-addr" if kind == "ipv6" else "ipv4-addr"
            sco = {"type": sco_type, "value": addr}
            if kind == "ipv4-port":
                port = r.choice(_PORTS) or r.randrange(1024, 65536)
                return (f"[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:"
                        f"dst_ref.value = {_quote(addr)} AND network-traffic:dst_port = {port}]",
                        f"{addr}:{port}", sco)
            return f"[{sco_type}:value = {_quote(addr)}]", addr, sco
        if kind in ("domain", "domain-ip"):
            name = self.domain()
            if kind == "domain-ip":
                ip = self.ipv4()
                return (f"[domain-name:value = {_quote(name)} AND "
                        f"domain-name:resolves_to_refs[*].value = {_quote(ip)}]",
                        f"{name}|{ip}", {"type": "domain-name", "value": name})
            return f"[domain-name:value = {_quote(name)}]", name, {"type": "domain-name",
                                                                   "value": name}
        if kind == "url":
            u = self.url()
            return f"[url:value = {_quote(u)}]", u, {"type": "url", "value": u}
        if kind == "email":
            e = f"{r.choice(('info', 'billing', 'hr', 'noreply', 'admin'))}{r.randrange(100)}" \
                f"@{self.domain()}"
            return f"[email-addr:value = {_quote(e)}]", e, {"type": "email-addr", "value": e}
        if kind == "x509-sha1":
            h = self.hexhash(160)
            return (f"[x509-certificate:hashes.'SHA-1' = {_quote(h)}]", h,
                    {"type": "x509-certificate", "hashes": {"SHA-1": h}})
        algo, bits = {"md5": ("MD5", 128), "sha1": ("SHA-1", 160)}.get(kind, ("SHA-256", 256))
        h = self.hexhash(bits)
        path = algo if algo == "MD5" else f"'{algo}'"
        if kind == "filename-sha256":
            fname = f"{r.choice(('invoice', 'scan', 'setup', 'doc', 'payment'))}_" \
                    f"{r.randrange(10**4)}.{r.choice(_EXTS)}"
            return (f"[file:name = {_quote(fname)} AND file:hashes.{path} = {_quote(h)}]",
                    f"{fname}|{h}", {"type": "file", "name": fname, "hashes": {algo: h}})
        return f"[file:hashes.{path} = {_quote(h)}]", h, {"type": "file", "hashes": {algo: h}}

    def indicator(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        r = self.rng
        kind = r.choices(_KIND_NAMES, _KIND_WEIGHTS)[0]
        pattern, value, sco = self.pattern(kind)
        created = _EPOCH_START + r.randrange(_EPOCH_SPAN)
        modified = created + (r.randrange(86400 * 90) if r.random() < 0.2 else 0)
        obj: dict[str, Any] = {
            "type": "indicator", "spec_version": "2.1", "id": self.uuid("indicator"),
            "created_by_ref": r.choice(self.producers),
            "created": _ts(created, r.randrange(1000)), "modified": _ts(modified, 999),
            "name": f"{r.choice(_FAMILIES)} {_MISP_TYPE[kind]}: {value}"[:200],
        }
        if r.random() < 0.15:
            obj["description"] = r.choice(_DESCRIPTIONS)
        obj["indicator_types"] = [r.choices(_INDICATOR_TYPES, _INDICATOR_TYPE_WEIGHTS)[0]]
        obj.update(pattern=pattern, pattern_type="stix", pattern_version="2.1",
                   valid_from=_ts(created, 0))
        if r.random() < 0.3:
            obj["valid_until"] = _ts(created + 86400 * r.randint(7, 730), 0)
        if r.random() < 0.25:
            obj["kill_chain_phases"] = [{"kill_chain_name": "lockheed-martin-cyber-kill-chain",
                                         "phase_name": r.choice(_PHASES)}]
        if r.random() < 0.6:
            obj["labels"] = [f'misp:type="{_MISP_TYPE[kind]}"',
                             f'misp:category="{_CATEGORY.get(kind, "Payload delivery")}"']
        if r.random() < 0.6:
            obj["confidence"] = r.choice((15, 50, 75, 85, 100, r.randrange(101)))
        if r.random() < 0.1:
            obj["external_references"] = [{"source_name": "vendor-report",
                                           "url": f"https://{self.domain()}/blog/{r.randrange(10**4)}"}]
        if r.random() < 0.9:
            obj["object_marking_refs"] = [r.choices(_TLP_IDS, _TLP_WEIGHTS)[0]]
        return obj, sco

    def sdo(self, kind: str, name: str, **props: Any) -> dict[str, Any]:
        t = _ts(_EPOCH_START + self.rng.randrange(_EPOCH_SPAN), self.rng.randrange(1000))
        return {"type": kind, "spec_version": "2.1", "id": self.uuid(kind), "created": t,
                "modified": t, "name": name, **props}

    def relationship(self, rel: str, src: str, dst: str, when: str) -> dict[str, Any]:
        return {"type": "relationship", "spec_version": "2.1", "id": self.uuid("relationship"),
                "created": when, "modified": when, "relationship_type": rel,
                "source_ref": src, "target_ref": dst}


def generate_indicators(count: int, seed: int) -> Iterator[dict[str, Any]]:
    """Yield ``count`` valid STIX 2.1 indicators, the same ones for the same seed."""
    maker = _Maker(seed)
    for _ in range(count):
        yield maker.indicator()[0]


def generate_objects(count: int, seed: int) -> Iterator[dict[str, Any]]:
    """Yield ``count`` objects: indicators plus the identities, malware, SCOs,
    relationships, sightings and reports a real export carries (see module docstring)."""
    m = _Maker(seed)
    r = m.rng
    head: list[dict[str, Any]] = [
        {"type": "identity", "spec_version": "2.1", "id": pid, "created": _ts(_EPOCH_START, 0),
         "modified": _ts(_EPOCH_START, 0), "name": f"feed-producer-{i}",
         "identity_class": "organization"} for i, pid in enumerate(m.producers)]
    head += [m.sdo("malware", fam, is_family=True, malware_types=["trojan"])
             for fam in _FAMILIES]
    malware_ids = [o["id"] for o in head if o["type"] == "malware"]
    recent: list[str] = []

    def stream() -> Iterator[dict[str, Any]]:
        yield from head
        while True:
            ind, sco = m.indicator()
            when = ind["created"]
            recent.append(ind["id"])
            del recent[:-20]
            yield ind
            if sco is not None and r.random() < 0.5:
                sco = {"type": sco["type"], "spec_version": "2.1",
                       "id": _sco_id(sco["type"], {k: v for k, v in sco.items()
                                                    if k != "type"}), **sco}
                yield sco
                yield m.relationship("based-on", ind["id"], sco["id"], when)
            if r.random() < 0.4:
                yield m.relationship("indicates", ind["id"], r.choice(malware_ids), when)
            if r.random() < 0.03:
                yield {"type": "sighting", "spec_version": "2.1", "id": m.uuid("sighting"),
                       "created": when, "modified": when, "sighting_of_ref": ind["id"],
                       "count": r.randint(1, 500), "where_sighted_refs": [r.choice(m.producers)]}
            if r.random() < 0.01:
                yield {**m.sdo("report", f"Threat report {r.randrange(10**5)}"),
                       "report_types": ["threat-report"], "published": when,
                       "object_refs": list(recent)}

    for _, obj in zip(range(count), stream(), strict=False):
        yield obj


def write(out: IO[bytes], objects: Iterator[dict[str, Any]], fmt: str, bundle_id: str) -> int:
    n = 0
    if fmt == "jsonl":
        for obj in objects:
            out.write(orjson.dumps(obj) + b"\n")
            n += 1
        return n
    out.write(b'{"type": "bundle", "id": "' + bundle_id.encode() + b'", "objects": [\n')
    for obj in objects:
        out.write((b",\n" if n else b"") + orjson.dumps(obj))
        n += 1
    out.write(b"\n]}\n")
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, required=True, help="number of objects to write")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True, help="output file; .gz compresses")
    ap.add_argument("--format", choices=("bundle", "jsonl"), default="bundle")
    ap.add_argument("--mix", action="store_true", help="add SDOs, SCOs, relationships…")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    objects = (generate_objects if args.mix else generate_indicators)(args.count, args.seed)
    # A string seed: random.Random(-n) equals random.Random(n), which would reuse an id.
    bundle_rng = random.Random(f"bundle-{args.seed}")
    bundle_id = f"bundle--{uuid.UUID(int=bundle_rng.getrandbits(128), version=4)}"
    with open(args.out, "wb") as raw:
        if args.out.suffix == ".gz":
            # mtime=0 and no file name in the header: equal seeds give equal bytes.
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6,
                               mtime=0) as gz:
                n = write(gz, objects, args.format, bundle_id)
        else:
            n = write(raw, objects, args.format, bundle_id)
    secs = time.perf_counter() - t0
    size = args.out.stat().st_size
    print(f"wrote {n:,} objects, {size / 1e6:,.1f} MB to {args.out} in {secs:.1f} s",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
