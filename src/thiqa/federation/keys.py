"""This node's federation identity: its node id, its Ed25519 key, and key rotation.

The node id (``node--<uuid>``, made once, kept in the store's metadata) names the node
in signatures and in partners' trust stores; the key is ``node.key`` in the data
directory (:class:`thiqa.signing.NodeKey`). :func:`identity` is what ``thiqa key show
--json`` prints and what a partner pins (``thiqa trust pin``).

Rotation (:func:`rotate`): a new key replaces ``node.key``; a statement naming the
node, the old and the new public key and the time is signed by the old key (the
partner's pinned key vouches for its successor) and by the new one (proof that the
holder of the new key took part). Partners import it (``thiqa trust accept-rotation``):
the new key is pinned and the old one keeps verifying only what it signed before the
rotation. The old private key is destroyed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from thiqa.federation import tls
from thiqa.signing import KEY_FILE, NodeKey, canonical, fingerprint
from thiqa.timestamps import format_us

if TYPE_CHECKING:
    from thiqa.node import Node

NODE_ID = "node_id"  # meta key
ROTATION_TYPE = "thiqa-key-rotation"


def node_id(node: Node) -> str:
    found = node.store.get_meta(NODE_ID)
    if found is None:
        found = f"node--{node.clock.new_uuid()}"
        node.store.set_meta(NODE_ID, found)
    return found


def current(node: Node) -> NodeKey:
    """The node key, recorded among the node's keys."""
    key = node.node_key()
    node.store.add_node_key(key.fingerprint, key.public, node.clock.now_us())
    return key


def identity(node: Node) -> dict[str, Any]:
    """What a partner pins: node id, organisation, public key and fingerprint, the
    rotation statements that led to this key (for a partner that pinned an older one),
    and the TLS certificate the node serves and presents, with its fingerprint."""
    key = current(node)
    org = node.operating_org()
    doc = {"node": node_id(node), "org": org.id, "org_name": org.name,
           "algorithm": "Ed25519", "public_key": key.public, "fingerprint": key.fingerprint,
           "rotations": [orjson.loads(rot) for *_, rot in node.store.node_keys()
                         if rot is not None]}
    cert = tls.served_certificate(node.settings)
    if cert is not None:
        doc["tls_fingerprint"], doc["tls_certificate"] = cert.fingerprint, cert.pem
    return doc


def rotation_record(statement: dict[str, Any]) -> dict[str, Any]:
    """The part of a rotation statement both keys sign."""
    return {k: statement[k] for k in ("type", "node", "org", "old_key", "new_key", "rotated")}


def rotate(node: Node) -> dict[str, Any]:
    """Replace the node key; returns the signed rotation statement."""
    old = current(node)
    new = NodeKey.generate()
    now = node.clock.now_us()
    statement: dict[str, Any] = {
        "type": ROTATION_TYPE, "node": node_id(node), "org": node.operating_org().id,
        "old_key": old.public, "new_key": new.public, "rotated": format_us(now)}
    record = rotation_record(statement)
    statement["old_fingerprint"] = old.fingerprint
    statement["new_fingerprint"] = new.fingerprint
    statement["signature"] = old.sign(record)
    statement["new_signature"] = new.sign(record)
    path = Path(node.settings.data) / KEY_FILE
    tmp = path.with_name(KEY_FILE + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(new.pem())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)  # atomic: a reader sees the old key or the new, never a mix
    node.store.add_node_key(new.fingerprint, new.public, now)
    node.store.retire_node_key(old.fingerprint, now, canonical(statement))
    assert node.node_key().fingerprint == new.fingerprint
    return statement


def own_public_keys(node: Node) -> frozenset[str]:
    """Every public key this node has signed with (current and retired)."""
    return frozenset({node.node_key().public, *(pub for _, pub, *_ in node.store.node_keys())})


__all__ = ["current", "fingerprint", "identity", "node_id", "own_public_keys", "rotate"]
