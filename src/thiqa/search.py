"""Search: the latest versions an organisation may see, across every collection it may
read, that carry a STIX id or contain a piece of text (a name, an address, a hash, a
word of a description).

Each collection is searched with an ordinary read (:meth:`thiqa.node.Node.read`), so
the one policy decides what is found (rule 6: what may not be seen is not found, and
nothing says it exists) and a result of TLP:AMBER or stricter is in the audit log.
Observed values to be matched with normalisation (CIDR ranges, domain suffixes,
case-folded hashes) go to matching instead (:mod:`thiqa.correlate`, ``/api/match/``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson

from thiqa.auth import Principal
from thiqa.errors import BadRequest
from thiqa.node import Node
from thiqa.store.model import LAST, ObjectQuery

MIN_TEXT = 3
LIMIT_MAX = 1000
_STIX_ID = re.compile(r"^[a-z][a-z0-9-]+--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                      r"[0-9a-f]{12}$")


@dataclass(frozen=True, slots=True)
class Found:
    collection: str  # collection id
    object: bytes  # the version's JSON


@dataclass(frozen=True, slots=True)
class Results:
    found: list[Found]
    more: bool


def search(node: Node, who: Principal, q: str, *, types: tuple[str, ...] = (),
           limit: int = 100) -> Results:
    """Up to ``limit`` latest visible versions matching ``q``, collection by collection
    in the order they are listed, each collection's in date_added order."""
    q = q.strip()
    ids: tuple[str, ...] = ()
    text: str | None = None
    if _STIX_ID.match(q):
        ids, text = (q,), None
    elif len(q) >= MIN_TEXT:
        ids, text = (), q
    else:
        raise BadRequest(f"search for a STIX id or at least {MIN_TEXT} characters of text")
    if not 1 <= limit <= LIMIT_MAX:
        raise BadRequest(f"limit must be between 1 and {LIMIT_MAX}")
    found: list[Found] = []
    for view in node.collections(who):
        if not view.access.can_read:
            continue
        page = node.read(who, view.collection.id, ObjectQuery(
            0, ids, types, LAST, limit=limit - len(found) + 1, text=text), bodies=True)
        found.extend(Found(view.collection.id, r.body) for r in page.records
                     if r.body is not None)
        if len(found) > limit:
            return Results(found[:limit], True)
    return Results(found, False)


def render(results: Results) -> bytes:
    body = b",".join(b'{"collection":' + orjson.dumps(f.collection) + b',"object":'
                     + f.object + b"}" for f in results.found)
    return (b'{"results":[' + body + b'],"more":' + (b"true" if results.more else b"false")
            + b"}")
