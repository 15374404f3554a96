"""Versions leaving the node for a peer, with their signed provenance attached.

Only here is the provenance extension put on an object: TAXII reads serve the stored
bodies unchanged, at no cost. For each version of the page:

- originated here: the batch's signature, with the version's index and audit path
  (the tree of a batch is rebuilt from its stored leaves once, :class:`Trees`);
- received: the extension exactly as it arrived, plus a hop signed by this node that
  links to the last element of the chain.

A version with neither (stored before signing existed, or forwarded here under
another originator with a new body) cannot be vouched for: it is left out and named
in :attr:`Exported.unsigned`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from thiqa.auth import Principal
from thiqa.federation import keys, merkle
from thiqa.federation.extension import attach, b64, hop_record, link
from thiqa.federation.sign import leaf_of
from thiqa.store.model import ObjectQuery, Page, SignedBatch
from thiqa.timestamps import format_us

if TYPE_CHECKING:
    from thiqa.node import Node


@dataclass(slots=True)
class Exported:
    objects: list[dict[str, Any]]
    page: Page
    unsigned: list[str] = field(default_factory=list)


# A batch, its tree, and the tree's nodes as base64 (what audit paths are sent as).
Tree = tuple[SignedBatch, list[list[bytes]], list[list[str]]]


class Trees:
    """The Merkle trees of the batches exported lately, rebuilt from their stored leaves
    once, not once per fetch: a catch-up fetches a 5,000-version batch in several calls,
    and a batch of ``thiqa load`` never changes once stored. Bounded (``most`` trees)."""

    def __init__(self, most: int = 16) -> None:
        self.most = most
        self._trees: OrderedDict[int, Tree | None] = OrderedDict()
        self._lock = threading.Lock()  # fetches of several peers run in worker threads

    def get(self, node: Node, pk: int) -> Tree | None:
        with self._lock:
            if pk in self._trees:
                self._trees.move_to_end(pk)
                return self._trees[pk]
        found = _tree(node, pk)
        with self._lock:
            self._trees[pk] = found
            while len(self._trees) > self.most:
                self._trees.popitem(last=False)
        return found


def export(node: Node, who: Principal, ref: str, query: ObjectQuery) -> Exported:
    """A page of ``ref`` as ``who`` may read it (the one policy), with provenance."""
    page = node.read(who, ref, query, bodies=True)
    objects, unsigned = attach_provenance(node, page)
    return Exported(objects, page, unsigned)


def attach_provenance(node: Node, page: Page, trees: Trees | None = None
                      ) -> tuple[list[dict[str, Any]], list[str]]:
    """The page's versions with provenance, and the ids of those that have none
    (``trees``: the batch trees kept between calls)."""
    stored = node.store.provenance([r.seq for r in page.records])
    trees = trees if trees is not None else Trees()
    key = node.node_key()
    me = keys.node_id(node)
    org = node.operating_org().id
    now = format_us(node.clock.now_us())
    out: list[dict[str, Any]] = []
    unsigned: list[str] = []
    for r in page.records:
        assert r.body is not None
        obj = orjson.loads(r.body)
        p = stored.get(r.seq)
        ext: dict[str, Any] | None = None
        if p is not None and p.batch_pk is not None and p.leaf is not None:
            found = trees.get(node, p.batch_pk)
            if found is not None and p.leaf < len(found[1][0]) \
                    and found[1][0][p.leaf] == leaf_of(obj):
                b, tree, text = found
                ext = {"extension_type": "property-extension", "signature": {
                    "node": b.node_id, "org": b.org_id, "key": b.key,
                    "signed": format_us(b.signed_us), "size": len(tree[0]), "index": p.leaf,
                    "root": b64(b.root), "path": merkle.path(text, p.leaf),
                    "value": b.signature}}
        elif p is not None and p.received is not None:
            ext = orjson.loads(p.received)
            chain = ext.get("hops", [])
            hop: dict[str, Any] = {"node": me, "org": org, "key": key.fingerprint,
                                   "forwarded": now,
                                   "prev": link(chain[-1] if chain else ext["signature"])}
            hop["value"] = key.sign(hop_record(hop))
            ext = {**ext, "hops": [*chain, hop]}
        if ext is None:
            unsigned.append(r.id)
        else:
            out.append(attach(obj, ext))
    return out, unsigned


def _tree(node: Node, pk: int) -> Tree | None:
    b = node.store.signing_batch(pk)
    if b is None:
        return None
    leaves = [b.leaves[i : i + merkle.DIGEST] for i in range(0, len(b.leaves), merkle.DIGEST)]
    tree = merkle.levels(leaves)
    return b, tree, [[b64(h) for h in level] for level in tree]
