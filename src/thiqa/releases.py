"""Release requests and grants: the originator's consent to onward sharing.

DESIGN rules 2-3 refuse to let a received AMBER/RED version (or a GREEN one under
originator control, or outside closed communities) go into another collection —
"anything else needs a release grant signed by the originator". The workflow:

1. the receiver asks (``request``): which object, into which of its writable
   collections, why; the request names the originator, who alone may decide;
2. the originator grants or refuses (``decide``). A grant is a record — object,
   originator, grantee, target collection, time — in RFC 8785 canonical JSON, signed
   with the node's Ed25519 key (:mod:`thiqa.signing`);
3. on every write into that collection by the grantee, the node verifies the grant's
   signature before its re-sharing gate lets the version through
   (:func:`verified_releases`). A grant whose record or signature was altered is
   worthless; the version is stored with its originator kept and a handling never
   relaxed (:func:`thiqa.policy.reshare_gate`).

Every step is in the audit log. With federation, grants signed by a partner node will
be checked against that node's pinned key in the same place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from thiqa import audit, policy, signing
from thiqa.access import collection_access
from thiqa.auth import Principal
from thiqa.errors import BadRequest, Conflict, Forbidden, NotFound
from thiqa.store.model import ALL, Collection, ObjectQuery, Release
from thiqa.timestamps import format_us

if TYPE_CHECKING:
    from thiqa.node import Node

GRANT_TYPE = "thiqa-release-grant"
_REASON_MAX = 2000


def request(node: Node, who: Principal, object_id: str, target_ref: str,
            reason: str = "") -> list[Release]:
    """Ask the originator(s) of ``object_id`` — as the caller received it — to release
    it into ``target_ref``. One request per originator (normally one)."""
    if who.role == "reader":
        node.deny(who, "403: a reader key may not ask for releases")
        raise Forbidden("a reader key may not ask for releases")
    if len(reason) > _REASON_MAX:
        raise BadRequest(f"a reason has at most {_REASON_MAX} characters")
    target = node.writable(who, target_ref)
    originators = sorted(_received_from(node, who, object_id))
    if not originators:
        raise NotFound(f"no object {object_id!r} received from another organisation")
    now = node.clock.now_us()
    made = []
    for originator in originators:
        r = Release(node.clock.new_uuid(), object_id, who.org.id, originator, target.pk,
                    reason, "pending", now)
        node.store.add_release(r)
        made.append(r)
    node.store.append_audit([audit.by(who, now, "release.request", collection=target.id,
                                      objects=(object_id,),
                                      detail=f"asked {', '.join(originators)}")])
    return made


def decide(node: Node, who: Principal, release_id: str, *, grant: bool) -> Release:
    """The originator grants (signing the grant) or refuses a pending request."""
    r = node.store.get_release(release_id)
    if r is None or r.originator != who.org.id:
        raise NotFound(f"no release request {release_id!r} for your organisation to decide")
    if who.role == "reader":
        node.deny(who, "403: a reader key may not decide releases")
        raise Forbidden("a reader key may not decide releases")
    if r.state != "pending":
        raise Conflict(f"release request {release_id!r} was already {r.state}")
    now = node.clock.now_us()
    target = _collection(node, r.collection_pk)
    if grant:
        record = grant_record(r, target, now)
        key = node.node_key()
        done = node.store.decide_release(r.id, "granted", now, signing.canonical(record),
                                         key.sign(record), key.public)
    else:
        done = node.store.decide_release(r.id, "refused", now)
    if not done:
        raise Conflict(f"release request {release_id!r} was decided meanwhile")
    node.store.append_audit([audit.by(who, now, "release.grant" if grant else "release.refuse",
                                      collection=target.id, objects=(r.object_id,),
                                      detail=f"release {r.id} for {r.requester}")])
    decided = node.store.get_release(r.id)
    assert decided is not None
    return decided


def listing(node: Node, who: Principal) -> list[Release]:
    """The requests the caller's organisation made or must decide."""
    return node.store.list_releases(who.org.id)


def grant_record(r: Release, target: Collection, now_us: int) -> dict[str, Any]:
    return {"type": GRANT_TYPE, "release": r.id, "object_id": r.object_id,
            "originator": r.originator, "grantee": r.requester, "collection": target.id,
            "granted": format_us(now_us)}


def verified_releases(node: Node, grantee: str,
                      target: Collection) -> frozenset[tuple[str, str]]:
    """(object id, originator) pairs ``grantee`` may release into ``target``: granted,
    for exactly this grantee and collection, signed by this node's key."""
    key = node.node_key()
    out: set[tuple[str, str]] = set()
    for r in node.store.granted_releases(grantee, target.pk):
        if r.grant_record is None or r.signature is None or r.signer != key.public:
            continue
        try:
            record = orjson.loads(r.grant_record)
        except orjson.JSONDecodeError:
            continue
        if not signing.verify(key.public, record, r.signature):
            continue
        expected = {"type": GRANT_TYPE, "release": r.id, "object_id": r.object_id,
                    "originator": r.originator, "grantee": grantee, "collection": target.id}
        if all(record.get(k) == v for k, v in expected.items()):
            out.add((r.object_id, r.originator))
    return frozenset(out)


def _received_from(node: Node, who: Principal, object_id: str) -> set[str]:
    """Originators other than the caller's org of the versions of ``object_id`` the
    caller may see, in any collection it may read."""
    held = node.entitlements(who)
    viewer = policy.viewer(who)
    found: set[str] = set()
    for c in node.store.list_collections():
        access = collection_access(who, c, held)
        if not access.can_read:
            continue
        page = node.store.query(ObjectQuery(c.pk, ids=(object_id,), versions=ALL, limit=1000,
                                            visibility=policy.read_filter(viewer, c, access)),
                                bodies=False)
        found |= {r.originator for r in page.records if r.originator != who.org.id}
    return found


def _collection(node: Node, pk: int) -> Collection:
    for c in node.store.list_collections():
        if c.pk == pk:
            return c
    raise NotFound("the collection of this release request no longer exists")
