"""``thiqa tls create|show``: the node's TLS certificate for HTTPS and mutual TLS
between peers (docs/federation.md, "Transport")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from thiqa.cli import emit, main, open_node, setting_options
from thiqa.errors import ConfigError, NotFound
from thiqa.federation import tls as node_tls
from thiqa.node import Node

_json_flag = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def _now(node: Node) -> datetime:
    return datetime.fromtimestamp(node.clock.now_us() / 1e6, UTC)


def _text(info: dict[str, Any], path: str) -> str:
    state = ("EXPIRED" if info["expired"] else
             "not yet valid" if info["not_yet_valid"] else "valid")
    names = ", ".join(info["hosts"] + info["ips"]) or "(none)"
    return (f"certificate  {path}\nfingerprint  {info['fingerprint']}\n"
            f"valid        {info['not_before']} to {info['not_after']} ({state})\n"
            f"names        {names}")


def make_certificate(node: Node, hosts: tuple[str, ...] = (), ips: tuple[str, ...] = (),
                     days: int = node_tls.DEFAULT_DAYS, force: bool = False
                     ) -> dict[str, Any]:
    """Make the node's self-signed certificate (the loopback names unless hosts or IPs
    are named); what ``init`` and ``tls create`` print about it."""
    if not hosts and not ips:
        hosts, ips = node_tls.DEFAULT_HOSTS, node_tls.DEFAULT_IPS
    try:
        org = node.operating_org().name
    except NotFound:  # not initialised yet
        org = node.settings.org_name
    cert = node_tls.create(node.settings.data, _now(node), common_name=org,
                           hosts=hosts, ips=ips, days=days, force=force)
    path, _ = node_tls.own_paths(node.settings.data)
    return {**cert.info(_now(node)), "certificate": str(path),
            "key": str(path.with_name(node_tls.KEY_FILE))}


@main.group()
def tls() -> None:
    """The node's TLS certificate (HTTPS, and mutual TLS between peers)."""


@tls.command("create")
@click.option("--host", "hosts", multiple=True, help="A DNS name peers reach this node by "
              "(repeat). Default: localhost and the loopback addresses.")
@click.option("--ip", "ips", multiple=True, help="An IP address peers reach this node at "
              "(repeat).")
@click.option("--days", type=click.IntRange(1, node_tls.MAX_DAYS),
              default=node_tls.DEFAULT_DAYS, show_default=True, help="Days it is valid.")
@click.option("--force", is_flag=True, help="Replace the existing certificate (partners "
              "must then pin the new fingerprint).")
@setting_options(["data", "db"])
@_json_flag
def tls_create(hosts: tuple[str, ...], ips: tuple[str, ...], days: int, force: bool,
               as_json: bool, **options: Any) -> None:
    """Make a self-signed certificate and key in <data>/tls/ (mode 0600) and print its
    fingerprint. Restart `thiqa serve` to serve it; send partners `thiqa key show --json`."""
    node = open_node(options)
    try:
        info = make_certificate(node, hosts, ips, days, force)
        emit(as_json, info, _text(info, info["certificate"]))
    finally:
        node.store.close()


@tls.command("show")
@setting_options(["data", "db", "tls_cert", "tls_key"])
@_json_flag
def tls_show(as_json: bool, **options: Any) -> None:
    """The certificate this node serves and presents to peers: fingerprint, validity,
    names."""
    node = open_node(options)
    try:
        cert = node_tls.served_certificate(node.settings)
        if cert is None:
            raise ConfigError(f"the node in {node.settings.data} has no TLS certificate: "
                              "make one with `thiqa tls create`")
        path, _ = node_tls.served_paths(node.settings)
        info = {**cert.info(_now(node)), "certificate": str(path)}
        emit(as_json, info, _text(info, str(path)))
    finally:
        node.store.close()
