"""Admin verbs: organisations, API keys, collections and their grants."""

from __future__ import annotations

from typing import Any

import click

from thiqa.cli import emit, main, open_node, setting_options
from thiqa.errors import NotFound
from thiqa.store.model import ROLES, ApiKey, Collection, Org
from thiqa.timestamps import format_us

_json_flag = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
_store_options = setting_options(["data", "db"])


def _org(o: Org) -> dict[str, Any]:
    return {"id": o.id, "name": o.name, "created": format_us(o.created_us)}


def _key(k: ApiKey) -> dict[str, Any]:
    return {"id": k.id, "org_id": k.org_id, "role": k.role, "label": k.label,
            "created": format_us(k.created_us),
            "revoked": format_us(k.revoked_us) if k.revoked_us is not None else None}


def _collection(c: Collection) -> dict[str, Any]:
    return {"id": c.id, "alias": c.alias, "title": c.title, "description": c.description}


@main.group()
def org() -> None:
    """Organisations (each one agency, with its STIX identity)."""


@org.command("add")
@click.argument("name")
@_store_options
@_json_flag
def org_add(name: str, as_json: bool, **options: Any) -> None:
    """Add an organisation."""
    node = open_node(options)
    try:
        o = node.create_org(name)
        emit(as_json, _org(o), f"{o.id}  {o.name}")
    finally:
        node.store.close()


@org.command("list")
@_store_options
@_json_flag
def org_list(as_json: bool, **options: Any) -> None:
    """List organisations."""
    node = open_node(options)
    try:
        orgs = node.store.list_orgs()
        emit(as_json, [_org(o) for o in orgs], "\n".join(f"{o.id}  {o.name}" for o in orgs))
    finally:
        node.store.close()


@main.group()
def key() -> None:
    """API keys: each belongs to an organisation and has a role (admin, analyst, reader)."""


@key.command("create")
@click.option("--org", "org_ref", required=True, help="Organisation name or identity id.")
@click.option("--role", type=click.Choice(ROLES), default="analyst", show_default=True)
@click.option("--label", default="", help="A note to recognise the key by.")
@_store_options
@_json_flag
def key_create(org_ref: str, role: str, label: str, as_json: bool, **options: Any) -> None:
    """Create an API key; the key is printed once and cannot be shown again."""
    node = open_node(options)
    try:
        record, secret = node.create_key(org_ref, role, label)
        emit(as_json, {**_key(record), "key": secret},
             f"{secret}\n(key id {record.id}, role {record.role}; shown once, store it now)")
    finally:
        node.store.close()


@key.command("list")
@click.option("--org", "org_ref", default=None, help="Only this organisation's keys.")
@_store_options
@_json_flag
def key_list(org_ref: str | None, as_json: bool, **options: Any) -> None:
    """List API keys (never the keys themselves)."""
    node = open_node(options)
    try:
        org_id = node.org(org_ref).id if org_ref else None
        keys = node.store.list_keys(org_id)
        lines = [f"{k.id}  {k.role:<8} {k.org_id}  {'revoked' if k.revoked_us else 'active'}"
                 f"  {k.label}" for k in keys]
        emit(as_json, [_key(k) for k in keys], "\n".join(lines))
    finally:
        node.store.close()


@key.command("revoke")
@click.argument("key_id")
@_store_options
@_json_flag
def key_revoke(key_id: str, as_json: bool, **options: Any) -> None:
    """Revoke an API key at once."""
    node = open_node(options)
    try:
        node.revoke_key(key_id)
        emit(as_json, {"id": key_id, "revoked": True}, f"revoked {key_id}")
    finally:
        node.store.close()


@main.group()
def collection() -> None:
    """TAXII collections and which organisations may read or write them."""


@collection.command("create")
@click.argument("title")
@click.option("--alias", default=None, help="A unique short name usable in place of the id.")
@click.option("--description", default="")
@click.option("--read", "readers", multiple=True, help="Organisation that may read (repeat).")
@click.option("--write", "writers", multiple=True, help="Organisation that may write (repeat).")
@_store_options
@_json_flag
def collection_create(title: str, alias: str | None, description: str, readers: tuple[str, ...],
                      writers: tuple[str, ...], as_json: bool, **options: Any) -> None:
    """Create a collection."""
    node = open_node(options)
    try:
        c = node.create_collection(title, description=description, alias=alias,
                                   readers=readers, writers=writers)
        emit(as_json, _collection(c), f"{c.id}  {c.title}")
    finally:
        node.store.close()


@collection.command("list")
@_store_options
@_json_flag
def collection_list(as_json: bool, **options: Any) -> None:
    """List collections with their object counts."""
    node = open_node(options)
    try:
        rows = [(c, node.store.count(c.pk)) for c in node.store.list_collections()]
        emit(as_json, [{**_collection(c), "objects": n} for c, n in rows],
             "\n".join(f"{c.id}  {c.alias or '-':<16} {n:>9}  {c.title}" for c, n in rows))
    finally:
        node.store.close()


@collection.command("grant")
@click.argument("collection_ref")
@click.argument("org_ref")
@click.option("--read/--no-read", default=True, show_default=True)
@click.option("--write/--no-write", default=False, show_default=True)
@_store_options
@_json_flag
def collection_grant(collection_ref: str, org_ref: str, read: bool, write: bool, as_json: bool,
                     **options: Any) -> None:
    """Set what an organisation may do with a collection."""
    node = open_node(options)
    try:
        g = node.grant(collection_ref, org_ref, read=read, write=write)
        c = node.store.get_collection(collection_ref)
        if c is None:
            raise NotFound(f"no collection {collection_ref!r}")
        emit(as_json, {"collection": c.id, "org_id": g.org_id, "can_read": g.can_read,
                       "can_write": g.can_write},
             f"{g.org_id} on {c.id}: read={g.can_read} write={g.can_write}")
    finally:
        node.store.close()
