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


class Encoded:
    """The exported JSON of versions this node originated, by entry: the same bytes for
    every peer that fetches them (the batch's signature and the version's audit path;
    no hop), so when ten subscribers fetch the same new versions, they are looked up,
    attached and serialised once, not ten times. What a peer may read is still decided
    per fetch (:meth:`Node.read`); only the encoding of a stored, immutable version is
    kept. Bounded (``most`` versions)."""

    def __init__(self, most: int = 10_000) -> None:
        self.most = most
        self._items: OrderedDict[int, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, seq: int) -> bytes | None:
        with self._lock:
            return self._items.get(seq)

    def put(self, seq: int, encoded: bytes) -> None:
        with self._lock:
            self._items[seq] = encoded
            while len(self._items) > self.most:
                self._items.popitem(last=False)


def attach_provenance(node: Node, page: Page, trees: Trees | None = None
                      ) -> tuple[list[dict[str, Any]], list[str]]:
    """The page's versions with provenance, and the ids of those that have none
    (``trees``: the batch trees kept between calls)."""
    return _attach(node, page, trees, None)


def encoded_answer(node: Node, page: Page, trees: Trees | None, encoded: Encoded) -> bytes:
    """A fetch's answer, ``{"objects": [...], "unsigned": [...]}``, as JSON bytes: the
    page's versions with provenance, each originated one serialised once (``encoded``)."""
    objects, unsigned = _attach(node, page, trees, encoded)
    return b'{"objects":[' + b",".join(objects) + b'],"unsigned":' \
        + orjson.dumps(unsigned) + b"}"


def _attach(node: Node, page: Page, trees: Trees | None, encoded: Encoded | None
            ) -> tuple[list[Any], list[str]]:
    """The page's versions with provenance (as JSON bytes when ``encoded`` is given, the
    cache of originated versions), and the ids of those that have none."""
    out: list[Any] = []
    done: dict[int, bytes] = {}
    if encoded is not None:
        for r in page.records:
            hit = encoded.get(r.seq)
            if hit is not None:
                done[r.seq] = hit
    stored = node.store.provenance([r.seq for r in page.records if r.seq not in done])
    trees = trees if trees is not None else Trees()
    key = node.node_key()
    me = keys.node_id(node)
    org = node.operating_org().id
    now = format_us(node.clock.now_us())
    unsigned: list[str] = []
    # What every version of a batch carries alike, made once per call and batch.
    batches: dict[int, tuple[Tree, dict[str, Any]] | None] = {}
    for r in page.records:
        hit = done.get(r.seq)
        if hit is not None:
            out.append(hit)
            continue
        assert r.body is not None
        obj = orjson.loads(r.body)
        p = stored.get(r.seq)
        ext: dict[str, Any] | None = None
        originated = False
        if p is not None and p.batch_pk is not None and p.leaf is not None:
            if p.batch_pk in batches:
                known = batches[p.batch_pk]
            else:
                found = trees.get(node, p.batch_pk)
                known = batches[p.batch_pk] = None if found is None else (found, {
                    "node": found[0].node_id, "org": found[0].org_id, "key": found[0].key,
                    "signed": format_us(found[0].signed_us), "size": len(found[1][0]),
                    "root": b64(found[0].root), "value": found[0].signature})
            if known is not None and p.leaf < len(known[0][1][0]) \
                    and known[0][1][0][p.leaf] == leaf_of(obj):
                originated = True
                ext = {"extension_type": "property-extension", "signature": {
                    **known[1], "index": p.leaf, "path": merkle.path(known[0][2], p.leaf)}}
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
        elif encoded is None:
            out.append(attach(obj, ext))
        else:
            raw = orjson.dumps(attach(obj, ext))
            if originated:  # a hop is signed per call: those are not kept
                encoded.put(r.seq, raw)
            out.append(raw)
    return out, unsigned


def _tree(node: Node, pk: int) -> Tree | None:
    b = node.store.signing_batch(pk)
    if b is None:
        return None
    leaves = [b.leaves[i : i + merkle.DIGEST] for i in range(0, len(b.leaves), merkle.DIGEST)]
    tree = merkle.levels(leaves)
    return b, tree, [[b64(h) for h in level] for level in tree]
