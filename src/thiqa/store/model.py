"""Domain types the store takes and returns (no SQL, no HTTP in them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from thiqa.handling import NO_DEFAULTS, UNMARKED, Defaults, Handling, Marks, Pap, Tlp

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
    per-organisation grants. A ``public`` collection publishes its TLP:CLEAR versions
    openly: every organisation may read those, whatever its membership or grants."""

    pk: int
    id: str
    title: str
    description: str = ""
    alias: str | None = None
    created_us: int = 0
    community_pk: int | None = None
    public: bool = False


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
    default_tlp: Tlp | None = None
    default_pap: Pap | None = None

    @property
    def defaults(self) -> Defaults:
        """What applies to versions written into its collections without handling."""
        return Defaults(self.default_tlp, self.default_pap)


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
    JSON, stored and served byte for byte. ``marks`` is the handling the publisher
    wrote (:func:`thiqa.handling.marks`), resolved against the collection's defaults
    when stored (:class:`Origin`).

    A named tuple, not a dataclass: ``thiqa load`` makes a million of them in one
    process and rebuilds them in another, and a tuple is built and pickled in C.
    """

    id: str
    type: str
    spec_version: str
    version: str | None
    vkey: str | None
    body: bytes
    marks: Marks = UNMARKED


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
class Visibility:
    """Which versions a read may return, as :mod:`thiqa.policy` decided it.

    A version is returned when its collection is in ``collections`` (None: any) and
    either ``everything`` holds, or its TLP is below ``tlp_below``, or it was
    originated by ``originator``, or it names ``recipient`` among its recipients; and
    also when it is TLP:CLEAR and its collection is in ``clear_in`` (collections the
    reader sees only the openly published part of). Stores translate this literally
    (SQLite: a WHERE condition); they decide nothing.
    """

    everything: bool = False
    tlp_below: int = 0
    originator: str | None = None
    recipient: str | None = None
    collections: frozenset[int] | None = None
    clear_in: frozenset[int] = frozenset()


EVERYTHING = Visibility(everything=True)
NOTHING_VISIBLE = Visibility(collections=frozenset())


@dataclass(frozen=True, slots=True)
class Held:
    """A version the node holds under one collection, as a writer may see it: which
    collection (and community) holds it, who originated it there and its handling."""

    collection_pk: int
    community_pk: int | None
    originator: str
    handling: Handling


@dataclass(frozen=True, slots=True)
class Stamp:
    """Originator and handling a new entry is stored with."""

    originator: str
    handling: Handling


# Decides a write of a version already held (and visible to the writer) with another
# originator: the stamp to store it with, or the message refusing it (thiqa.policy).
# Called with the object's id, the stamp the writer would give it and the copies held.
Gate = Callable[[str, Stamp, Sequence[Held]], "Stamp | str"]


def _open_gate(object_id: str, stamp: Stamp, held: Sequence[Held]) -> Stamp | str:
    return stamp


@dataclass(frozen=True, slots=True)
class Origin:
    """Who writes and under which rules: the originator (the writing key's
    organisation), the collection's default handling, what of the node's holdings
    the writer may see (so that nothing it may not see influences the write) and the
    re-sharing gate for versions it received from others."""

    originator: str
    defaults: Defaults = NO_DEFAULTS
    sees: Visibility = EVERYTHING
    gate: Gate = _open_gate


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
    # thiqa.node always sets it from thiqa.policy; EVERYTHING serves the store's own
    # callers (tests, benchmarks). first/last are taken among the visible versions.
    visibility: Visibility = EVERYTHING
    # Only versions whose JSON contains this text, ignoring ASCII case (search).
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Record:
    seq: int
    date_added: int
    id: str
    version: str
    spec_version: str
    tlp: int  # thiqa.handling.Tlp value of this entry (the audit log records AMBER+ reads)
    originator: str  # identity id of the organisation that originated the version
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


ReleaseState = Literal["pending", "granted", "refused"]


@dataclass(frozen=True, slots=True)
class Release:
    """A receiver's request to release a version it received into another collection,
    and the originator's answer (a grant carries its signed record)."""

    id: str
    object_id: str
    requester: str
    originator: str
    collection_pk: int
    reason: str
    state: ReleaseState
    created_us: int
    decided_us: int | None = None
    grant_record: bytes | None = None
    signature: str | None = None
    signer: str | None = None


# -- provenance and trust (thiqa.federation) ------------------------------------------
@dataclass(frozen=True, slots=True)
class SignedBatch:
    """This node's signature over the versions of one write (:mod:`thiqa.federation`):
    the Merkle root of their leaves, signed once with the node key. ``leaves`` holds
    one 32-byte leaf per item of the write, in order; the store keeps it so that the
    audit path of any version can be given when it leaves the node."""

    node_id: str
    org_id: str
    key: str  # fingerprint of the signing key (thiqa.signing.fingerprint)
    signed_us: int
    root: bytes
    signature: str
    leaves: bytes


@dataclass(frozen=True, slots=True)
class Provenance:
    """How the new versions of one write are vouched for: signed here (``signed``, for
    the versions the writer originates) or as received from a peer (``received``: per
    item, the provenance extension as it arrived, verified, in JSON)."""

    signed: SignedBatch | None = None
    received: Sequence[bytes] = ()


@dataclass(frozen=True, slots=True)
class StoredProvenance:
    """What the store holds for one entry's version: a batch and leaf index, or the
    received extension."""

    batch_pk: int | None
    leaf: int | None
    received: bytes | None


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """A partner node's pinned Ed25519 key. It verifies signatures dated in
    [valid_from_us, valid_until_us) (None: unbounded) until revoked; ``orgs`` are the
    organisations (identity ids) it may sign for, the partner's own first."""

    fingerprint: str
    public_key: str
    node_id: str
    orgs: tuple[str, ...]
    name: str
    pinned_us: int
    valid_from_us: int | None = None
    valid_until_us: int | None = None
    revoked_us: int | None = None
    replaced_by: str | None = None
    tls_fingerprint: str | None = None  # for peering's mutual TLS

    @property
    def org_id(self) -> str:
        return self.orgs[0]
