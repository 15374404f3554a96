"""Domain types the store takes and returns (no SQL, no HTTP in them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

Role = Literal["admin", "analyst", "reader"]
ROLES: tuple[Role, ...] = ("admin", "analyst", "reader")
CommunityKind = Literal["community", "agreement"]
MemberRole = Literal["member", "convener"]
MEMBER_ROLES: tuple[MemberRole, ...] = ("member", "convener")


@dataclass(frozen=True, slots=True)
class Org:
    """One organisation (one agency), known by its STIX identity id."""

    id: str
    name: str
    created_us: int


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key's public record; the secret itself is never stored, only its hash."""

    id: str
    org_id: str
    role: Role
    label: str
    created_us: int
    revoked_us: int | None = None


@dataclass(frozen=True, slots=True)
class Collection:
    """A TAXII collection. ``community_pk`` names the community it belongs to (whose
    membership decides access to it), or is None for a plain collection governed by
    per-organisation grants."""

    pk: int
    id: str
    title: str
    description: str = ""
    alias: str | None = None
    created_us: int = 0
    community_pk: int | None = None


@dataclass(frozen=True, slots=True)
class Community:
    """A named set of member organisations sharing through the community's collections.

    An ``agreement`` is the bilateral case: exactly two members, fixed at creation.
    ``id`` is a stable UUID, the community's public name in every API and, later, in
    the scope recorded on shared object versions.
    """

    pk: int
    id: str
    kind: CommunityKind
    name: str
    description: str = ""
    created_us: int = 0


@dataclass(frozen=True, slots=True)
class Member:
    """One organisation's membership of one community. A ``convener`` manages the
    community (membership, and later its default handling); both roles read and write
    its collections."""

    community_pk: int
    org_id: str
    role: MemberRole
    joined_us: int


@dataclass(frozen=True, slots=True)
class Grant:
    """What one organisation may do with one collection."""

    collection_pk: int
    org_id: str
    can_read: bool
    can_write: bool


class NewVersion(NamedTuple):
    """A validated STIX object version ready to store.

    ``version`` is the object's ``modified`` (else ``created``) as written, or None for
    objects that carry neither (most SCOs); ``vkey`` is its version key
    (:func:`thiqa.timestamps.version_key`) or None likewise. ``body`` is the object's
    JSON, stored and served byte for byte.

    A named tuple, not a dataclass: ``thiqa load`` makes a million of them in one
    process and rebuilds them in another, and a tuple is built and pickled in C.
    """

    id: str
    type: str
    spec_version: str
    version: str | None
    vkey: str | None
    body: bytes


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one object of a write (a TAXII status-details entry)."""

    id: str
    version: str
    ok: bool
    message: str | None = None


@dataclass(frozen=True, slots=True)
class Versions:
    """A TAXII ``match[version]`` selection (TAXII 2.1 §3.4.1)."""

    all: bool = False
    first: bool = False
    last: bool = False
    keys: tuple[str, ...] = ()


LAST = Versions(last=True)
ALL = Versions(all=True)


@dataclass(frozen=True, slots=True)
class Cursor:
    """Position after the last record of a page: (date_added, sequence)."""

    date_added: int
    seq: int


@dataclass(frozen=True, slots=True)
class ObjectQuery:
    """One read of a collection's object versions, in ascending date_added order."""

    collection_pk: int
    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    versions: Versions = LAST
    spec_versions: tuple[str, ...] = ()
    added_after: int | None = None
    after: Cursor | None = None
    limit: int = 1000


@dataclass(frozen=True, slots=True)
class Record:
    seq: int
    date_added: int
    id: str
    version: str
    spec_version: str
    body: bytes | None = None


@dataclass(frozen=True, slots=True)
class Page:
    records: list[Record]
    more: bool

    @property
    def cursor(self) -> Cursor | None:
        if not self.records:
            return None
        last = self.records[-1]
        return Cursor(last.date_added, last.seq)


@dataclass(slots=True)
class Status:
    """A TAXII status resource (TAXII 2.1 §4.3.1) for one POST of objects."""

    id: str
    collection_pk: int
    org_id: str
    request_us: int
    total: int
    successes: list[Outcome] = field(default_factory=list)
    failures: list[Outcome] = field(default_factory=list)
    pendings: list[Outcome] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.pendings
