"""TAXII 2.1 resources as JSON bytes.

Pages are assembled from the stored object bodies by concatenation: a read never
parses or re-serialises the objects it returns.
"""

from __future__ import annotations

from typing import Any

import orjson

from thiqa.node import CollectionView
from thiqa.store.model import Outcome, Page, Status
from thiqa.taxii.media import STIX
from thiqa.timestamps import format_us


def collection(view: CollectionView) -> dict[str, Any]:
    """A collection resource (§5.2.1)."""
    c = view.collection
    out: dict[str, Any] = {"id": c.id, "title": c.title}
    if c.description:
        out["description"] = c.description
    if c.alias:
        out["alias"] = c.alias
    out.update(can_read=view.access.can_read, can_write=view.access.can_write,
               media_types=[STIX])
    return out


def _details(outcomes: list[Outcome]) -> list[dict[str, str]]:
    rows = []
    for o in outcomes:
        row = {"id": o.id, "version": o.version}
        if o.message:
            row["message"] = o.message
        rows.append(row)
    return rows


def status(s: Status) -> bytes:
    """A status resource (§4.3.1). Empty detail lists are omitted: TAXII lists are never empty."""
    out: dict[str, Any] = {
        "id": s.id,
        "status": "complete" if s.complete else "pending",
        "request_timestamp": format_us(s.request_us),
        "total_count": s.total,
        "success_count": len(s.successes),
        "failure_count": len(s.failures),
        "pending_count": len(s.pendings),
    }
    for name, outcomes in (("successes", s.successes), ("failures", s.failures),
                           ("pendings", s.pendings)):
        if outcomes:
            out[name] = _details(outcomes)
    return orjson.dumps(out)


def _head(page: Page, next_token: str | None) -> bytes:
    if page.more:
        head = b'{"more":true'
        if next_token:
            head += b',"next":' + orjson.dumps(next_token)
        return head
    return b'{"more":false'


def envelope(page: Page, next_token: str | None) -> bytes:
    """An envelope (§3.7); ``{}`` when nothing matched."""
    if not page.records:
        return b"{}"
    bodies = b",".join(r.body or b"{}" for r in page.records)
    return _head(page, next_token) + b',"objects":[' + bodies + b"]}"


def manifest(page: Page, next_token: str | None) -> bytes:
    """A manifest resource (§5.3.1); ``{}`` when nothing matched."""
    if not page.records:
        return b"{}"
    rows = [{"id": r.id, "date_added": format_us(r.date_added), "version": r.version,
             "media_type": STIX} for r in page.records]
    return _head(page, next_token) + b',"objects":' + orjson.dumps(rows) + b"}"


def versions(page: Page, next_token: str | None) -> bytes:
    """A versions resource (§5.8.1); ``{}`` when nothing matched."""
    if not page.records:
        return b"{}"
    return (_head(page, next_token) + b',"versions":'
            + orjson.dumps([r.version for r in page.records]) + b"}")


def error(http_status: int, title: str, description: str,
          details: dict[str, Any] | None = None) -> bytes:
    """An error message (§3.6.1)."""
    out: dict[str, Any] = {"title": title, "description": description,
                           "http_status": str(http_status)}
    if details:
        out["details"] = details
    return orjson.dumps(out)
