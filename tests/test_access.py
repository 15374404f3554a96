"""The access decision (thiqa.access) for every role, collection kind and standing."""

from __future__ import annotations

import pytest

from thiqa.access import Access, Entitlements, collection_access
from thiqa.auth import Principal
from thiqa.store.model import ApiKey, Collection, Grant, Org

ORG = Org("identity--00000000-0000-4000-8000-000000000001", "A", 0)
PLAIN = Collection(1, "c1", "plain")
OF_COMMUNITY = Collection(2, "c2", "community", community_pk=7)


def who(role: str) -> Principal:
    return Principal(ApiKey("k", ORG.id, role, "", 0), ORG)  # type: ignore[arg-type]


MEMBER = Entitlements({}, frozenset({7}))
OUTSIDER = Entitlements({}, frozenset({8}))
# A stale grant on a community's collection must not let an outsider in.
GRANTED_OUTSIDER = Entitlements({2: Grant(2, ORG.id, True, True)}, frozenset())
GRANT_RW = Entitlements({1: Grant(1, ORG.id, True, True)}, frozenset())
GRANT_W = Entitlements({1: Grant(1, ORG.id, False, True)}, frozenset())


@pytest.mark.parametrize(("role", "collection", "held", "expected"), [
    ("admin", OF_COMMUNITY, OUTSIDER, (True, True)),
    ("admin", PLAIN, OUTSIDER, (True, True)),
    ("analyst", OF_COMMUNITY, MEMBER, (True, True)),
    ("reader", OF_COMMUNITY, MEMBER, (True, False)),
    ("analyst", OF_COMMUNITY, OUTSIDER, (False, False)),
    ("reader", OF_COMMUNITY, OUTSIDER, (False, False)),
    ("analyst", OF_COMMUNITY, GRANTED_OUTSIDER, (False, False)),
    ("analyst", PLAIN, MEMBER, (False, False)),   # membership says nothing of plain ones
    ("analyst", PLAIN, GRANT_RW, (True, True)),
    ("reader", PLAIN, GRANT_RW, (True, False)),
    ("analyst", PLAIN, GRANT_W, (False, True)),
    ("reader", PLAIN, GRANT_W, (False, False)),   # a reader never writes: invisible
])
def test_access_matrix(role: str, collection: Collection, held: Entitlements,
                       expected: tuple[bool, bool]) -> None:
    assert collection_access(who(role), collection, held) == Access(*expected)
