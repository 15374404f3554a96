"""The JSON form of admin records: one shape for ``thiqa … --json`` and the admin API.

Times are RFC 3339 UTC strings (``format_us``); ids are the public ones (STIX identity
ids for organisations, UUIDs for collections and communities), never internal keys.
"""

from __future__ import annotations

from typing import Any

from thiqa.audit import Event
from thiqa.node import CommunityView
from thiqa.store.model import ApiKey, Collection, Member, Org
from thiqa.timestamps import format_us


def org(o: Org, communities: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": o.id, "name": o.name, "created": format_us(o.created_us)}
    if communities is not None:
        out["communities"] = communities
    return out


def key(k: ApiKey) -> dict[str, Any]:
    return {"id": k.id, "org_id": k.org_id, "role": k.role, "label": k.label,
            "created": format_us(k.created_us),
            "revoked": format_us(k.revoked_us) if k.revoked_us is not None else None}


def collection(c: Collection) -> dict[str, Any]:
    return {"id": c.id, "alias": c.alias, "title": c.title, "description": c.description,
            "public": c.public}


def member(m: Member, o: Org) -> dict[str, Any]:
    return {"org_id": o.id, "name": o.name, "role": m.role, "joined": format_us(m.joined_us)}


def community(view: CommunityView, *, members: bool = True) -> dict[str, Any]:
    """A community or agreement; ``members=False`` (listings) gives only their count."""
    c = view.community
    out: dict[str, Any] = {"id": c.id, "kind": c.kind, "name": c.name,
                           "description": c.description, "created": format_us(c.created_us),
                           "default_tlp": c.default_tlp.label if c.default_tlp is not None
                           else None,
                           "default_pap": c.default_pap.label if c.default_pap is not None
                           else None,
                           "member_count": len(view.members),
                           "collections": [collection(x) for x in view.collections]}
    if members:
        out["members"] = [member(m, o) for m, o in view.members]
    return out


def event(e: Event) -> dict[str, Any]:
    return {"seq": e.seq, "time": format_us(e.at_us), "org_id": e.org_id or None,
            "key_id": e.key_id or None, "action": e.action, "outcome": e.outcome,
            "collection": e.collection or None, "objects": list(e.objects),
            "detail": e.detail}
