"""Verification of a version received from a peer: signature, content, chain, sender.

A version passes when, in this order (the first failure is the reason given):

1. it carries the provenance extension, well formed (:mod:`thiqa.federation.extension`);
2. the originator's key is pinned in the trust store, not revoked, pinned for the node
   the signature names and allowed to sign for its organisation, and was valid when it
   signed: a key rotated away at T verifies only what it signed before T, so a version
   signed with it later (a replay with a stolen or retired key) is refused;
3. its content — the object without the extension, as RFC 8785 canonical JSON — is the
   leaf the audit path leads from to the signed root (else it was tampered with);
4. the root record's Ed25519 signature verifies (checked once per batch);
5. every hop links to the element before it, is signed by a pinned key of the node it
   names, valid at the time of the hop;
6. the node that delivered it made the last signature (the originator, or the last hop):
   a node that forwards must sign its hop.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from thiqa.federation import merkle
from thiqa.federation.extension import (
    HOP_FIELDS,
    SIGNATURE_FIELDS,
    hop_record,
    link,
    root_record,
    split,
)
from thiqa.federation.sign import leaf_of
from thiqa.signing import canonical, verify
from thiqa.store.model import TrustedKey
from thiqa.timestamps import format_us, parse_us

# How far in the future a signature may be dated (clocks of partners drift).
CLOCK_SKEW_US = 300 * 1_000_000


@dataclass(frozen=True, slots=True)
class Verdict:
    """The verdict on one received object: ``content`` (the object without the
    extension) and ``originator`` when accepted, else ``reason``."""

    object_id: str
    reason: str = ""
    originator: str = ""
    content: dict[str, Any] | None = None
    provenance: bytes = b""  # the extension, canonical JSON, kept with the version

    @property
    def ok(self) -> bool:
        return not self.reason


class Refused(Exception):
    pass


class Verifier:
    """Verifies objects delivered by one peer, with the trust store as of now."""

    def __init__(self, lookup: Callable[[str], TrustedKey | None], peer: str,
                 now_us: int) -> None:
        self.lookup = lookup
        self.peer = peer
        self.now_us = now_us
        # Within one delivery, what is the same for every version of a batch is worked
        # out once: the trust store's answer for a key, a time, a root's signature.
        self._keys: dict[str, TrustedKey | None] = {}
        self._times: dict[str, int] = {}
        self._roots: dict[tuple[Any, ...], bool] = {}
        self._proven: dict[tuple[Any, ...], merkle.Proven] = {}

    def check(self, obj: Any) -> Verdict:
        oid = obj.get("id") if isinstance(obj, dict) else None
        oid = oid if isinstance(oid, str) else ""
        try:
            if not isinstance(obj, dict):
                raise Refused("not a STIX object")
            content, ext = split(obj)
            if ext is None:
                raise Refused("unsigned: the object carries no thiqa provenance extension")
            if not isinstance(ext, dict) or ext.get("extension_type") != "property-extension":
                raise Refused("malformed provenance extension")
            sig = _fields(ext.get("signature"), SIGNATURE_FIELDS, "signature")
            hops = ext.get("hops", [])
            if not isinstance(hops, list):
                raise Refused("malformed provenance: hops must be a list")
            if set(ext) - {"extension_type", "signature", "hops"}:
                raise Refused("malformed provenance: unknown properties")
            originator = self._signature(sig, content)
            self.chain(sig, hops, "version")
        except Refused as exc:
            return Verdict(oid, str(exc))
        return Verdict(oid, originator=originator, content=content, provenance=canonical(ext))

    def _key(self, who: dict[str, Any], at_us: int, what: str) -> TrustedKey:
        fp = who["key"]
        if fp in self._keys:
            key = self._keys[fp]
        else:
            key = self._keys[fp] = self.lookup(fp)
        if key is None:
            raise Refused(f"{what}: unknown key {fp}: not pinned in the trust store")
        if key.revoked_us is not None:
            raise Refused(f"{what}: key {fp} of {key.node_id} was revoked at "
                          f"{format_us(key.revoked_us)}")
        if key.node_id != who["node"]:
            raise Refused(f"{what}: key {fp} is pinned for node {key.node_id}, not "
                          f"{who['node']}")
        if who["org"] not in key.orgs:
            raise Refused(f"{what}: key {fp} of {key.node_id} may not sign for {who['org']}")
        if key.valid_until_us is not None and at_us >= key.valid_until_us:
            raise Refused(f"{what}: dated {format_us(at_us)} with key {fp}, which was rotated "
                          f"away at {format_us(key.valid_until_us)}: a replay or a forgery")
        if key.valid_from_us is not None and at_us < key.valid_from_us:
            raise Refused(f"{what}: dated {format_us(at_us)}, before key {fp} was valid "
                          f"({format_us(key.valid_from_us)})")
        if at_us > self.now_us + CLOCK_SKEW_US:
            raise Refused(f"{what}: dated in the future ({format_us(at_us)})")
        return key

    def _time(self, raw: Any, what: str) -> int:
        if isinstance(raw, str) and raw in self._times:
            return self._times[raw]
        at = _time(raw, what)
        self._times[raw] = at
        return at

    def _signature(self, sig: dict[str, Any], content: dict[str, Any]) -> str:
        signed = self._time(sig["signed"], "signature.signed")
        key = self._key(sig, signed, "originator signature")
        size, index, path = sig["size"], sig["index"], sig["path"]
        if not (type(size) is int and type(index) is int and isinstance(path, list)):
            raise Refused("malformed signature: size, index and path")
        root = _raw(sig["root"], "signature.root")
        try:
            leaf = leaf_of(content)
        except ValueError as exc:
            raise Refused(f"content has no canonical JSON form: {exc}") from None
        # The signed record is made of these fields only (all checked strings and ints
        # by now, the root a checked digest): the same tuple, the same record.
        value = sig["value"] if isinstance(sig["value"], str) else None
        batch = (key.fingerprint, sig["node"], sig["org"], sig["signed"], size, root, value)
        proven = self._proven.get(batch)
        if proven is not None and proven.reaches(leaf, index, path):
            return str(sig["org"])  # the same root, its signature verified already
        raw_path = [_raw(p, "signature.path") for p in path]
        if merkle.root_of(leaf, index, size, raw_path) != root:
            raise Refused("tampered: the content does not match the originator's signature")
        ok = self._roots.get(batch)
        if ok is None:
            record = root_record(sig["node"], sig["org"], sig["key"], sig["signed"], size,
                                 root)
            ok = self._roots[batch] = _verify(key.public_key, record, value)
        if not ok:
            raise Refused(f"forged signature: it does not verify with key {key.fingerprint} "
                          f"of {key.node_id}")
        if proven is None:
            proven = self._proven[batch] = merkle.Proven(size)
        proven.learn(leaf, index, raw_path, path)
        return str(sig["org"])

    def chain(self, first: dict[str, Any], hops: list[Any], what: str) -> None:
        """Refused unless every hop after ``first`` (the originator's signature) is well
        formed, links to the element before it and verifies, and the delivering peer
        signed last: a node that forwards a ``what`` must add its hop."""
        last = first
        for i, raw in enumerate(hops):
            hop = _fields(raw, HOP_FIELDS, f"hop {i + 1}")
            self._hop(i + 1, hop, last)
            last = hop
        if last["node"] != self.peer:
            raise Refused(f"delivered by {self.peer} but last signed by {last['node']}: "
                          f"a node that forwards a {what} must sign its hop")

    def _hop(self, n: int, hop: dict[str, Any], previous: dict[str, Any]) -> None:
        at = self._time(hop["forwarded"], f"hop {n}.forwarded")
        key = self._key(hop, at, f"hop {n}")
        if hop["prev"] != link(previous):
            raise Refused(f"hop {n} does not link to the signature before it: the chain was "
                          "altered")
        if not _verify(key.public_key, hop_record(hop), hop["value"]):
            raise Refused(f"hop {n}: forged signature: it does not verify with key "
                          f"{key.fingerprint} of {key.node_id}")


def _fields(raw: Any, names: tuple[str, ...], what: str) -> dict[str, Any]:
    if not isinstance(raw, dict) or set(raw) != set(names):
        raise Refused(f"malformed provenance: {what} must have exactly {', '.join(names)}")
    for k in ("node", "org", "key"):
        if not isinstance(raw[k], str):
            raise Refused(f"malformed provenance: {what}.{k} must be a string")
    return raw


def _time(raw: Any, what: str) -> int:
    try:
        return parse_us(raw) if isinstance(raw, str) else parse_us("")
    except ValueError:
        raise Refused(f"malformed provenance: {what} is not an RFC 3339 time") from None


def _raw(text: Any, what: str) -> bytes:
    try:
        if not isinstance(text, str):
            raise ValueError
        raw = base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise Refused(f"malformed provenance: {what} is not base64") from None
    if len(raw) != merkle.DIGEST:
        raise Refused(f"malformed provenance: {what} is not a SHA-256 digest")
    return raw


def _verify(public: str, record: dict[str, Any], value: Any) -> bool:
    return isinstance(value, str) and verify(public, record, value)
