"""The audit log: who did what, when, to which collection and objects.

What is recorded (issue "sovereign sharing"; DESIGN.md rule 6 — the same policy decides
what a read returned, so the log names exactly what was disclosed):

- every write: ``add`` (a TAXII POST or a ``thiqa load``, with the stored object ids
  and the counts) and ``delete``;
- every read that returned a TLP:AMBER, AMBER+STRICT or RED version: ``read``, with
  the ids of those versions' objects (CLEAR and GREEN reads are not recorded: they are
  the bulk of the traffic and their handling allows onward sharing anyway);
- every denial: ``deny`` — a key that is not valid (401), a role or grant that does not
  allow the request (403), a collection the caller may not see (404 to it), a version
  refused by a handling rule;
- every administrative change: ``admin.<verb>`` (organisations, keys, collections,
  grants, communities, agreements, members, defaults), by the CLI operator or by the
  admin key that made it over ``/admin/``.

The log is append-only (the store refuses updates and deletions) and queryable by
organisation, time, object and action (``thiqa audit``, ``GET /admin/audit/``).
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import TYPE_CHECKING

from thiqa.errors import BadRequest
from thiqa.timestamps import parse_us

if TYPE_CHECKING:  # the store imports this module; auth imports the store
    from thiqa.auth import Principal

# The acting principal of administrative changes made over HTTP; None: the operator.
_ACTOR: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("thiqa_actor",
                                                                          default=None)
OPERATOR_KEY = "cli"


@dataclass(frozen=True, slots=True)
class Event:
    at_us: int
    org_id: str
    key_id: str
    action: str
    outcome: str  # "ok" or "denied"
    collection: str = ""
    objects: tuple[str, ...] = ()
    detail: str = ""
    seq: int = 0  # assigned by the store


@dataclass(frozen=True, slots=True)
class AuditQuery:
    org_id: str | None = None
    object_id: str | None = None
    action: str | None = None  # exact, or a prefix ending in '.' ("admin.")
    since_us: int | None = None
    until_us: int | None = None
    limit: int = 100


AUDIT_LIMIT_MAX = 10_000


def query_from(*, org: str | None = None, object_id: str | None = None,
               action: str | None = None, since: str | None = None,
               until: str | None = None, limit: int | str | None = None) -> AuditQuery:
    """An :class:`AuditQuery` from the textual filters of ``thiqa audit`` and
    ``GET /admin/audit/`` (times RFC 3339 UTC); ``org`` must already be an identity id.
    Raises BadRequest saying which filter is wrong."""

    def when(name: str, text: str | None) -> int | None:
        if text is None:
            return None
        try:
            return parse_us(text)
        except ValueError as exc:
            raise BadRequest(f"{name}: {exc}") from None

    n = 100
    if limit is not None:
        try:
            n = int(limit)
        except ValueError:
            raise BadRequest(f"limit: {limit!r} is not a whole number") from None
        if not 1 <= n <= AUDIT_LIMIT_MAX:
            raise BadRequest(f"limit must be between 1 and {AUDIT_LIMIT_MAX:,}")
    return AuditQuery(org, object_id, action, when("since", since), when("until", until), n)


def by(who: Principal | None, at_us: int, action: str, *, outcome: str = "ok",
       collection: str = "", objects: tuple[str, ...] = (), detail: str = "") -> Event:
    """An event by ``who`` (None: the operator at the console)."""
    if who is None:
        return Event(at_us, "", OPERATOR_KEY, action, outcome, collection, objects, detail)
    return Event(at_us, who.org.id, who.key.id, action, outcome, collection, objects, detail)


def attribute(who: Principal) -> None:
    """Attribute the administrative changes of the rest of this task (one HTTP request)
    to ``who``; threads it starts with ``run_in_threadpool`` inherit it."""
    _ACTOR.set(who)


def actor() -> Principal | None:
    return _ACTOR.get()
