"""Admin verbs: organisations, API keys, collections and their grants, communities and
agreements."""

from __future__ import annotations

from typing import Any

import click

from thiqa import admin_json
from thiqa.cli import emit, main, open_node, setting_options
from thiqa.errors import NotFound
from thiqa.node import CommunityView
from thiqa.store.model import MEMBER_ROLES, ROLES

_json_flag = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
_store_options = setting_options(["data", "db"])


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
        emit(as_json, admin_json.org(o), f"{o.id}  {o.name}")
    finally:
        node.store.close()


@org.command("list")
@_store_options
@_json_flag
def org_list(as_json: bool, **options: Any) -> None:
    """List organisations and how many communities or agreements each belongs to."""
    node = open_node(options)
    try:
        orgs = node.store.list_orgs()
        counts = node.store.membership_counts()
        emit(as_json, [admin_json.org(o, counts.get(o.id, 0)) for o in orgs],
             "\n".join(f"{o.id}  {_in_communities(counts.get(o.id, 0)):<18} {o.name}"
                       for o in orgs))
    finally:
        node.store.close()


def _in_communities(n: int) -> str:
    return f"in {n} communit{'y' if n == 1 else 'ies'}"


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
        emit(as_json, {**admin_json.key(record), "key": secret},
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
        emit(as_json, [admin_json.key(k) for k in keys], "\n".join(lines))
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
@click.option("--public", is_flag=True,
              help="Publish its TLP:CLEAR versions openly, to every organisation.")
@_store_options
@_json_flag
def collection_create(title: str, alias: str | None, description: str, readers: tuple[str, ...],
                      writers: tuple[str, ...], public: bool, as_json: bool,
                      **options: Any) -> None:
    """Create a collection."""
    node = open_node(options)
    try:
        c = node.create_collection(title, description=description, alias=alias,
                                   readers=readers, writers=writers, public=public)
        emit(as_json, admin_json.collection(c), f"{c.id}  {c.title}")
    finally:
        node.store.close()


@collection.command("publish")
@click.argument("collection_ref")
@click.option("--public/--closed", default=True, show_default=True,
              help="Open its TLP:CLEAR versions to every organisation, or close them again.")
@_store_options
@_json_flag
def collection_publish(collection_ref: str, public: bool, as_json: bool,
                       **options: Any) -> None:
    """Publish a collection's TLP:CLEAR versions openly (any collection, including a
    community's); GREEN and stricter stay with those in its scope."""
    node = open_node(options)
    try:
        c = node.set_public(collection_ref, public)
        emit(as_json, admin_json.collection(c),
             f"{c.id}  {c.title}: " + ("CLEAR versions published openly" if c.public
                                       else "not published openly"))
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
        emit(as_json, [{**admin_json.collection(c), "objects": n} for c, n in rows],
             "\n".join(f"{c.id}  {c.alias or '-':<16} {n:>9}  {c.title}"
                       + ("  (public)" if c.public else "") for c, n in rows))
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


def _community_text(view: CommunityView) -> str:
    c = view.community
    lines = [f"{c.id}  {c.kind}  {c.name}"]
    if c.description:
        lines.append(f"  {c.description}")
    tlp = c.default_tlp.label.upper() if c.default_tlp is not None else "none"
    pap = c.default_pap.label.upper() if c.default_pap is not None else "none"
    lines.append(f"  default handling: TLP {tlp}, PAP {pap}")
    lines += [f"  collection {x.id}  {x.alias}" for x in view.collections]
    lines += [f"  {m.role:<8} {o.id}  {o.name}" for m, o in view.members]
    return "\n".join(lines)


def _community_row(view: CommunityView) -> str:
    c = view.community
    alias = view.collections[0].alias if view.collections else None
    return f"{c.id}  {alias or '-':<24} {len(view.members):>4} members  {c.name}"


@main.group()
def community() -> None:
    """Communities: named sets of member organisations sharing through their collections."""


@community.command("create")
@click.argument("name")
@click.option("--member", "members", multiple=True,
              help="Member organisation, by name or identity id (repeat).")
@click.option("--convener", "conveners", multiple=True,
              help="Convening organisation: a member that manages the community (repeat).")
@click.option("--description", default="")
@click.option("--default-tlp", default=None,
              help="TLP of versions published into it without one: clear, green, amber, "
                   "amber+strict or red [default: none, i.e. the most restrictive]")
@click.option("--default-pap", default=None,
              help="PAP of versions published into it without one: clear, green, amber or red")
@_store_options
@_json_flag
def community_create(name: str, members: tuple[str, ...], conveners: tuple[str, ...],
                     description: str, default_tlp: str | None, default_pap: str | None,
                     as_json: bool, **options: Any) -> None:
    """Create a community and its TAXII collection (alias derived from the name)."""
    node = open_node(options)
    try:
        view = node.create_community(name, description=description, members=members,
                                     conveners=conveners,
                                     defaults=node.defaults_named(default_tlp, default_pap))
        emit(as_json, admin_json.community(view), _community_text(view))
    finally:
        node.store.close()


@community.command("set-defaults")
@click.argument("ref")
@click.option("--tlp", default=None, help="Default TLP, or 'none' [default: none].")
@click.option("--pap", default=None, help="Default PAP, or 'none' [default: none].")
@_store_options
@_json_flag
def community_set_defaults(ref: str, tlp: str | None, pap: str | None, as_json: bool,
                           **options: Any) -> None:
    """Set the default handling of a community or agreement (by id or name); it applies
    to versions published from now on. An option left out clears that default."""
    node = open_node(options)
    try:
        view = node.set_defaults(ref, node.defaults_named(tlp, pap))
        emit(as_json, admin_json.community(view), _community_text(view))
    finally:
        node.store.close()


@community.command("list")
@_store_options
@_json_flag
def community_list(as_json: bool, **options: Any) -> None:
    """List communities with their member counts (agreements: `thiqa agreement list`)."""
    node = open_node(options)
    try:
        views = node.communities("community")
        emit(as_json, [admin_json.community(v, members=False) for v in views],
             "\n".join(_community_row(v) for v in views))
    finally:
        node.store.close()


@community.command("show")
@click.argument("ref")
@_store_options
@_json_flag
def community_show(ref: str, as_json: bool, **options: Any) -> None:
    """Show a community or agreement (by id or name), its members and collections."""
    node = open_node(options)
    try:
        view = node.community(ref)
        emit(as_json, admin_json.community(view), _community_text(view))
    finally:
        node.store.close()


@community.command("add-member")
@click.argument("ref")
@click.argument("org_ref")
@click.option("--role", type=click.Choice(MEMBER_ROLES), default="member", show_default=True)
@_store_options
@_json_flag
def community_add_member(ref: str, org_ref: str, role: str, as_json: bool,
                         **options: Any) -> None:
    """Add an organisation to a community; it reads and writes the community's
    collections from now on."""
    node = open_node(options)
    try:
        m = node.add_member(ref, org_ref, role)
        c, o = node.community(ref).community, node.org(m.org_id)
        emit(as_json, {"community": c.id, **admin_json.member(m, o)},
             f"{o.id} ({o.name}) is now a {m.role} of {c.name}")
    finally:
        node.store.close()


@community.command("remove-member")
@click.argument("ref")
@click.argument("org_ref")
@_store_options
@_json_flag
def community_remove_member(ref: str, org_ref: str, as_json: bool, **options: Any) -> None:
    """Remove an organisation from a community; its access ends at once."""
    node = open_node(options)
    try:
        node.remove_member(ref, org_ref)
        c, o = node.community(ref).community, node.org(org_ref)
        emit(as_json, {"community": c.id, "org_id": o.id, "removed": True},
             f"{o.id} ({o.name}) is no longer a member of {c.name}")
    finally:
        node.store.close()


@main.group()
def agreement() -> None:
    """Bilateral agreements: communities of exactly two organisations, fixed at creation."""


@agreement.command("create")
@click.argument("org_a")
@click.argument("org_b")
@click.option("--name", default=None, help="[default: 'ORG_A & ORG_B']")
@click.option("--description", default="")
@click.option("--default-tlp", default=None,
              help="TLP of versions published into it without one: clear, green, amber, "
                   "amber+strict or red [default: none, i.e. the most restrictive]")
@click.option("--default-pap", default=None,
              help="PAP of versions published into it without one: clear, green, amber or red")
@_store_options
@_json_flag
def agreement_create(org_a: str, org_b: str, name: str | None, description: str,
                     default_tlp: str | None, default_pap: str | None,
                     as_json: bool, **options: Any) -> None:
    """Create an agreement between two organisations, and its TAXII collection."""
    node = open_node(options)
    try:
        view = node.create_agreement(org_a, org_b, name=name, description=description,
                                     defaults=node.defaults_named(default_tlp, default_pap))
        emit(as_json, admin_json.community(view), _community_text(view))
    finally:
        node.store.close()


@agreement.command("list")
@_store_options
@_json_flag
def agreement_list(as_json: bool, **options: Any) -> None:
    """List agreements with their two members."""
    node = open_node(options)
    try:
        views = node.communities("agreement")
        emit(as_json, [admin_json.community(v) for v in views],
             "\n".join(_community_row(v) for v in views))
    finally:
        node.store.close()


@main.command("retract")
@click.argument("object_id")
@click.option("--org", "org_ref", required=True,
              help="The originating organisation (name or identity id).")
@click.option("--from", "from_refs", multiple=True,
              help="Withdraw only from this collection (id or alias); repeatable. "
                   "Default: from every collection of the node.")
@_store_options
@_json_flag
def retract(object_id: str, org_ref: str, from_refs: tuple[str, ...], as_json: bool,
            **options: Any) -> None:
    """Withdraw an object's versions that ORG originated (narrow its scope with --from)."""
    node = open_node(options)
    try:
        who = node.operator_for(org_ref)
        left = node.retract(who, object_id, list(from_refs) if from_refs else None)
        emit(as_json, {"id": object_id, "collections": [c.id for c in left]},
             f"{object_id} withdrawn from " + ", ".join(c.alias or c.id for c in left))
    finally:
        node.store.close()
