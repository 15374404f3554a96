"""Merkle trees over a batch of signed versions: one Ed25519 signature for thousands.

An Ed25519 signature costs ~30 µs to make and ~95 µs to check on the 2-core benchmark
machine; ``thiqa load`` has ~50 µs an indicator in all. So the node signs a batch: the
leaf of a version is ``SHA-256(0x00 ‖ canonical JSON)``, inner nodes are
``SHA-256(0x01 ‖ left ‖ right)`` (the domain separation of RFC 9162 §2.1.1, so a leaf
can never pass for an inner node), and the root is signed once. Each version carries
its index, the batch size and the audit path: the sibling hashes from its leaf to the
root (at most 13 for a batch of 5,000). A receiver folds the path and checks the
root's signature once per batch (:func:`root_of` is pure hashing).

Shape: level by level from the leaves, pairing neighbours; a lone last node is carried
up unchanged. The path therefore skips the levels where a node has no sibling, and
both sides derive which levels those are from (index, size) alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

DIGEST = 32
_LEAF = b"\x00"
_NODE = b"\x01"


def leaf(canonical_json: bytes) -> bytes:
    return hashlib.sha256(_LEAF + canonical_json).digest()


def _parent(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE + left + right).digest()


def levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the tree, leaves first, root last (a one-element list)."""
    if not leaves:
        raise ValueError("a Merkle tree needs at least one leaf")
    out = [list(leaves)]
    level = out[0]
    while len(level) > 1:
        up = [_parent(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            up.append(level[-1])
        out.append(up)
        level = up
    return out


def path(tree: list[list[bytes]], index: int) -> list[bytes]:
    """The audit path of leaf ``index``: its siblings, bottom up."""
    if not 0 <= index < len(tree[0]):
        raise ValueError(f"leaf {index} is not in a tree of {len(tree[0])}")
    out = []
    for level in tree[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            out.append(level[sibling])
        index //= 2
    return out


def root_of(leaf_hash: bytes, index: int, size: int, audit_path: Sequence[bytes]) -> bytes | None:
    """The root that ``audit_path`` leads to from ``leaf_hash`` at ``index`` in a tree of
    ``size`` leaves; None when the path does not fit that position (too short, too
    long, or an index outside the tree)."""
    if not 0 <= index < size:
        return None
    h, m, used = leaf_hash, size, 0
    while m > 1:
        if index % 2 or index + 1 < m:
            if used == len(audit_path):
                return None
            sibling = audit_path[used]
            used += 1
            h = _parent(sibling, h) if index % 2 else _parent(h, sibling)
        index //= 2
        m = (m + 1) // 2
    return h if used == len(audit_path) else None
