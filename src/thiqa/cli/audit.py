"""``thiqa audit``: query the append-only audit log (see thiqa.audit)."""

from __future__ import annotations

from typing import Any

import click

from thiqa import admin_json, audit
from thiqa.cli import emit, main, open_node, setting_options
from thiqa.timestamps import format_us


@main.command("audit")
@click.option("--org", "org_ref", default=None, help="Acting organisation (name or id).")
@click.option("--object", "object_id", default=None, help="A STIX id the event touched.")
@click.option("--action", default=None,
              help="add, read, delete, deny, or admin.<verb>; 'admin.' for every admin change.")
@click.option("--since", default=None, help="From this time on (RFC 3339 UTC).")
@click.option("--until", default=None, help="Before this time (RFC 3339 UTC).")
@click.option("--limit", default=100, show_default=True, type=int,
              help=f"At most this many events (up to {audit.AUDIT_LIMIT_MAX:,}), newest first.")
@setting_options(["data", "db"])
@click.option("--json", "as_json", is_flag=True, help="Print the events as JSON.")
def audit_cmd(org_ref: str | None, object_id: str | None, action: str | None,
              since: str | None, until: str | None, limit: int, as_json: bool,
              **options: Any) -> None:
    """Who did what, when: writes, reads of TLP:AMBER or stricter, denials and
    administrative changes, newest first."""
    node = open_node(options)
    try:
        org = node.org(org_ref).id if org_ref else None
        q = audit.query_from(org=org, object_id=object_id, action=action, since=since,
                             until=until, limit=limit)
        events = node.audit_log(q)
        lines = [f"{format_us(e.at_us)}  {e.action:<24} {e.outcome:<6} "
                 f"{e.org_id or '-'}  {e.collection or '-'}  {e.detail}"
                 + (f"  [{len(e.objects)} objects]" if e.objects else "") for e in events]
        emit(as_json, [admin_json.event(e) for e in events], "\n".join(lines))
    finally:
        node.store.close()
