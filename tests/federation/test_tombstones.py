"""Signed tombstones between real nodes (in process, both stores): what the originator
signs, what a receiver applies, and every tombstone it must refuse."""

from __future__ import annotations

import base64
import copy
from typing import Any

from tests.conftest import indicator
from tests.federation.conftest import Peer, befriend
from tests.federation.test_federation import outgoing, publish, stored
from thiqa import audit
from thiqa.federation import tombstones, trust
from thiqa.federation.tombstones import TombstoneTable
from thiqa.signing import NodeKey
from thiqa.store.model import ALL, Collection, Versions
from thiqa.stream.model import Event
from thiqa.timestamps import version_key

V = "2024-01-01T00:00:00.000Z"


def _collection(p: Peer, ref: str) -> Collection:
    c = p.node.store.get_collection(ref)
    assert c is not None
    return c


def kept(p: Peer, object_id: str) -> list[dict[str, Any]]:
    """The tombstones ``p`` keeps for ``object_id``, in their wire form."""
    return [t.body for t, _ in TombstoneTable(p.node.store).of([object_id])]


def retract(p: Peer, object_id: str, *from_refs: str) -> None:
    who = p.node.authenticate(f"Bearer {p.key}")
    p.node.retract(who, object_id, list(from_refs) if from_refs else None)


def rejections(p: Peer) -> list[audit.Event]:
    return p.node.audit_log(audit.AuditQuery(action="federation.reject"))


def _shared(a: Peer, b: Peer, n: int) -> tuple[str, str]:
    """A publishes indicator ``n``; B (which pins A and C) receives it into a community;
    returns (its id, B's collection alias)."""
    into = befriend(b, a)
    publish(a, indicator(n, tlp="green"))
    got = b.node.receive(a.id, into, outgoing(a))
    assert len(got.stored) == 1
    return str(indicator(n)["id"]), into


def test_a_retraction_is_signed_and_withdraws_the_received_copies(
        peers: dict[str, Peer]) -> None:
    a, b = peers["a"], peers["b"]
    oid, into = _shared(a, b, 1)
    early = outgoing(a)  # what a partner that has not heard of the retraction holds
    retract(a, oid)
    (stone,) = kept(a, oid)
    assert stone["what"] == "retract" and stone["collections"] is None
    assert stone["node"] == a.id and stone["org"] == a.org and stone["hops"] == []
    assert stone["version"] == V

    done = tombstones.receive(b.node, a.id, _collection(b, into), [(oid, V, stone)])
    assert (done.accepted, done.withdrawn, done.refused) == (1, 1, [])
    assert stored(b, into) == []
    assert b.node.audit_log(audit.AuditQuery(action="federation.withdraw"))
    # Delivered again by a partner that has not heard of the retraction: verified, but
    # not stored.
    again = b.node.receive(a.id, into, early)
    assert not again.stored and [o.id for o in again.withdrawn] == [oid]
    assert stored(b, into) == []
    # The same tombstone again changes nothing and is not an error.
    twice = tombstones.receive(b.node, a.id, _collection(b, into), [(oid, V, stone)])
    assert (twice.accepted, twice.withdrawn, twice.refused) == (0, 0, [])


def test_a_tombstone_before_its_version_still_ends_right(peers: dict[str, Peer]) -> None:
    a, b = peers["a"], peers["b"]
    into = befriend(b, a)
    publish(a, indicator(2, tlp="green"))
    early = outgoing(a)  # exported, then delayed on a slow path
    oid = str(indicator(2)["id"])
    retract(a, oid)
    (stone,) = kept(a, oid)
    done = tombstones.receive(b.node, a.id, _collection(b, into), [(oid, V, stone)])
    assert (done.accepted, done.withdrawn) == (1, 0)  # nothing held yet, but kept
    late = b.node.receive(a.id, into, early)
    assert not late.stored and not late.rejected and len(late.withdrawn) == 1
    assert stored(b, into) == []
    # Published again later by its originator: a new signature, after the tombstone.
    peers["a"].node.clock.advance(1_000_000)  # type: ignore[attr-defined]
    publish(a, indicator(2, tlp="green"))
    again = b.node.receive(a.id, into, outgoing(a))
    assert len(again.stored) == 1 and not again.withdrawn


def _forge(record: dict[str, Any], key: NodeKey) -> dict[str, Any]:
    body = {k: record[k] for k in tombstones.RECORD_FIELDS}
    return {**body, "value": key.sign(body), "hops": []}


def test_forged_tombstones_are_refused_logged_and_change_nothing(
        peers: dict[str, Peer]) -> None:
    a, b, c = peers["a"], peers["b"], peers["c"]
    oid, into = _shared(a, b, 3)
    befriend(b, c)  # B pins C too: C's key is known here, for C
    other = str(indicator(4)["id"])
    publish(a, indicator(4, tlp="green"))
    assert not b.node.receive(a.id, into, outgoing(a)).rejected
    retract(a, other)  # a genuine tombstone, for another object
    (genuine,) = kept(a, other)
    forged_value = copy.deepcopy(genuine)
    raw = bytearray(base64.b64decode(forged_value["value"]))
    raw[0] ^= 1
    forged_value["value"] = base64.b64encode(bytes(raw)).decode()
    tampered = {**genuine, "object": oid}  # the signed record names the other object
    record = {**genuine, "object": oid}
    unknown_key = NodeKey.generate()
    unknown = _forge({**record, "key": unknown_key.fingerprint}, unknown_key)
    c_key = c.node.node_key()
    wrong_node = _forge({**record, "key": c_key.fingerprint}, c_key)  # C's key, A named
    wrong_org = _forge({**record, "node": c.id, "key": c_key.fingerprint}, c_key)
    cases = {
        "unsigned": None,
        "forged signature": {**forged_value, "object": oid},
        "tampered": tampered,
        "unknown key": unknown,
        "wrong node": wrong_node,
        "wrong organisation": wrong_org,
        "replayed for another object": genuine,
        "malformed": {**genuine, "what": "erase"},
    }
    before = stored(b, into)
    done = tombstones.receive(b.node, a.id, _collection(b, into),
                              [(oid, V, t) for t in cases.values()])
    assert (done.accepted, done.withdrawn) == (0, 0)
    assert stored(b, into) == before and (oid, a.org) in before
    why = [r[2] for r in done.refused]
    assert len(why) == len(cases)
    expected = ["unsigned", "forged tombstone", "forged tombstone", "unknown key",
                f"pinned for node {c.id}, not {a.id}", f"may not sign for {a.org}",
                "replayed for another object", "malformed tombstone"]
    for reason, text in zip(why, expected, strict=True):
        assert text in reason, (text, reason)
    assert TombstoneTable(b.node.store).of([oid]) == []
    logged = rejections(b)
    assert len(logged) == len(cases) and all(oid in e.objects for e in logged)


def _events(p: Peer, ref: str, object_id: str, kind: str = "retract") -> list[Event]:
    c = _collection(p, ref)
    return [Event(10, kind, c.pk, object_id, "indicator", V, "2.1", 0, 0)]  # type: ignore[arg-type]


def test_a_relay_adds_its_hop_and_the_chain_is_verified(peers: dict[str, Peer]) -> None:
    a, h, b = peers["a"], peers["h"], peers["b"]
    hub_in = befriend(h, a)
    publish(a, indicator(5, tlp="green"))
    assert len(h.node.receive(a.id, hub_in, outgoing(a)).stored) == 1
    into = befriend(b, a, h)
    assert len(b.node.receive(h.id, into, outgoing(h, hub_in)).stored) == 1
    oid = str(indicator(5)["id"])
    retract(a, oid)
    (stone,) = kept(a, oid)
    got = tombstones.receive(h.node, a.id, _collection(h, hub_in), [(oid, V, stone)])
    assert got.withdrawn == 1
    # H serves it on with its hop; B verifies it against A's key and H's.
    (sent,) = tombstones.outgoing(h.node, _collection(h, hub_in), _events(h, hub_in, oid))
    assert [x["node"] for x in sent["tombstone"]["hops"]] == [h.id]
    # Not back to the node it came from.
    assert tombstones.outgoing(h.node, _collection(h, hub_in), _events(h, hub_in, oid),
                               a.id) == []
    # Delivered by H without H's hop (a relay must sign), or with an altered hop: refused.
    unsigned_hop = {**sent["tombstone"], "hops": []}
    altered = copy.deepcopy(sent["tombstone"])
    altered["hops"][0]["forwarded"] = "2020-01-01T00:00:00Z"
    bad = tombstones.receive(b.node, h.id, _collection(b, into),
                             [(oid, V, unsigned_hop), (oid, V, altered)])
    assert bad.withdrawn == 0 and len(bad.refused) == 2
    assert "must sign its hop" in bad.refused[0][2] and "hop 1" in bad.refused[1][2]
    assert stored(b, into) == [(oid, a.org)]
    good = tombstones.receive(b.node, h.id, _collection(b, into),
                              [(oid, V, sent["tombstone"])])
    assert (good.accepted, good.withdrawn, good.refused) == (1, 1, [])
    assert stored(b, into) == []


def test_a_forwarding_nodes_plain_delete_stays_local(peers: dict[str, Peer]) -> None:
    a, h = peers["a"], peers["h"]
    hub_in = befriend(h, a)
    publish(a, indicator(6, tlp="green"))
    assert len(h.node.receive(a.id, hub_in, outgoing(a)).stored) == 1
    oid = str(indicator(6)["id"])
    admin = h.node.operator_for(h.org)
    assert h.node.delete(admin, hub_in, oid, ALL, ()) == 1
    # Nothing signed: H's delete withdrew H's copy only, and goes nowhere.
    assert kept(h, oid) == []
    assert tombstones.outgoing(h.node, _collection(h, hub_in),
                               _events(h, hub_in, oid, "delete")) == []


def test_scope_narrowing_withdraws_from_the_named_collection_only(
        peers: dict[str, Peer]) -> None:
    a, b = peers["a"], peers["b"]
    oid, into = _shared(a, b, 7)
    who = a.node.authenticate(f"Bearer {a.key}")
    assert a.node.delete(who, "outbox", oid, Versions(keys=(version_key(V),)), ()) == 1
    (stone,) = kept(a, oid)
    outbox = _collection(a, "outbox")
    assert stone["what"] == "delete"
    assert stone["collections"] == [{"id": outbox.id, "alias": "outbox"}]
    # At B the community collection is not "outbox": the scope does not name it...
    done = tombstones.receive(b.node, a.id, _collection(b, into), [(oid, V, stone)])
    assert (done.accepted, done.withdrawn) == (1, 0)
    assert stored(b, into) == [(oid, a.org)]
    # ...unless it came from A itself over a link that maps it to A's "outbox".
    done = tombstones.receive(b.node, a.id, _collection(b, into), [(oid, V, stone)],
                              remote="outbox")
    assert done.withdrawn == 1
    assert stored(b, into) == []


def test_a_narrowed_retraction_names_its_collections(peers: dict[str, Peer]) -> None:
    a, b = peers["a"], peers["b"]
    oid, into = _shared(a, b, 8)
    retract(a, oid, "outbox")
    (stone,) = kept(a, oid)
    assert stone["what"] == "retract"
    assert [c["alias"] for c in stone["collections"]] == ["outbox"]
    # A tampered scope (widened to B's collection) no longer verifies.
    widened = {**stone, "collections": None}
    done = tombstones.receive(b.node, a.id, _collection(b, into), [(oid, V, widened)])
    assert done.withdrawn == 0 and "forged tombstone" in done.reason
    assert stored(b, into) == [(oid, a.org)]


def test_a_tombstone_signed_by_a_revoked_key_is_refused(peers: dict[str, Peer]) -> None:
    a, b = peers["a"], peers["b"]
    oid, into = _shared(a, b, 9)
    retract(a, oid)
    (stone,) = kept(a, oid)
    trust.revoke(b.node, a.node.node_key().fingerprint)
    done = tombstones.receive(b.node, a.id, _collection(b, into), [(oid, V, stone)])
    assert done.withdrawn == 0 and "revoked" in done.reason
    assert stored(b, into) == [(oid, a.org)]
