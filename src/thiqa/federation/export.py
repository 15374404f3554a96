"""Versions leaving the node for a peer, with their signed provenance attached.

Only here is the provenance extension put on an object: TAXII reads serve the stored
bodies unchanged, at no cost. For each version of the page:

- originated here: the batch's signature, with the version's index and audit path
  (the tree of a batch is rebuilt from its stored leaves once per export call);
- received: the extension exactly as it arrived, plus a hop signed by this node that
  links to the last element of the chain.

A version with neither (stored before signing existed, or forwarded here under
another originator with a new body) cannot be vouched for: it is left out and named
in :attr:`Exported.unsigned`.
"""

from __future__ import annotations

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


def export(node: Node, who: Principal, ref: str, query: ObjectQuery) -> Exported:
    """A page of ``ref`` as ``who`` may read it (the one policy), with provenance."""
    page = node.read(who, ref, query, bodies=True)
    objects, unsigned = attach_provenance(node, page)
    return Exported(objects, page, unsigned)


def attach_provenance(node: Node, page: Page) -> tuple[list[dict[str, Any]], list[str]]:
    """The page's versions with provenance, and the ids of those that have none."""
    stored = node.store.provenance([r.seq for r in page.records])
    batches: dict[int, tuple[SignedBatch, list[list[bytes]]] | None] = {}
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
            if p.batch_pk not in batches:
                batches[p.batch_pk] = _tree(node, p.batch_pk)
            found = batches[p.batch_pk]
            if found is not None and p.leaf < len(found[1][0]) \
                    and found[1][0][p.leaf] == leaf_of(obj):
                b, tree = found
                ext = {"extension_type": "property-extension", "signature": {
                    "node": b.node_id, "org": b.org_id, "key": b.key,
                    "signed": format_us(b.signed_us), "size": len(tree[0]), "index": p.leaf,
                    "root": b64(b.root), "path": [b64(h) for h in merkle.path(tree, p.leaf)],
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


def _tree(node: Node, pk: int) -> tuple[SignedBatch, list[list[bytes]]] | None:
    b = node.store.signing_batch(pk)
    if b is None:
        return None
    leaves = [b.leaves[i : i + merkle.DIGEST] for i in range(0, len(b.leaves), merkle.DIGEST)]
    return b, merkle.levels(leaves)
