"""Retraction, deletion and revocation across real ``thiqa serve`` processes on loopback.

A chain (b pulls from a, c pulls from b only: whatever reaches c was relayed by b) and
the hub topology (m and n push to h and follow it). The originator's signed tombstone
must reach every node that held the version, be verified there against the
originator's key whatever the path, and take the version out of every read path; a
forged one, served by a partner whose database was tampered with, changes nothing and
is shown by ``thiqa peer status``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.federation.peering import WAIT_S, indicators, pairs, running
from thiqa.federation.lab import TAXII, Group, Lab, LabNode, wait_for
from thiqa.federation.tombstones import TombstoneTable


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(Path(tmp_path_factory.mktemp("chain")))
    yield from running(lab, [Group("Trio", ("a", "b", "c"), "green")],
                       [("b", "a", "pull"), ("c", "b", "pull")])


def value_of(obj: dict[str, Any]) -> str:
    """The first observable value of a real abuse.ch indicator's pattern (an IPv4
    address, or an x509 certificate's SHA-1): what correlation matches on."""
    found = re.search(r"=\s*'([^']*)'", str(obj["pattern"]))
    assert found is not None, obj["pattern"]
    return found.group(1)


def read_paths(ln: LabNode, alias: str, obj: dict[str, Any]) -> dict[str, bool]:
    """Whether each read path of node ``ln`` shows the object (as its own analyst)."""
    oid = obj["id"]
    base = f"{ln.url}/api/collections/{alias}"
    h = ln.headers()
    objects = httpx.get(f"{base}/objects/", params={"match[id]": oid}, headers=h).json()
    manifest = httpx.get(f"{base}/manifest/", params={"match[id]": oid}, headers=h).json()
    one = httpx.get(f"{base}/objects/{oid}/", headers=h)
    versions = httpx.get(f"{base}/objects/{oid}/versions/", headers=h)
    search = httpx.get(f"{ln.url}/api/search/", params={"q": oid}, headers=h)
    match = httpx.post(f"{ln.url}/api/match/", content=orjson.dumps({"values": [value_of(obj)]}),
                       headers={**h, "Content-Type": "application/json",
                                "Accept": "application/json"})
    matched = [m["id"] for r in match.json()["results"] for m in r["matches"]]
    return {"objects": bool(objects.get("objects")), "manifest": bool(manifest.get("objects")),
            "object": one.status_code == 200, "versions": versions.status_code == 200,
            "search": oid in search.text, "match": oid in matched}


def shown(ln: LabNode, alias: str, obj: dict[str, Any]) -> bool:
    return all(read_paths(ln, alias, obj).values())


def hidden(ln: LabNode, alias: str, obj: dict[str, Any]) -> bool:
    return not any(read_paths(ln, alias, obj).values())


def status(ln: LabNode) -> list[dict[str, Any]]:
    r = subprocess.run([sys.executable, "-m", "thiqa", "peer", "status", "--json", "--data",
                        str(ln.data), *(["--db", ln.db] if ln.db else [])],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out: list[dict[str, Any]] = json.loads(r.stdout)
    return out


def test_a_retraction_is_relayed_down_the_chain_and_leaves_every_read_path(
        chain: Lab) -> None:
    kept, gone = indicators(2)
    chain["a"].publish("trio", [kept, gone])
    assert wait_for(lambda: shown(chain["c"], "trio", gone) and
                    shown(chain["b"], "trio", gone), WAIT_S)
    chain["a"].retract(gone["id"])
    assert wait_for(lambda: hidden(chain["b"], "trio", gone) and
                    hidden(chain["c"], "trio", gone), WAIT_S)
    for n in "bc":
        assert (kept["id"], kept["modified"]) in set(chain[n].held("trio"))
    # C verified A's signature through B's hop: it keeps the tombstone with that chain.
    store = chain["c"].store()
    try:
        ((t, peer),) = TombstoneTable(store).of([gone["id"]])
    finally:
        store.close()
    assert peer == chain["b"].node_id and t.node_id == chain["a"].node_id
    assert [h["node"] for h in t.body["hops"]] == [chain["b"].node_id]


def test_a_revocation_travels_and_stops_matching_everywhere(chain: Lab) -> None:
    (obj,) = indicators(1)
    chain["a"].publish("trio", [obj])
    assert wait_for(lambda: all(read_paths(chain[n], "trio", obj)["match"] for n in "abc"),
                    WAIT_S)
    revoked = {**obj, "modified": "2030-01-01T00:00:00.000Z", "revoked": True}
    chain["a"].publish("trio", [revoked])
    assert wait_for(lambda: all(not read_paths(chain[n], "trio", obj)["match"]
                                and (obj["id"], revoked["modified"]) in
                                set(chain[n].held("trio")) for n in "abc"), WAIT_S)


def test_an_originators_delete_travels_a_forwarders_stays_local(chain: Lab) -> None:
    by_a, on_b = indicators(2)
    chain["a"].publish("trio", [by_a, on_b])
    assert wait_for(lambda: pairs([by_a, on_b]) <= set(chain["c"].held("trio")), WAIT_S)
    # B deletes its received copy: B's own business, C keeps its copy.
    r = httpx.delete(f"{chain['b'].url}/api/collections/trio/objects/{on_b['id']}/",
                     headers=_admin(chain, "b"))
    assert r.status_code == 200, r.text
    # A deletes its own version from Trio (TAXII DELETE): signed, scoped to Trio.
    r = httpx.delete(f"{chain['a'].url}/api/collections/trio/objects/{by_a['id']}/",
                     headers=_admin(chain, "a"))
    assert r.status_code == 200, r.text
    assert wait_for(lambda: by_a["id"] not in {i for i, _ in chain["c"].held("trio")},
                    WAIT_S)
    assert on_b["id"] not in {i for i, _ in chain["b"].held("trio")}
    assert (on_b["id"], on_b["modified"]) in set(chain["c"].held("trio"))


_ADMINS: dict[str, str] = {}  # data directory -> an admin key of its organisation


def _admin(lab: Lab, name: str) -> dict[str, str]:
    """An admin key of the node's own organisation (TAXII DELETE needs read + write on
    whatever the caller deletes), made with ``thiqa key create`` on the running node."""
    ln = lab[name]
    if str(ln.data) not in _ADMINS:
        r = subprocess.run([sys.executable, "-m", "thiqa", "key", "create", "--org", ln.org_id,
                            "--role", "admin", "--json", "--data", str(ln.data),
                            *(["--db", ln.db] if ln.db else [])],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        _ADMINS[str(ln.data)] = json.loads(r.stdout)["key"]
    return {"Authorization": f"Bearer {_ADMINS[str(ln.data)]}", "Accept": TAXII}


def test_after_kill_9_the_tombstone_still_arrives(chain: Lab) -> None:
    (obj,) = indicators(1)
    chain["a"].publish("trio", [obj])
    assert wait_for(lambda: (obj["id"], obj["modified"]) in set(chain["c"].held("trio")),
                    WAIT_S)
    chain["b"].kill()  # SIGKILL: the relay is down when the retraction is made
    chain["c"].kill()
    chain["a"].retract(obj["id"])
    chain.start(["b", "c"])
    assert wait_for(lambda: obj["id"] not in {i for i, _ in chain["b"].held("trio")} and
                    obj["id"] not in {i for i, _ in chain["c"].held("trio")}, WAIT_S)


def _push(lab: Lab, to: str, sender: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST a push to node ``to`` as node ``sender``, with the key minted for it there."""
    r = httpx.post(f"{lab[to].url}/api/collections/trio/federation/objects/",
                   content=orjson.dumps({"node": lab[sender].node_id, **body}),
                   headers={"Authorization": f"Bearer {lab.minted[(to, sender)]}",
                            "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_a_tombstone_before_its_version_ends_right(chain: Lab) -> None:
    chain["b"].stop()  # the relay is down: c hears of the version by another path only
    try:
        (obj,) = indicators(1)
        chain["a"].publish("trio", [obj])
        r = httpx.post(f"{chain['a'].url}/api/collections/trio/federation/fetch/",
                       content=orjson.dumps({"versions": [[obj["id"], obj["modified"]]]}),
                       headers={"Authorization": f"Bearer {chain.minted[('a', 'c')]}",
                                "Content-Type": "application/json"})
        early = r.json()["objects"]  # signed by a, delayed on a slow path
        assert len(early) == 1
        chain["a"].retract(obj["id"])
        store = chain["a"].store()
        try:
            ((t, _),) = TombstoneTable(store).of([obj["id"]])
        finally:
            store.close()
        entry = {"kind": "retract", "id": obj["id"], "version": obj["modified"],
                 "tombstone": t.body}
        first = _push(chain, "c", "a", {"objects": [], "removed": [entry]})
        assert (first["withdrawn"], first["rejected"]) == (0, [])  # nothing held yet
        late = _push(chain, "c", "a", {"objects": early, "removed": []})
        assert (late["stored"], late["rejected"]) == (0, [])
        assert obj["id"] not in {i for i, _ in chain["c"].held("trio")}
    finally:
        chain.start(["b"])


def test_a_forged_tombstone_from_a_partner_changes_nothing(chain: Lab) -> None:
    (obj,) = indicators(1)
    chain["a"].publish("trio", [obj])
    assert wait_for(lambda: (obj["id"], obj["modified"]) in set(chain["c"].held("trio")),
                    WAIT_S)
    chain["c"].stop()
    chain["a"].retract(obj["id"])
    assert wait_for(lambda: obj["id"] not in {i for i, _ in chain["b"].held("trio")}, WAIT_S)
    # B turns malicious: the tombstone it serves to C now says "delete" where A signed
    # "retract" (any change to the signed record breaks A's signature).
    chain["b"].stop()
    store = chain["b"].store()
    try:
        ((t, _),) = TombstoneTable(store).of([obj["id"]])
        forged = {**t.body, "what": "delete"}
        with store._tx() as cx:  # type: ignore[attr-defined]
            cx.execute("UPDATE tombstones SET body = ? WHERE object_id = ?",
                       (orjson.dumps(forged), obj["id"]))
    finally:
        store.close()
    chain.start(["b", "c"])

    def refused() -> bool:
        links = [x for p in status(chain["c"]) for x in p["links"]]
        return any("forged tombstone" in (x.get("last_error") or "") for x in links)

    assert wait_for(refused, WAIT_S, 0.5)
    assert (obj["id"], obj["modified"]) in set(chain["c"].held("trio"))
    r = subprocess.run([sys.executable, "-m", "thiqa", "audit", "--action",
                        "federation.reject", "--json", "--data", str(chain["c"].data)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "forged tombstone" in r.stdout and obj["id"] in r.stdout


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(Path(tmp_path_factory.mktemp("hubstones")), names=("h", "m", "n"))
    yield from running(lab, [Group("Hub", ("h", "m", "n"), "green")],
                       [("m", "h", "both"), ("n", "h", "both")])


def test_a_retraction_is_pushed_to_the_hub_and_redistributed(hub: Lab) -> None:
    gone, kept = indicators(2)
    hub["m"].publish("hub", [gone, kept])
    assert wait_for(lambda: shown(hub["n"], "hub", gone) and shown(hub["h"], "hub", gone),
                    WAIT_S)
    hub["m"].retract(gone["id"])
    assert wait_for(lambda: hidden(hub["h"], "hub", gone) and
                    hidden(hub["n"], "hub", gone), WAIT_S)
    assert (kept["id"], kept["modified"]) in set(hub["n"].held("hub"))
    # Pushed by m to h (m's signature, no hop), relayed by h to n (h's hop).
    store = hub["n"].store()
    try:
        ((t, peer),) = TombstoneTable(store).of([gone["id"]])
    finally:
        store.close()
    assert t.node_id == hub["m"].node_id and peer == hub["h"].node_id
    assert [h["node"] for h in t.body["hops"]] == [hub["h"].node_id]
