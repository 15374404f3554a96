"""``thiqa webhook add|list|remove``: webhooks, the second way to follow the event log
(docs/stream.md). ``thiqa serve`` delivers them."""

from __future__ import annotations

from typing import Any

import click

from thiqa.cli import emit, main, open_node, setting_options
from thiqa.node import Node
from thiqa.stream import webhooks
from thiqa.stream.sqlite import event_log
from thiqa.stream.webhooks import BACKLOG_MOST, HookStatus
from thiqa.timestamps import format_us

_json_flag = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
_store_options = setting_options(["data", "db"])


def _json(node: Node, s: HookStatus, *, secret: bool = False) -> dict[str, Any]:
    h = s.hook
    collection = next((c.id for c in node.store.list_collections() if c.pk == h.collection_pk),
                      None)
    out: dict[str, Any] = {
        "id": h.id, "org": h.org_id, "collection": collection, "url": h.url,
        "created": format_us(h.created_us), "cursor": h.cursor, "delivered": h.delivered,
        "backlog": s.backlog, "backlog_capped": s.backlog == BACKLOG_MOST,
        "last_success": format_us(h.last_success_us) if h.last_success_us else None,
        "last_error": h.last_error,
        "last_error_at": format_us(h.last_error_us) if h.last_error_us else None,
        "failures": h.failures,
        "next_attempt": format_us(h.next_attempt_us) if h.next_attempt_us else None,
        "problem": s.problem}
    if secret:
        out["secret"] = h.secret
    return out


def _text(d: dict[str, Any]) -> str:
    backlog = ("?" if d["backlog"] is None
               else f"{d['backlog']}{'+' if d['backlog_capped'] else ''}")
    lines = [f"{d['id']}  {d['url']}  (org {d['org']}"
             + (f", collection {d['collection']}" if d["collection"] else ", all collections")
             + ")",
             f"    delivered {d['delivered']}, backlog {backlog}, last success "
             f"{d['last_success'] or 'never'}"]
    if d["last_error"] and d["failures"]:
        lines.append(f"    failing ({d['failures']} in a row) since {d['last_error_at']}: "
                     f"{d['last_error']}; next attempt {d['next_attempt']}")
    elif d["last_error"]:
        lines.append(f"    last error {d['last_error_at']}: {d['last_error']}")
    if d["problem"]:
        lines.append(f"    cannot deliver: {d['problem']}")
    return "\n".join(lines)


@main.group()
def webhook() -> None:
    """Webhooks: the node's event log POSTed to a URL, signed (docs/stream.md)."""


@webhook.command("add")
@click.argument("url")
@click.option("--org", "org_ref", required=True, help="Organisation whose view it receives.")
@click.option("--collection", "collection_ref", default=None,
              help="Only this collection (id or alias); default: every collection it reads.")
@click.option("--secret", default=None,
              help="HMAC secret of the signatures; default: a new random one (printed once).")
@_store_options
@_json_flag
def webhook_add(url: str, org_ref: str, collection_ref: str | None, secret: str | None,
                as_json: bool, **options: Any) -> None:
    """Register a webhook: events from now on are POSTed to URL by `thiqa serve`."""
    node = open_node(options)
    try:
        log = event_log(node.store)
        hook = webhooks.add(node, log, org_ref, url, collection_ref=collection_ref,
                            secret=secret)
        d = _json(node, webhooks.status(node, log, hook), secret=True)
        emit(as_json, d, f"{hook.id}  {url}\nSecret (shown once, give it to the receiver): "
                         f"{hook.secret}")
    finally:
        node.store.close()


@webhook.command("list")
@click.option("--org", "org_ref", default=None, help="Only this organisation's webhooks.")
@_store_options
@_json_flag
def webhook_list(org_ref: str | None, as_json: bool, **options: Any) -> None:
    """Webhooks with their delivery status: last success, last error, backlog."""
    node = open_node(options)
    try:
        log = event_log(node.store)
        org_id = node.org(org_ref).id if org_ref is not None else None
        found = [_json(node, webhooks.status(node, log, h)) for h in log.webhooks(org_id)]
        emit(as_json, found, "\n".join(_text(d) for d in found) or "no webhooks")
    finally:
        node.store.close()


@webhook.command("remove")
@click.argument("hook_id")
@_store_options
@_json_flag
def webhook_remove(hook_id: str, as_json: bool, **options: Any) -> None:
    """Remove a webhook (deliveries stop at once)."""
    node = open_node(options)
    try:
        webhooks.remove(node, event_log(node.store), hook_id)
        emit(as_json, {"id": hook_id, "removed": True}, f"removed {hook_id}")
    finally:
        node.store.close()
