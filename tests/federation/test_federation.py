"""Sign → export → receive between real nodes: acceptance, every rejection, rotation,
revocation, two hops, STIX validity, and that ``thiqa load`` signs what it stores."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
import stix2

from tests.conftest import indicator
from tests.federation.conftest import Peer, befriend
from thiqa import audit
from thiqa.bulk import load_files
from thiqa.errors import BadRequest, Conflict, Forbidden, NotFound
from thiqa.federation import keys, trust
from thiqa.federation.extension import PROVENANCE_DEFINITION, PROVENANCE_ID
from thiqa.signing import KEY_FILE
from thiqa.stix.validate import validate
from thiqa.store.model import ALL, ObjectQuery

HOUR = 3_600_000_000


def publish(p: Peer, *objs: dict[str, Any]) -> None:
    who = p.node.authenticate(f"Bearer {p.key}")
    status = p.node.add_objects(who, "outbox", list(objs))
    assert not status.failures, status.failures


def outgoing(p: Peer, ref: str = "outbox") -> list[dict[str, Any]]:
    who = p.node.operator_for(p.org)
    got = p.node.export(who, ref, ObjectQuery(0, versions=ALL, limit=1000))
    assert not got.unsigned
    return got.objects


def stored(p: Peer, ref: str) -> list[tuple[str, str]]:
    c = p.node.store.get_collection(ref)
    assert c is not None
    page = p.node.store.query(ObjectQuery(c.pk, versions=ALL), bodies=False)
    return [(r.id, r.originator) for r in page.records]


def rejections(p: Peer) -> list[audit.Event]:
    return p.node.audit_log(audit.AuditQuery(action="federation.reject"))


def test_round_trip_keeps_the_originator(peers: dict[str, Peer]) -> None:
    a, b = peers["a"], peers["b"]
    into = befriend(b, a)
    publish(a, indicator(1, tlp="green"), indicator(2, tlp="amber"))
    sent = outgoing(a)
    assert [o["extensions"][PROVENANCE_ID]["signature"]["org"] for o in sent] == [a.org] * 2
    got = b.node.receive(a.id, into, sent)
    assert not got.rejected and len(got.stored) == 2
    assert stored(b, into) == [(indicator(1)["id"], a.org), (indicator(2)["id"], a.org)]
    # What B stores and serves is the object without the extension, as A signed it.
    c = b.node.store.get_collection(into)
    assert c is not None
    bodies = b.node.store.query(ObjectQuery(c.pk, versions=ALL)).records
    assert all(PROVENANCE_ID not in json.loads(r.body or b"{}").get("extensions", {})
               for r in bodies)
    # Delivering again is idempotent.
    again = b.node.receive(a.id, into, sent)
    assert len(again.stored) == 2 and not again.rejected
    assert len(stored(b, into)) == 2
    ok = b.node.audit_log(audit.AuditQuery(action="federation.receive"))
    assert ok and indicator(1)["id"] in ok[0].objects


def test_signed_object_is_valid_stix(peers: dict[str, Peer]) -> None:
    a = peers["a"]
    publish(a, indicator(3, tlp="green"))
    (sent,) = outgoing(a)
    assert validate(sent) == []
    assert validate(PROVENANCE_DEFINITION) == []
    parsed = stix2.parse(sent, allow_custom=False)
    assert parsed.id == sent["id"]
    stix2.parse(PROVENANCE_DEFINITION)


def test_loaded_objects_are_signed(peers: dict[str, Peer], tmp_path: Path) -> None:
    a, b = peers["a"], peers["b"]
    into = befriend(b, a)
    bundle = tmp_path / "bundle.json"
    objs = [indicator(n, tlp="green") for n in range(10, 40)]
    bundle.write_text(json.dumps({"type": "bundle", "id": "bundle--" + "0" * 8 + "-0000-4000-8000-"
                                  + "0" * 12, "objects": objs}))
    target = a.node.store.get_collection("outbox")
    assert target is not None
    origin = a.node.load_origin(target)
    for parallel in (False, True):
        report = load_files(a.node.store, target, [bundle], clock=a.node.clock,
                            origin=origin, signer=a.node.signer(origin.originator),
                            parallel=parallel)
        assert report.stored == 30
    sent = outgoing(a)
    assert len(sent) == 30
    assert {o["extensions"][PROVENANCE_ID]["signature"]["size"] for o in sent} == {30}
    got = b.node.receive(a.id, into, sent)
    assert len(got.stored) == 30 and not got.rejected


def _reasons(p: Peer, sender: str, into: str, objs: list[dict[str, Any]]) -> list[str]:
    got = p.node.receive(sender, into, objs)
    assert not got.stored
    return [o.message or "" for o in got.rejected]


def test_rejections_name_their_reason(peers: dict[str, Peer]) -> None:
    a, b, c = peers["a"], peers["b"], peers["c"]
    into = befriend(b, a)
    publish(a, indicator(5, tlp="green"))
    (good,) = outgoing(a)

    tampered = copy.deepcopy(good)
    tampered["name"] = "something else"
    forged = copy.deepcopy(good)
    sig = forged["extensions"][PROVENANCE_ID]["signature"]
    sig["value"] = sig["value"][:-8] + ("A" * 6 + "==" if not sig["value"].endswith("A" * 6 + "==")
                                        else "B" * 6 + "==")
    unsigned = {k: v for k, v in good.items() if k != "extensions"}
    wrong_org = copy.deepcopy(good)
    wrong_org["extensions"][PROVENANCE_ID]["signature"]["org"] = b.org

    assert "tampered" in _reasons(b, a.id, into, [tampered])[0]
    assert "forged signature" in _reasons(b, a.id, into, [forged])[0]
    assert "unsigned" in _reasons(b, a.id, into, [unsigned])[0]
    assert "may not sign for" in _reasons(b, a.id, into, [wrong_org])[0]

    # Published by C, whose key B never pinned; and C is no peer of B at all.
    publish(c, indicator(6, tlp="green"))
    (from_c,) = outgoing(c)
    assert "unknown key" in _reasons(b, a.id, into, [from_c])[0]
    with pytest.raises(Forbidden):
        b.node.receive(c.id, into, [from_c])
    # A's version delivered by H (pinned by B) without a hop of its own.
    trust.pin(b.node, keys.identity(peers["h"].node))
    assert "must sign its hop" in _reasons(b, peers["h"].id, into, [good])[0]

    assert stored(b, into) == []
    logged = rejections(b)
    assert any("tampered" in e.detail and good["id"] in e.objects for e in logged)
    assert all(e.outcome == "denied" for e in logged)


def test_revoked_key_is_refused(peers: dict[str, Peer]) -> None:
    a, b = peers["a"], peers["b"]
    into = befriend(b, a)
    publish(a, indicator(7, tlp="green"))
    sent = outgoing(a)
    fp = keys.current(a.node).fingerprint
    trust.revoke(b.node, fp)
    with pytest.raises(Forbidden):  # A has no unrevoked key left: no longer a peer
        b.node.receive(a.id, into, sent)
    with pytest.raises(Conflict):
        trust.pin(b.node, keys.identity(a.node))
    # Another pinned key keeps A a peer; what the revoked key signed stays refused.
    other = keys.identity(peers["c"].node)
    trust.pin(b.node, {**other, "node": a.id, "org": a.org})
    assert "revoked" in _reasons(b, a.id, into, sent)[0]
    assert stored(b, into) == []


def test_rotation_keeps_old_signatures_and_refuses_replays(peers: dict[str, Peer],
                                                          fclock: Any) -> None:
    a, b = peers["a"], peers["b"]
    into = befriend(b, a)
    publish(a, indicator(8, tlp="green"))
    before = outgoing(a)
    keyfile = Path(a.node.settings.data) / KEY_FILE
    old_pem = keyfile.read_bytes()
    fclock.advance(HOUR)
    statement = keys.rotate(a.node)
    assert statement["old_fingerprint"] != statement["new_fingerprint"]
    new = trust.accept_rotation(b.node, statement)
    assert new.fingerprint == keys.current(a.node).fingerprint
    assert trust.accept_rotation(b.node, statement) == new  # importing twice is harmless
    fclock.advance(HOUR)
    publish(a, indicator(9, tlp="green"))
    after = [o for o in outgoing(a) if o["id"] == indicator(9)["id"]]
    got = b.node.receive(a.id, into, [*before, *after])
    assert len(got.stored) == 2 and not got.rejected

    # Someone holding the retired key signs a new version after the rotation.
    tmp = keyfile.with_name("stolen")
    tmp.write_bytes(old_pem)
    os.replace(tmp, keyfile)
    fclock.advance(HOUR)
    publish(a, indicator(9, tlp="green", modified="2024-02-01T00:00:00.000Z"))
    replay = [o for o in outgoing(a) if o["modified"].startswith("2024-02")]
    assert "rotated away" in _reasons(b, a.id, into, replay)[0]

    forged = {**statement, "new_key": keys.identity(peers["c"].node)["public_key"]}
    with pytest.raises(NotFound, match="not pinned"):
        trust.accept_rotation(peers["h"].node, statement)  # H never pinned A
    trust.pin(peers["h"].node, {**keys.identity(a.node), "public_key": statement["old_key"],
                                "fingerprint": statement["old_fingerprint"]})
    with pytest.raises(BadRequest, match="signature"):
        trust.accept_rotation(peers["h"].node, forged)


def test_provenance_over_two_hops(peers: dict[str, Peer]) -> None:
    a, h, b = peers["a"], peers["h"], peers["b"]
    hub_in = befriend(h, a)
    publish(a, indicator(11, tlp="green"))
    got = h.node.receive(a.id, hub_in, outgoing(a))
    assert len(got.stored) == 1
    forwarded = outgoing(h, hub_in)
    (hop,) = forwarded[0]["extensions"][PROVENANCE_ID]["hops"]
    assert hop["node"] == h.id

    into = befriend(b, a, h)
    got = b.node.receive(h.id, into, forwarded)
    assert not got.rejected
    assert stored(b, into) == [(indicator(11)["id"], a.org)]  # the originator, not the hub

    # B forwards on: two hops, and the chain still verifies at C.
    two = outgoing(b, into)
    assert [x["node"] for x in two[0]["extensions"][PROVENANCE_ID]["hops"]] == [h.id, b.id]
    c = peers["c"]
    c_in = befriend(c, a, h, b)
    assert not c.node.receive(b.id, c_in, two).rejected

    altered = copy.deepcopy(forwarded)
    altered[0]["extensions"][PROVENANCE_ID]["hops"][0]["prev"] = hop["value"][:44]
    c2 = _reasons(peers["c"], h.id, c_in, altered)
    assert "hop 1" in c2[0]
