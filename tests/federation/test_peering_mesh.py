"""Peering end to end: three ``thiqa serve`` processes on loopback in a mesh (each pulls
from the other two), one federation shared by the tests of this module.

Each test uses objects of its own, so they do not depend on one another's order.
"""

from __future__ import annotations

import base64
import copy
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.federation.peering import WAIT_S, indicators, pairs, running
from thiqa.federation.lab import TAXII, Group, Lab, wait_for


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(Path(tmp_path_factory.mktemp("mesh")))
    mesh = [(x, y, "pull") for x in "abc" for y in "abc" if x != y]
    groups = [Group("A & B", ("a", "b"), "amber"), Group("Trio", ("a", "b", "c"), "green")]
    yield from running(lab, groups, mesh)


def _has_all(lab: Lab, name: str, alias: str, wanted: set[tuple[str, str]]) -> bool:
    return wanted <= set(lab[name].held(alias))


def _no_duplicates(lab: Lab, name: str, alias: str) -> None:
    held = Counter(lab[name].held(alias))
    assert [p for p, n in held.items() if n > 1] == []


def test_published_versions_reach_every_member_once(lab: Lab) -> None:
    objects = indicators(20)
    assert lab["a"].publish("trio", objects)["success_count"] == 20
    want = pairs(objects)
    assert wait_for(lambda: _has_all(lab, "b", "trio", want) and
                    _has_all(lab, "c", "trio", want), WAIT_S)
    # Each node holds each version once, whatever the paths (a→b, a→c, a→b→c, a→c→b, …).
    for n in "abc":
        _no_duplicates(lab, n, "trio")
    # What arrived is the originator's object, byte for byte its content, as A's.
    r = httpx.get(f"{lab['c'].url}/api/collections/trio/objects/{objects[0]['id']}/",
                  headers=lab["c"].headers())
    got = r.json()["objects"][0]
    assert got == objects[0]


def test_amber_of_an_agreement_never_reaches_the_third_node(lab: Lab) -> None:
    secret = indicators(3, tlp="amber")
    assert lab["a"].publish("a-b", secret)["success_count"] == 3
    assert wait_for(lambda: _has_all(lab, "b", "a-b", pairs(secret)), WAIT_S)
    # B tries to pass it on into the community it shares with C: refused (rule 2).
    status = lab["b"].publish("trio", secret[:1])
    assert status["failure_count"] == 1 and status["success_count"] == 0
    # A marker published after it, on both A and B, reaches C: every path has had its
    # chance to carry the AMBER versions by then.
    marker_a, marker_b = indicators(1), indicators(1)
    lab["a"].publish("trio", marker_a)
    lab["b"].publish("trio", marker_b)
    assert wait_for(lambda: _has_all(lab, "c", "trio", pairs(marker_a + marker_b)), WAIT_S)
    ids = {o["id"] for o in secret}
    for alias in ("trio", "a-b", "default"):
        assert not ids & {i for i, _ in lab["c"].held(alias)}
    r = httpx.get(f"{lab['c'].url}/api/search/", params={"q": secret[0]["id"]},
                  headers=lab["c"].headers())
    assert r.json().get("objects", []) == []


def test_retraction_and_revocation_propagate(lab: Lab) -> None:
    gone, revoked = indicators(2)
    lab["a"].publish("trio", [gone, revoked])
    assert wait_for(lambda: _has_all(lab, "b", "trio", pairs([gone, revoked])) and
                    _has_all(lab, "c", "trio", pairs([gone, revoked])), WAIT_S)
    lab["a"].retract(gone["id"])
    newer = {**revoked, "modified": "2030-01-01T00:00:00.000Z", "revoked": True}
    lab["a"].publish("trio", [newer])

    def settled(n: str) -> bool:
        held = {i for i, _ in lab[n].held("trio")}
        return gone["id"] not in held and (newer["id"], newer["modified"]) in \
            set(lab[n].held("trio"))

    assert wait_for(lambda: settled("b") and settled("c"), WAIT_S)


def test_kill_9_mid_stream_loses_nothing_and_duplicates_nothing(lab: Lab) -> None:
    objects = indicators(1500)
    want = pairs(objects)

    def publish() -> None:
        for i in range(0, len(objects), 100):
            lab["a"].publish("trio", objects[i : i + 100])

    t = threading.Thread(target=publish)
    t.start()
    try:
        assert wait_for(lambda: len(want & set(lab["c"].held("trio"))) >= 200, WAIT_S)
        lab["c"].kill()  # SIGKILL: no shutdown, no flush
    finally:
        t.join()
    during = len(want & set(lab["c"].held("trio")))
    assert during < len(want), "the kill came too late to test anything"
    lab["c"].start()
    lab["c"].wait_ready()
    assert wait_for(lambda: _has_all(lab, "c", "trio", want), 60)
    _no_duplicates(lab, "c", "trio")


def test_cut_link_heals_by_catching_up(lab: Lab) -> None:
    lab["c"].stop()
    from_a, from_b = indicators(30), indicators(30)
    lab["a"].publish("trio", from_a)
    lab["b"].publish("trio", from_b)
    lab["c"].start()
    lab["c"].wait_ready()
    assert wait_for(lambda: _has_all(lab, "c", "trio", pairs(from_a + from_b)), WAIT_S)
    _no_duplicates(lab, "c", "trio")


def test_tampered_and_forged_deliveries_are_rejected(lab: Lab) -> None:
    # Real objects A shares with B only: C lacks them, so a delivery to C is judged.
    honest = indicators(2)
    lab["a"].publish("a-b", honest)
    key_at_a = lab.minted[("a", "b")]
    r = httpx.post(f"{lab['a'].url}/api/collections/a-b/federation/fetch/",
                   content=orjson.dumps({"versions": [[o["id"], o["modified"]]
                                                      for o in honest]}),
                   headers={"Authorization": f"Bearer {key_at_a}",
                            "Content-Type": "application/json"})
    exported = r.json()["objects"]
    assert len(exported) == 2
    tampered = {**exported[0], "name": "tampered on the way"}
    forged = copy.deepcopy(exported[1])
    sig = next(iter(forged["extensions"].values()))["signature"]
    raw = bytearray(base64.b64decode(sig["value"]))
    raw[0] ^= 1
    sig["value"] = base64.b64encode(bytes(raw)).decode()
    # Pushed to C as if by A, with A's own credential at C.
    r = httpx.post(f"{lab['c'].url}/api/collections/trio/federation/objects/",
                   content=orjson.dumps({"node": lab["a"].node_id,
                                         "objects": [tampered, forged]}),
                   headers={"Authorization": f"Bearer {lab.minted[('c', 'a')]}",
                            "Content-Type": "application/json", "Accept": TAXII})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["stored"] == 0
    reasons = sorted(x["reason"].split(":")[0] for x in answer["rejected"])
    assert reasons == ["forged signature", "tampered"]
    held = {i for i, _ in lab["c"].held("trio")}
    assert not {o["id"] for o in honest} & held
    # The genuine objects are accepted by the same gate.
    r = httpx.post(f"{lab['c'].url}/api/collections/trio/federation/objects/",
                   content=orjson.dumps({"node": lab["a"].node_id, "objects": exported}),
                   headers={"Authorization": f"Bearer {lab.minted[('c', 'a')]}",
                            "Content-Type": "application/json"})
    assert r.json()["stored"] == 2
