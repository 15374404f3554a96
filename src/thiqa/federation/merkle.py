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

import base64
import hashlib
from collections.abc import Sequence
from typing import TypeVar

DIGEST = 32
_Node = TypeVar("_Node")  # a node's hash, or its text
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


def path(tree: Sequence[Sequence[_Node]], index: int) -> list[_Node]:
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


class Proven:
    """The nodes of one signed tree proven so far: every node computed, and every sibling
    used, on an audit path that folded to the tree's root after that root's signature
    verified. They let the next leaves of the same batch be checked with a hash or two
    instead of a whole path of hashes: fold the leaf with its own path entries until the
    hash meets a proven node at the same position; if every remaining entry of the path
    is exactly the proven sibling at its level, folding on would reach the root, since
    proven nodes do.

    Siblings above the meeting point are compared as the base64 text they arrive in (no
    decoding); a path this cannot decide (no proven node met, other text for the same
    bytes, a malformed entry) is left to the caller to fold in full, with the verdict it
    always had.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._nodes: dict[tuple[int, int], bytes] = {}
        self._text: dict[tuple[int, int], str] = {}

    def learn(self, leaf_hash: bytes, index: int, audit_path: Sequence[bytes],
              texts: Sequence[str]) -> None:
        """Record a path that folded to the proven root (``texts``: its entries as
        received)."""
        h, m, used, level = leaf_hash, self.size, 0, 0
        self._node(0, index, h)
        while m > 1:
            if index % 2 or index + 1 < m:
                self._node(level, index ^ 1, audit_path[used], texts[used])
                h = _step(h, audit_path[used], index)
                used += 1
            index //= 2
            m = (m + 1) // 2
            level += 1
            self._node(level, index, h)

    def _node(self, level: int, index: int, h: bytes, text: str | None = None) -> None:
        if (level, index) not in self._nodes:
            self._nodes[(level, index)] = h
            self._text[(level, index)] = text or base64.b64encode(h).decode()

    def reaches(self, leaf_hash: bytes, index: int, texts: Sequence[object]) -> bool:
        """Whether the leaf at ``index`` with audit path ``texts`` (base64) is shown to
        fold to the root; the nodes it proves are recorded. False means "not shown"."""
        if not 0 <= index < self.size:
            return False
        h, m, used, level = leaf_hash, self.size, 0, 0
        met = self._nodes.get((0, index)) == h
        below: list[tuple[int, int, bytes, str | None]] = [(0, index, h, None)]
        while m > 1:
            if index % 2 or index + 1 < m:
                if used == len(texts):
                    return False
                text = texts[used]
                used += 1
                if met:
                    if self._text.get((level, index ^ 1)) != text:
                        return False
                else:
                    sibling = _decoded(text)
                    if sibling is None:
                        return False
                    below.append((level, index ^ 1, sibling, str(text)))
                    h = _step(h, sibling, index)
            index //= 2
            m = (m + 1) // 2
            level += 1
            if not met:
                known = self._nodes.get((level, index))
                if known is None:
                    below.append((level, index, h, None))
                elif known != h:
                    return False
                else:
                    met = True
        if not (met and used == len(texts)):
            return False
        for node in below:
            self._node(*node)
        return True


def _step(h: bytes, sibling: bytes, index: int) -> bytes:
    return _parent(sibling, h) if index % 2 else _parent(h, sibling)


def _decoded(text: object) -> bytes | None:
    if not isinstance(text, str):
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        return None
    return raw if len(raw) == DIGEST else None
