"""Federation verbs: the node's signing key (``thiqa key show|rotate``, beside the API
key verbs) and the trust store of partner keys (``thiqa trust …``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import orjson

from thiqa.cli import emit, main, open_node, setting_options
from thiqa.cli.admin import key
from thiqa.errors import BadRequest
from thiqa.federation import keys
from thiqa.federation import trust as trust_store
from thiqa.store.model import TrustedKey
from thiqa.timestamps import format_us

_json_flag = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
_store_options = setting_options(["data", "db"])


def _read_json(source: str) -> Any:
    """A JSON document from a file, or from standard input for '-'."""
    raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"{source}: not JSON: {exc}") from None


def _pin_json(k: TrustedKey) -> dict[str, Any]:
    def t(us: int | None) -> str | None:
        return None if us is None else format_us(us)

    state = ("revoked" if k.revoked_us is not None
             else "rotated" if k.valid_until_us is not None else "active")
    return {"fingerprint": k.fingerprint, "public_key": k.public_key, "node": k.node_id,
            "orgs": list(k.orgs), "name": k.name, "state": state, "pinned": t(k.pinned_us),
            "valid_from": t(k.valid_from_us), "valid_until": t(k.valid_until_us),
            "revoked": t(k.revoked_us), "replaced_by": k.replaced_by,
            "tls_fingerprint": k.tls_fingerprint}


@key.command("show")
@_store_options
@_json_flag
def key_show(as_json: bool, **options: Any) -> None:
    """This node's signing key: node id, organisation, public key and fingerprint.

    The JSON is the identity document partners pin (thiqa trust pin FILE)."""
    node = open_node(options)
    try:
        doc = keys.identity(node)
        emit(as_json, doc, f"node         {doc['node']}\norganisation {doc['org']} "
             f"({doc['org_name']})\npublic key   {doc['public_key']}\n"
             f"fingerprint  {doc['fingerprint']}")
    finally:
        node.store.close()


@key.command("rotate")
@_store_options
@_json_flag
def key_rotate(as_json: bool, **options: Any) -> None:
    """Replace this node's signing key; prints the rotation statement to send partners.

    The old private key is destroyed; partners who import the statement (thiqa trust
    accept-rotation) keep verifying what the old key signed before now."""
    node = open_node(options)
    try:
        statement = keys.rotate(node)
        emit(as_json, statement, f"rotated {statement['old_fingerprint']} -> "
             f"{statement['new_fingerprint']}\nsend partners the statement: "
             "thiqa key rotate --json (this run) or thiqa key show --json (rotations)")
    finally:
        node.store.close()


@main.group()
def trust() -> None:
    """The trust store: partner nodes' pinned signing keys."""


@trust.command("pin")
@click.argument("source")
@click.option("--tls-fingerprint", default=None, help="The partner's TLS certificate "
              "fingerprint (for mutual TLS); checked against the certificate when one is "
              "given or in the identity document.")
@click.option("--tls-certificate", "tls_certificate", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="The partner's TLS certificate (PEM), when its identity document does "
              "not carry it.")
@click.option("--also-for", multiple=True, help="Another organisation (known here) the "
              "partner node may sign for (repeat).")
@_store_options
@_json_flag
def trust_pin(source: str, tls_fingerprint: str | None, tls_certificate: Path | None,
              also_for: tuple[str, ...], as_json: bool, **options: Any) -> None:
    """Pin a partner's key from its identity document (thiqa key show --json on the
    partner's node), a file or '-' for standard input. Check the fingerprint with the
    partner out of band before pinning."""
    pem = None
    if tls_certificate is not None:
        try:
            pem = tls_certificate.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadRequest(f"cannot read {tls_certificate}: {exc}") from None
    node = open_node(options)
    try:
        k = trust_store.pin(node, _read_json(source), tls_fingerprint=tls_fingerprint,
                            tls_certificate=pem, also_for=also_for)
        tls_line = f"\nTLS certificate {k.tls_fingerprint}" if k.tls_fingerprint else ""
        emit(as_json, _pin_json(k),
             f"pinned {k.fingerprint} for {k.node_id} ({k.org_id}){tls_line}")
    finally:
        node.store.close()


@trust.command("list")
@_store_options
@_json_flag
def trust_list(as_json: bool, **options: Any) -> None:
    """List pinned keys and their state (active, rotated, revoked)."""
    node = open_node(options)
    try:
        pins = [_pin_json(k) for k in node.store.trusted_keys()]
        emit(as_json, pins, "\n".join(f"{p['fingerprint']}  {p['state']:<8} {p['node']}  "
                                      f"{p['name']}" for p in pins))
    finally:
        node.store.close()


@trust.command("revoke")
@click.argument("fingerprint")
@_store_options
@_json_flag
def trust_revoke(fingerprint: str, as_json: bool, **options: Any) -> None:
    """Refuse a partner key at once, for everything it signed."""
    node = open_node(options)
    try:
        k = trust_store.revoke(node, fingerprint)
        emit(as_json, _pin_json(k), f"revoked {k.fingerprint} of {k.node_id}")
    finally:
        node.store.close()


@trust.command("accept-rotation")
@click.argument("source")
@_store_options
@_json_flag
def trust_accept_rotation(source: str, as_json: bool, **options: Any) -> None:
    """Import a partner's key rotation statement (a file or '-'): pins the new key."""
    node = open_node(options)
    try:
        k = trust_store.accept_rotation(node, _read_json(source))
        emit(as_json, _pin_json(k), f"pinned {k.fingerprint} for {k.node_id} (rotation)")
    finally:
        node.store.close()
