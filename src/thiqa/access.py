"""What a caller may do with a collection (TAXII can_read / can_write, §5.2.1).

This is the one place that decides collection access. Roles: ``admin`` reads and
writes every collection and administers the node; ``analyst`` reads and writes where
its organisation may; ``reader`` only ever reads.

What the organisation may do depends on the kind of collection:

- a **community's collection** (``Collection.community_pk`` set): every member of the
  community reads and writes it, whatever its member role; nobody else has any
  access, and per-collection grants are ignored, so removing a member takes effect
  completely and at once;
- a **plain collection**: the organisation's explicit grant decides;
- and a **public collection** (of either kind) may, besides, be read by every
  organisation, which then sees only its TLP:CLEAR versions (``clear_only``: DESIGN
  rule 1, "CLEAR and published openly"; :mod:`thiqa.policy` applies it). Writing into
  it still takes membership or a grant.

A collection the caller can neither read nor write does not exist for it (404, never
403), so its existence does not leak.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from thiqa.auth import Principal
from thiqa.store.model import Collection, Grant


@dataclass(frozen=True, slots=True)
class Access:
    can_read: bool
    can_write: bool
    clear_only: bool = False

    @property
    def visible(self) -> bool:
        return self.can_read or self.can_write


@dataclass(frozen=True, slots=True)
class Entitlements:
    """What an organisation holds: grants on plain collections (by collection pk) and
    the communities it is a member of (by community pk)."""

    grants: Mapping[int, Grant]
    communities: frozenset[int]


NOTHING = Entitlements({}, frozenset())


def collection_access(who: Principal, collection: Collection, held: Entitlements) -> Access:
    if who.is_admin:
        return Access(True, True)
    if collection.community_pk is not None:
        member = collection.community_pk in held.communities
        access = Access(member, member and who.role != "reader")
    else:
        grant = held.grants.get(collection.pk)
        access = (Access(False, False) if grant is None
                  else Access(grant.can_read, grant.can_write and who.role != "reader"))
    if collection.public and not access.can_read:
        return Access(True, access.can_write, clear_only=True)
    return access


def reach(who: Principal, collections: Iterable[Collection],
          held: Entitlements) -> tuple[frozenset[int], frozenset[int]]:
    """The pks of the collections ``who`` may read in full, and of those it may read only
    the openly published (TLP:CLEAR) part of."""
    full: set[int] = set()
    clear: set[int] = set()
    for c in collections:
        access = collection_access(who, c, held)
        if access.can_read:
            (clear if access.clear_only else full).add(c.pk)
    return frozenset(full), frozenset(clear)
