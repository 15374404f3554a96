"""``thiqa alerts list|ack``: an organisation's alerts at the console (docs/correlation.md)."""

from __future__ import annotations

from typing import Any

import click
import orjson

from thiqa.cli import emit, main, open_node, setting_options
from thiqa.correlate.alerts import STATES
from thiqa.correlate.service import Correlation
from thiqa.errors import NotFound


@main.group()
def alerts() -> None:
    """Alerts raised for an organisation: matches, retro-hunt and cross-organisation hits."""


@alerts.command("list")
@click.option("--org", "org_ref", required=True, help="The organisation whose alerts to list.")
@click.option("--state", type=click.Choice([*STATES, "all"]), default="new", show_default=True)
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@setting_options(["data", "db"])
@click.option("--json", "as_json", is_flag=True, help="One JSON object per alert (JSON lines).")
def list_alerts(org_ref: str, state: str, limit: int, as_json: bool, **options: Any) -> None:
    """List an organisation's alerts, oldest first: id, kind, state, score, value and the
    ids of what matched."""
    node = open_node(options)
    correlation = Correlation(node.settings, node.store, node.clock)
    try:
        org = node.org(org_ref)
        found, _ = correlation.alerts.list_for(org.id, state=None if state == "all" else state,
                                               limit=limit)
        for a in found:
            if as_json:
                click.echo(orjson.dumps(a.as_json()).decode())
                continue
            score = "" if a.score is None else f"{a.score:g}"
            click.echo("\t".join([a.id, a.kind, a.state, score, a.value,
                                  ",".join(str(m["id"]) for m in a.matches)]))
    finally:
        correlation.close()
        node.store.close()


@alerts.command("ack")
@click.argument("alert_id")
@click.option("--org", "org_ref", required=True, help="The organisation the alert is for.")
@click.option("--by", "by", default="operator", show_default=True,
              help="Who acknowledges (recorded as cli:<by>).")
@setting_options(["data", "db"])
@click.option("--json", "as_json", is_flag=True, help="Print the acknowledged alert as JSON.")
def ack(alert_id: str, org_ref: str, by: str, as_json: bool, **options: Any) -> None:
    """Acknowledge one of an organisation's alerts."""
    node = open_node(options)
    correlation = Correlation(node.settings, node.store, node.clock)
    try:
        org = node.org(org_ref)
        alert = correlation.alerts.acknowledge(org.id, alert_id, f"cli:{by}")
        if alert is None:
            raise NotFound(f"no alert {alert_id!r} for {org.name!r}")
        emit(as_json, alert.as_json(), f"{alert.id} acknowledged by {alert.acked_by}")
    finally:
        correlation.close()
        node.store.close()
