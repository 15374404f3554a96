"""thiqa's provenance extension: the originator's signature and the hops, on the wire.

A STIX 2.1 property extension (§7.3) that other tools may ignore. It is attached only
when a version leaves the node for a peer (:mod:`thiqa.federation.export`) and taken
off again when one arrives (:mod:`thiqa.federation.verify`): what the originator
signed — and what every node stores and serves over TAXII — is the object without it.

    "extensions": {"extension-definition--a3f3c1d2-…": {
        "extension_type": "property-extension",
        "signature": {"node", "org", "key", "signed", "size", "index", "root", "path",
                      "value"},
        "hops": [{"node", "org", "key", "forwarded", "prev", "value"}, …]}}

``signature``: the originator node signed the Merkle root (``root``, base64) of a batch
of ``size`` versions (:mod:`thiqa.federation.merkle`); ``index`` and ``path`` (base64
sibling hashes) lead from this version's leaf to it; ``value`` is the base64 Ed25519
signature of the canonical root record (:func:`root_record`) by the key whose
fingerprint is ``key``, on behalf of organisation ``org`` (an identity id) at time
``signed``. ``hops``: each forwarding node signs (``value``) the canonical hop record —
its node, org, key, time ``forwarded`` and ``prev``, the base64 SHA-256 of the
canonical JSON of the previous element (the signature for the first hop).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from thiqa.handling import THIQA_IDENTITY
from thiqa.signing import canonical

PROVENANCE_ID = "extension-definition--a3f3c1d2-6a7e-4c35-9d1b-0f6c2e8b5a47"
BATCH_TYPE = "thiqa-signed-batch"
HOP_TYPE = "thiqa-hop"

_TEXT = {"type": "string"}
_B64 = {"type": "string", "pattern": "^[A-Za-z0-9+/]+={0,2}$"}
_WHO = {"node": _TEXT, "org": {"type": "string", "pattern": "^identity--[0-9a-f-]{36}$"},
        "key": {"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"}}
PROVENANCE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "thiqa provenance",
    "description": "The originator node's signature of this version (a Merkle batch) and "
                   "the signed hops it travelled through.",
    "type": "object",
    "properties": {
        "extension_type": {"const": "property-extension"},
        "signature": {"type": "object", "additionalProperties": False,
                      "required": ["node", "org", "key", "signed", "size", "index", "root",
                                   "path", "value"],
                      "properties": {**_WHO, "signed": _TEXT,
                                     "size": {"type": "integer", "minimum": 1},
                                     "index": {"type": "integer", "minimum": 0},
                                     "root": _B64, "path": {"type": "array", "items": _B64},
                                     "value": _B64}},
        "hops": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "required": ["node", "org", "key", "forwarded", "prev", "value"],
            "properties": {**_WHO, "forwarded": _TEXT, "prev": _B64, "value": _B64}}},
    },
    "required": ["extension_type", "signature"],
    "additionalProperties": False,
}
PROVENANCE_DEFINITION: dict[str, Any] = {
    "type": "extension-definition",
    "spec_version": "2.1",
    "id": PROVENANCE_ID,
    "created_by_ref": THIQA_IDENTITY,
    "created": "2026-12-01T00:00:00.000Z",
    "modified": "2026-12-01T00:00:00.000Z",
    "name": "thiqa provenance",
    "description": "Signature of the originator node and signed forwarding hops.",
    "schema": json.dumps(PROVENANCE_SCHEMA, sort_keys=True),
    "version": "1.0",
    "extension_types": ["property-extension"],
}
SIGNATURE_FIELDS = ("node", "org", "key", "signed", "size", "index", "root", "path", "value")
HOP_FIELDS = ("node", "org", "key", "forwarded", "prev", "value")


def root_record(node: str, org: str, key: str, signed: str, size: int,
                root: bytes) -> dict[str, Any]:
    """What the originator's key signs for a batch."""
    return {"type": BATCH_TYPE, "node": node, "org": org, "key": key, "signed": signed,
            "size": size, "root": b64(root)}


def hop_record(hop: dict[str, Any]) -> dict[str, Any]:
    """What a forwarding node's key signs: the hop without its signature."""
    return {"type": HOP_TYPE, **{k: hop[k] for k in HOP_FIELDS if k != "value"}}


def link(previous: dict[str, Any]) -> str:
    """The ``prev`` of the hop after ``previous`` (the signature or the last hop)."""
    return b64(hashlib.sha256(canonical(previous)).digest())


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def split(obj: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The object without the provenance extension, and the extension (None if absent).
    ``obj`` is not changed."""
    extensions = obj.get("extensions")
    if not isinstance(extensions, dict) or PROVENANCE_ID not in extensions:
        return obj, None
    rest = {k: v for k, v in extensions.items() if k != PROVENANCE_ID}
    content = {k: v for k, v in obj.items() if k != "extensions"}
    if rest:
        content["extensions"] = rest
    return content, extensions[PROVENANCE_ID]


def attach(content: dict[str, Any], ext: dict[str, Any]) -> dict[str, Any]:
    """``content`` with the provenance extension added (the inverse of :func:`split`)."""
    extensions = content.get("extensions")
    merged = {**(extensions if isinstance(extensions, dict) else {}), PROVENANCE_ID: ext}
    return {**content, "extensions": merged}
