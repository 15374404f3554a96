"""What a caller may do with a collection (TAXII can_read / can_write, §5.2.1).

Roles: ``admin`` reads and writes every collection and administers the node;
``analyst`` reads and writes where its organisation has a grant; ``reader`` only ever
reads. A collection the caller can neither read nor write does not exist for it
(404, never 403), so its existence does not leak.
"""

from __future__ import annotations

from dataclasses import dataclass

from thiqa.auth import Principal
from thiqa.store.model import Collection, Grant


@dataclass(frozen=True, slots=True)
class Access:
    can_read: bool
    can_write: bool

    @property
    def visible(self) -> bool:
        return self.can_read or self.can_write


def collection_access(who: Principal, collection: Collection, grants: dict[int, Grant]) -> Access:
    if who.is_admin:
        return Access(True, True)
    grant = grants.get(collection.pk)
    if grant is None:
        return Access(False, False)
    return Access(grant.can_read, grant.can_write and who.role != "reader")
