"""``thiqa peer add|list|remove|status``: partner nodes this node exchanges with
(docs/federation.md, "Peering"). ``thiqa serve`` runs the links."""

from __future__ import annotations

from typing import Any

import click

from thiqa.cli import emit, main, open_node, setting_options
from thiqa.cli.trust import _read_json
from thiqa.errors import NotFound
from thiqa.federation import peers, status
from thiqa.federation.peers import Peer, PeerTable
from thiqa.node import Node
from thiqa.timestamps import format_us

_json_flag = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
_store_options = setting_options(["data", "db"])


def _peer_json(node: Node, p: Peer) -> dict[str, Any]:
    return {"id": p.id, "url": p.url, "org": p.org_id, "mode": p.mode,
            "key_fingerprint": p.key_fingerprint, "tls_fingerprint": p.tls_fingerprint,
            "api_key": p.api_key[:12] + "…", "created": format_us(p.created_us),
            "collections": [{"collection": c.id, "alias": c.alias, "remote": remote}
                            for c, remote in peers.linked(node, p)]}


@main.group()
def peer() -> None:
    """Partner nodes: catch up with and follow them (pull), or deliver to them (push)."""


@peer.command("add")
@click.argument("url")
@click.option("--node-key", "node_key", required=True,
              help="The partner's identity document (thiqa key show --json there): a file, "
                   "or '-' for standard input. Pinned in the trust store.")
@click.option("--key", "api_key", required=True,
              help="The API key this node uses at the partner (minted there for this "
                   "node's organisation).")
@click.option("--collection", "--collections", "collections", multiple=True,
              metavar="LOCAL[=REMOTE]",
              help="Link this collection (id or alias) to the partner's REMOTE (default: "
                   "the same alias); repeat. Default: every community/agreement collection "
                   "both organisations are members of.")
@click.option("--mode", type=click.Choice(peers.MODES), default="pull", show_default=True,
              help="pull: catch up and follow the partner; push: deliver to it (hub); both.")
@click.option("--tls-fingerprint", default=None,
              help="The partner's TLS certificate fingerprint (for mutual TLS).")
@_store_options
@_json_flag
def peer_add(url: str, node_key: str, api_key: str, collections: tuple[str, ...], mode: str,
             tls_fingerprint: str | None, as_json: bool, **options: Any) -> None:
    """Add a partner node at URL (http://127.0.0.1:PORT on loopback)."""
    node = open_node(options)
    try:
        p = peers.add(node, url, _read_json(node_key), api_key, mode=mode,
                      collections=collections, tls_fingerprint=tls_fingerprint)
        d = _peer_json(node, p)
        emit(as_json, d, f"peer {p.id} at {p.url} ({p.mode}), "
             f"{len(d['collections'])} linked collections now")
    finally:
        node.store.close()


@peer.command("list")
@_store_options
@_json_flag
def peer_list(as_json: bool, **options: Any) -> None:
    """List the peers and the collections each is linked through."""
    node = open_node(options)
    try:
        rows = [_peer_json(node, p) for p in PeerTable(node.store).all()]
        emit(as_json, rows, "\n".join(
            f"{r['id']}  {r['url']}  {r['mode']}  org {r['org']}  collections: "
            + (", ".join(f"{c['alias'] or c['collection']}={c['remote']}"
                         for c in r["collections"]) or "none") for r in rows))
    finally:
        node.store.close()


@peer.command("remove")
@click.argument("ref")
@_store_options
@_json_flag
def peer_remove(ref: str, as_json: bool, **options: Any) -> None:
    """Remove a peer (by node id or URL); its pinned key stays in the trust store."""
    node = open_node(options)
    try:
        p = peers.remove(node, ref)
        emit(as_json, {"removed": p.id}, f"removed peer {p.id} at {p.url}")
    finally:
        node.store.close()


@peer.command("status")
@click.argument("ref", required=False)
@_store_options
@_json_flag
def peer_status(ref: str | None, as_json: bool, **options: Any) -> None:
    """Per peer and link: last success, lag, queue depth and the last error."""
    node = open_node(options)
    try:
        table = PeerTable(node.store)
        chosen = table.all()
        if ref is not None:
            found = table.get(ref)
            if found is None:
                raise NotFound(f"no peer {ref!r} (give its node id or URL)")
            chosen = [found]
        rows = [status.as_json(node, p, status.status(node, p)) for p in chosen]
        emit(as_json, rows, "\n".join(status.as_text(r) for r in rows) or "no peers")
    finally:
        node.store.close()
