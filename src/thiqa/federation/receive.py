"""The gate for versions received from a peer node (what peering calls).

:func:`receive` verifies every object (:mod:`thiqa.federation.verify`), then stores the
ones that pass as published by their **originator** — the organisation the signature
names, not the node that delivered them — through the same write path as any other
write: validation (:mod:`thiqa.ingest`), the collection's default handling, and the
re-sharing gate of :mod:`thiqa.policy` (a version the node already holds from another
originator is judged there). The originator must be in the collection's scope (its
organisation may write the collection: a member of its community, or granted).

Rejections are never stored; each is recorded in the audit log with its reason
(``federation.reject``), and the accepted ones as a write (``federation.receive``).
The received provenance extension is kept with each stored version, so that a later
forward carries the originator's signature untouched, plus this node's hop.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from thiqa import audit, ingest
from thiqa.access import collection_access
from thiqa.auth import Principal
from thiqa.errors import Forbidden, NotFound
from thiqa.federation import tombstones
from thiqa.federation.verify import Verdict, Verifier
from thiqa.store.model import ApiKey, NewVersion, Outcome, Provenance

if TYPE_CHECKING:
    from thiqa.node import Node

PEER_KEY = "peer:"  # audit key id prefix of what a peer delivered


@dataclass(slots=True)
class Received:
    """What became of a delivery: stored (or already held), rejected with reasons, and
    withdrawn (verified, but a tombstone kept here withdrew them already)."""

    stored: list[Outcome] = field(default_factory=list)
    rejected: list[Outcome] = field(default_factory=list)
    withdrawn: list[Outcome] = field(default_factory=list)  # after a tombstone: not stored


def receive(node: Node, peer: str, ref: str, objects: list[Any]) -> Received:
    pins = [k for k in node.store.trusted_keys(peer) if k.revoked_us is None]
    if not pins:
        node._record(audit.Event(node.clock.now_us(), "", PEER_KEY + peer, "federation.reject",
                                 "denied", detail=f"{peer} is not a pinned peer"))
        raise Forbidden(f"{peer!r} is not a peer of this node: pin its key first "
                        "(thiqa trust pin)")
    collection = node.store.get_collection(ref)
    if collection is None:
        raise NotFound(f"no collection {ref!r}")
    now = node.clock.now_us()
    verifier = Verifier(node.store.trusted_key, peer, now)
    result = Received()
    by_origin: dict[str, list[Verdict]] = defaultdict(list)
    verdicts = [verifier.check(obj) for obj in objects]
    # A version its originator withdrew already (a signed tombstone kept here) is not
    # stored again when a partner that has not heard of the withdrawal delivers it.
    gone = tombstones.withdrawn(node, collection, verdicts)
    for i, (obj, v) in enumerate(zip(objects, verdicts, strict=True)):
        if i in gone:
            result.withdrawn.append(Outcome(v.object_id, _version(obj), False,
                                            "withdrawn by its originator"))
        elif v.ok:
            by_origin[v.originator].append(v)
        else:
            result.rejected.append(Outcome(v.object_id, _version(obj), False, v.reason))
    for originator, verdicts in by_origin.items():
        _store(node, peer, collection.pk, originator, verdicts, result)
    events = []
    if result.stored:
        events.append(audit.Event(now, "", PEER_KEY + peer, "federation.receive", "ok",
                                  collection.id, tuple(o.id for o in result.stored),
                                  f"{len(result.stored)} stored from {peer}"))
    reasons: dict[str, list[str]] = defaultdict(list)
    for o in result.rejected:
        reasons[o.message or ""].append(o.id)
    for reason, ids in reasons.items():
        events.append(audit.Event(now, "", PEER_KEY + peer, "federation.reject", "denied",
                                  collection.id, tuple(i for i in ids if i),
                                  f"{len(ids)} from {peer} refused: {reason}"[:1000]))
    node._record(*events)
    return result


def _store(node: Node, peer: str, collection_pk: int, originator: str,
           verdicts: list[Verdict], result: Received) -> None:
    collection = next(c for c in node.store.list_collections() if c.pk == collection_pk)
    org = node.store.get_org(originator)

    def refuse(reason: str) -> None:
        result.rejected.extend(Outcome(v.object_id, _version(v.content), False, reason)
                               for v in verdicts)

    if org is None:
        refuse(f"the originator {originator} is not an organisation known to this node")
        return
    who = Principal(ApiKey(PEER_KEY + peer, org.id, "analyst", "peer", node.clock.now_us()),
                    org)
    if not collection_access(who, collection, node.entitlements(who)).can_write:
        refuse(f"the originator {originator} is not in the scope of this collection")
        return
    good: list[NewVersion] = []
    kept: list[bytes] = []
    for v in verdicts:
        item = ingest.prepare(v.content)
        if isinstance(item, NewVersion):
            good.append(item)
            kept.append(v.provenance)
        else:
            result.rejected.append(item)
    outcomes = node.store.add_versions(collection_pk, good, node.clock.now_us(),
                                       node.origin(who, collection), Provenance(received=kept))
    for o in outcomes:
        (result.stored if o.ok else result.rejected).append(o)


def _version(obj: Any) -> str:
    if not isinstance(obj, dict):
        return ""
    v = obj.get("modified") or obj.get("created")
    return v if isinstance(v, str) else ""
