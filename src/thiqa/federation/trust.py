"""The trust store: partner keys pinned by the operator, their rotation and revocation.

- :func:`pin` takes a partner's identity document (``thiqa key show --json`` on the
  partner's node: node id, organisation, public key, fingerprint) and pins the key;
  the partner's organisation is added to this node with its own identity id if it is
  not known yet, so it can be made a member of communities and agreements.
- :func:`accept_rotation` takes a partner's rotation statement: it must name a key
  pinned for that node, not revoked nor already rotated, and carry valid signatures by
  both the old and the new key. The new key is pinned (valid from the rotation time);
  the old one keeps verifying what it signed before that time, and nothing after.
- :func:`revoke` refuses a key at once, whatever it signed and whenever: for a key
  that is known or suspected to be compromised.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from thiqa.errors import BadRequest, Conflict, NotFound
from thiqa.federation import tls
from thiqa.federation.keys import ROTATION_TYPE, rotation_record
from thiqa.signing import fingerprint, verify
from thiqa.store.model import Org, TrustedKey
from thiqa.timestamps import parse_us

if TYPE_CHECKING:
    from thiqa.node import Node


def _text(doc: dict[str, Any], name: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"the identity document needs {name!r} (a string)")
    return value


def _fingerprint(public: str) -> str:
    try:
        return fingerprint(public)
    except ValueError:
        raise BadRequest("public_key is not a base64 Ed25519 public key") from None


def pin(node: Node, doc: dict[str, Any], *, tls_fingerprint: str | None = None,
        tls_certificate: str | None = None, also_for: tuple[str, ...] = ()) -> TrustedKey:
    """Pin the key of a partner's identity document, with its TLS certificate (from the
    document or ``tls_certificate``, PEM) or only its fingerprint. ``also_for``: further
    organisations (identity ids known here) that partner node may sign for."""
    if not isinstance(doc, dict):
        raise BadRequest("the identity document must be a JSON object")
    tls_fingerprint, tls_pem = tls.pin_material(doc, tls_fingerprint, tls_certificate)
    public, node_id, org_id = _text(doc, "public_key"), _text(doc, "node"), _text(doc, "org")
    fp = _fingerprint(public)
    if len(base64.b64decode(public)) != 32:
        raise BadRequest("public_key is not a 32-byte Ed25519 public key")
    if "fingerprint" in doc and doc["fingerprint"] != fp:
        raise BadRequest(f"the fingerprint {doc['fingerprint']!r} does not match the public "
                         f"key (its fingerprint is {fp})")
    if not org_id.startswith("identity--"):
        raise BadRequest("org must be an identity id")
    if node_id == node.store.get_meta("node_id"):
        raise BadRequest("that is this node's own identity")
    existing = node.store.trusted_key(fp)
    if existing is not None and existing.revoked_us is not None:
        raise Conflict(f"key {fp} was revoked; a revoked key is not pinned again")
    name = doc.get("org_name") if isinstance(doc.get("org_name"), str) else None
    if node.store.get_org(org_id) is None:
        label = name or org_id
        if node.store.get_org(label) is not None:
            raise Conflict(f"an organisation named {label!r} with another identity id "
                           "exists on this node")
        node.store.add_org(Org(org_id, label, node.clock.now_us()))
    for extra in also_for:
        node.org(extra)
    key = TrustedKey(fp, public, node_id, (org_id, *(o for o in also_for if o != org_id)),
                     name or org_id, node.clock.now_us(), tls_fingerprint=tls_fingerprint)
    if tls_pem is not None:
        tls.remember(node.store, tls_pem)
    node.store.pin_key(key)
    node._admin("trust.pin", f"{fp} for {node_id} ({org_id})"
                + (f", TLS {tls_fingerprint}" if tls_fingerprint else ""))
    return key


def revoke(node: Node, fp: str) -> TrustedKey:
    if not node.store.revoke_trusted_key(fp, node.clock.now_us()):
        raise NotFound(f"no pinned, unrevoked key {fp!r}")
    node._admin("trust.revoke", fp)
    key = node.store.trusted_key(fp)
    assert key is not None
    return key


def accept_rotation(node: Node, statement: dict[str, Any]) -> TrustedKey:
    """Pin the new key a partner's rotation statement names (see the module doc)."""
    if not isinstance(statement, dict) or statement.get("type") != ROTATION_TYPE:
        raise BadRequest(f"not a key rotation statement (type {ROTATION_TYPE!r})")
    for name in ("node", "org", "old_key", "new_key", "rotated", "signature",
                 "new_signature"):
        _text(statement, name)
    old_fp, new_fp = _fingerprint(statement["old_key"]), _fingerprint(statement["new_key"])
    old = node.store.trusted_key(old_fp)
    if old is None:
        raise NotFound(f"the old key {old_fp} is not pinned here: pin the partner first")
    if old.revoked_us is not None:
        raise Conflict(f"the old key {old_fp} was revoked: a rotation it signed is not "
                       "trusted; pin the new key after checking it out of band")
    if old.node_id != statement["node"]:
        raise BadRequest(f"the old key is pinned for {old.node_id}, not {statement['node']}")
    if old.replaced_by is not None:
        if old.replaced_by == new_fp:
            new = node.store.trusted_key(new_fp)
            assert new is not None
            return new  # imported before: nothing to do
        raise Conflict(f"key {old_fp} was already rotated to {old.replaced_by}")
    try:
        rotated = parse_us(statement["rotated"])
    except ValueError as exc:
        raise BadRequest(f"rotated: {exc}") from None
    record = rotation_record(statement)
    if not verify(old.public_key, record, statement["signature"]):
        raise BadRequest("the rotation statement's signature does not verify with the "
                         f"pinned key {old_fp}")
    if not verify(statement["new_key"], record, statement["new_signature"]):
        raise BadRequest("the rotation statement's new_signature does not verify with the "
                         "new key")
    new = TrustedKey(new_fp, statement["new_key"], old.node_id, old.orgs, old.name,
                     node.clock.now_us(), valid_from_us=rotated,
                     tls_fingerprint=old.tls_fingerprint)
    node.store.rotate_trusted_key(old_fp, rotated, new)
    node._admin("trust.accept-rotation", f"{old.node_id}: {old_fp} -> {new_fp}")
    return new
