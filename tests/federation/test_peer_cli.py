"""``thiqa peer add|list|status|remove`` and the guards of peering, in process."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.federation.conftest import Peer as Partner
from thiqa.cli import main
from thiqa.errors import BadRequest, NotFound
from thiqa.federation import keys, peers, transport, trust
from thiqa.federation.client import Partner as Remote
from thiqa.federation.peers import PeerTable
from thiqa.federation.push import PushLink
from thiqa.stream.sqlite import event_log


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_peer_verbs(tmp_path: Path) -> None:
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    for d, org in ((a, "Agency A"), (b, "Agency B")):
        assert run("init", "--data", d, "--org-name", org, "--json").exit_code == 0
    doc = tmp_path / "b.json"
    doc.write_text(run("key", "show", "--data", b, "--json").stdout)
    me = json.loads(doc.read_text())

    refused = run("peer", "add", "http://partner.example:8471", "--node-key", str(doc),
                  "--key", "thiqa_x", "--data", a)
    assert refused.exit_code == 1 and "mutual TLS needed" in refused.stderr
    assert me["tls_fingerprint"]  # the identity document carries the certificate's pin
    over_tls = run("peer", "add", "https://partner.example:8471", "--node-key", str(doc),
                   "--key", "thiqa_x", "--json", "--data", a)
    assert over_tls.exit_code == 0, over_tls.output
    assert json.loads(over_tls.stdout)["tls_fingerprint"] == me["tls_fingerprint"]
    assert run("peer", "remove", "https://partner.example:8471", "--data", a).exit_code == 0
    missing = run("peer", "add", "http://127.0.0.1:9", "--node-key", str(doc), "--key", "k",
                  "--collection", "nowhere", "--data", a)
    assert missing.exit_code == 1 and "no collection 'nowhere'" in missing.stderr

    added = run("peer", "add", "http://127.0.0.1:9/", "--node-key", str(doc), "--key",
                "thiqa_secret_at_b", "--collection", "default", "--mode", "both",
                "--tls-fingerprint", "sha256:cd", "--data", a, "--json")
    assert added.exit_code == 0, added.output
    p = json.loads(added.stdout)
    assert (p["id"], p["url"], p["org"], p["mode"], p["tls_fingerprint"]) == \
        (me["node"], "http://127.0.0.1:9", me["org"], "both", "sha256:cd")
    assert p["collections"][0]["remote"] == "default"
    assert "thiqa_secret_at_b" not in added.stdout  # shown masked
    again = run("peer", "add", "http://127.0.0.1:9", "--node-key", str(doc), "--key", "k",
                "--data", a)
    assert again.exit_code == 1 and "already a peer" in again.stderr
    listed = json.loads(run("peer", "list", "--data", a, "--json").stdout)
    assert [x["id"] for x in listed] == [me["node"]]

    # Nothing listens on port 9: the status says so in plain words, and exits 0.
    shown = run("peer", "status", "--data", a)
    assert shown.exit_code == 0
    assert "pull default <-> default" in shown.stdout and "push default" in shown.stdout
    assert "not started" in shown.stdout

    assert run("peer", "remove", me["node"], "--data", a).exit_code == 0
    assert json.loads(run("peer", "list", "--data", a, "--json").stdout) == []
    gone = run("peer", "remove", me["node"], "--data", a)
    assert gone.exit_code == 1 and "no peer" in gone.stderr


def test_links_follow_shared_membership(peers_: dict[str, Partner]) -> None:
    a, b, c = peers_["a"], peers_["b"], peers_["c"]
    trust.pin(a.node, keys.identity(b.node))
    trust.pin(a.node, keys.identity(c.node))
    p = peers.add(a.node, "http://127.0.0.1:9", keys.identity(b.node), "k")
    assert peers.linked(a.node, p) == []
    view = a.node.create_community("Pair", members=[a.org, b.org])
    a.node.create_community("Other", members=[a.org, c.org])
    assert [(col.id, remote) for col, remote in peers.linked(a.node, p)] == \
        [(view.collections[0].id, "pair")]


def test_push_never_sends_what_the_partner_may_not_read(peers_: dict[str, Partner]) -> None:
    a, b = peers_["a"], peers_["b"]
    trust.pin(a.node, keys.identity(b.node))
    # An explicit mapping of A's own outbox, which B's organisation may not read.
    p = peers.add(a.node, "http://127.0.0.1:9", keys.identity(b.node), "k", mode="push",
                  collections=("outbox",))
    outbox = a.node.store.get_collection("outbox")
    assert outbox is not None
    link = PushLink(a.node, event_log(a.node.store), PeerTable(a.node.store), p, outbox,
                    "outbox", Remote(transport.client_for(p.url, "k")))
    with pytest.raises(NotFound):  # for B, A's outbox does not exist
        asyncio.run(link.deliver())


def test_plain_http_on_loopback_only_and_https_only_pinned() -> None:
    assert transport.check_url("http://127.0.0.1:8471/") == "http://127.0.0.1:8471"
    assert transport.check_url("http://localhost:1") == "http://localhost:1"
    fp = "sha256:" + "ab" * 32
    assert transport.check_url("https://10.0.0.1:8471/", fp) == "https://10.0.0.1:8471"
    for url in ("http://10.0.0.1:8471", "https://127.0.0.1:8471", "ftp://x"):
        with pytest.raises(BadRequest):
            transport.check_url(url)  # no pinned certificate for https: refused too


@pytest.fixture
def peers_(peers: dict[str, Partner]) -> dict[str, Partner]:
    return peers
