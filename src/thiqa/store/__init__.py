"""The store protocol: what the service layer needs from a database, in domain types.

Implementations: :mod:`thiqa.store.sqlite` (embedded default) and
:mod:`thiqa.store.postgres` (a PostgreSQL server, shared by many processes). Both keep versions
immutable, assign every stored version a node-wide increasing ``seq`` and a strictly
increasing ``date_added`` (so that paging by ``added_after`` never skips an object
that shares a timestamp), and commit a write durably before returning.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from thiqa.audit import AuditQuery, Event
from thiqa.handling import Pap, Tlp
from thiqa.store.model import (
    ApiKey,
    Collection,
    Community,
    CommunityKind,
    Grant,
    Member,
    NewVersion,
    ObjectQuery,
    Org,
    Origin,
    Outcome,
    Page,
    Provenance,
    Release,
    ReleaseState,
    SignedBatch,
    Status,
    StoredProvenance,
    TrustedKey,
    Versions,
    Visibility,
)


class BulkWriter(Protocol):
    def add(self, items: Sequence[NewVersion], now_us: int,
            provenance: Provenance | None = None) -> list[Outcome]:
        """Like :meth:`Store.add_versions`, but durable only once the session commits."""


class Store(Protocol):
    # -- organisations and keys -------------------------------------------------
    def add_org(self, org: Org) -> None: ...
    def get_org(self, ref: str) -> Org | None:
        """By identity id or by name."""
    def list_orgs(self) -> list[Org]: ...
    def add_key(self, key: ApiKey, secret_hash: bytes) -> None: ...
    def key_by_hash(self, secret_hash: bytes) -> ApiKey | None: ...
    def list_keys(self, org_id: str | None = None) -> list[ApiKey]: ...
    def revoke_key(self, key_id: str, when_us: int) -> bool: ...

    # -- collections -------------------------------------------------------------
    def add_collection(self, collection: Collection) -> Collection:
        """Store a new collection; returns it with its ``pk`` assigned."""
    def get_collection(self, ref: str) -> Collection | None:
        """By id or by alias."""
    def list_collections(self) -> list[Collection]: ...
    def set_public(self, collection_pk: int, public: bool) -> None:
        """Publish a collection's TLP:CLEAR versions openly, or stop doing so."""
    def set_grant(self, grant: Grant) -> None: ...
    def grants(self, org_id: str) -> dict[int, Grant]:
        """The org's grants, by collection pk."""

    # -- communities and agreements -------------------------------------------------
    def add_community(self, community: Community, members: Sequence[Member],
                      collections: Sequence[Collection]) -> tuple[Community, list[Collection]]:
        """Store a community, its members and its collections in one transaction; returns
        them with ``pk`` assigned (members' and collections' ``community_pk`` are filled
        in here). An agreement must have exactly two members; a second agreement between
        the same pair is a Conflict."""
    def set_community_defaults(self, community_pk: int, tlp: Tlp | None,
                               pap: Pap | None) -> None:
        """The handling applied to versions written into its collections without any."""
    def get_community(self, ref: str) -> Community | None:
        """By id or by name."""
    def community_by_pk(self, pk: int) -> Community | None: ...
    def list_communities(self, kind: CommunityKind | None = None) -> list[Community]:
        """All communities (or those of one kind), by name."""
    def agreement_between(self, org_a: str, org_b: str) -> Community | None: ...
    def members(self, community_pk: int) -> list[Member]:
        """Conveners first, then members, each in order of joining."""
    def add_member(self, member: Member) -> None: ...
    def remove_member(self, community_pk: int, org_id: str) -> bool: ...
    def memberships(self, org_id: str) -> frozenset[int]:
        """The pks of the communities the org is a member of (any role)."""
    def membership_counts(self) -> dict[str, int]:
        """How many communities each org is a member of, by org id (absent: none)."""
    def community_collections(self, community_pk: int) -> list[Collection]: ...

    # -- object versions ------------------------------------------------------------
    def add_versions(self, collection_pk: int, items: Sequence[NewVersion],
                     now_us: int, origin: Origin = ...,
                     provenance: Provenance | None = None) -> list[Outcome]:
        """Add versions to a collection in one durable transaction, one outcome per item.

        Each new entry records ``origin.originator`` and the item's marks resolved with
        ``origin.defaults``. Only holdings ``origin.sees`` admits take part: duplicates
        and immutability are judged against them, and a version among them that another
        organisation originated goes through ``origin.gate`` (re-sharing) first.

        ``provenance`` is recorded for each version body the write creates whose entry
        keeps ``origin.originator`` (thiqa.federation): bodies already on the node keep
        what they had.
        """
    def bulk(self, collection_pk: int, *, commit_every: int = 100_000,
             origin: Origin = ...) -> AbstractContextManager[BulkWriter]:
        """A session of many ``add`` calls with few, large transactions (``thiqa load``).

        Everything added is durable when the ``with`` block ends without an exception.
        """
    def query(self, q: ObjectQuery, *, bodies: bool = True) -> Page: ...
    def delete_versions(self, collection_pk: int, object_id: str, versions: Versions,
                        spec_versions: tuple[str, ...] = (),
                        visibility: Visibility = ..., reason: str = "delete") -> int:
        """Remove matching versions of one object from a collection, among those
        ``visibility`` admits; returns how many. Each leaves a tombstone of kind
        ``reason`` ("delete" or "retract") in the event log (thiqa.stream)."""
    def count(self, collection_pk: int) -> int:
        """Number of versions in a collection."""

    # -- status and node metadata ------------------------------------------------------
    def save_status(self, status: Status) -> None: ...
    def get_status(self, status_id: str) -> Status | None: ...
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def meta_default(self, key: str, value: str) -> str:
        """The value of ``key``, set to ``value`` first if it has none, atomically: of
        processes racing to set it (workers starting on a new database), every one gets
        the value of the first."""
    # -- release requests and grants --------------------------------------------------
    def add_release(self, r: Release) -> None: ...
    def get_release(self, release_id: str) -> Release | None: ...
    def list_releases(self, org_id: str) -> list[Release]:
        """Releases the org asked for or must decide, oldest first."""
    def decide_release(self, release_id: str, state: ReleaseState, decided_us: int,
                       grant_record: bytes | None = None, signature: str | None = None,
                       signer: str | None = None) -> bool:
        """Record a decision on a pending request; False when it was no longer pending."""
    def granted_releases(self, requester: str, collection_pk: int) -> list[Release]: ...

    # -- audit log (append-only) --------------------------------------------------------
    def append_audit(self, events: Sequence[Event]) -> None:
        """Record events durably, in order; there is no way to change or remove one."""
    def audit(self, q: AuditQuery) -> list[Event]:
        """Events matching ``q``, newest first."""
    # -- provenance and trust (thiqa.federation) -----------------------------------------
    def provenance(self, seqs: Sequence[int]) -> dict[int, StoredProvenance]:
        """The provenance of the versions of these entries, by entry seq (absent: none)."""
    def signing_batch(self, pk: int) -> SignedBatch | None: ...
    def pin_key(self, key: TrustedKey) -> None:
        """Pin a partner key (or replace the pin of the same fingerprint)."""
    def trusted_keys(self, node_id: str | None = None) -> list[TrustedKey]:
        """Pinned keys (of one node), oldest pin first."""
    def trusted_key(self, fingerprint: str) -> TrustedKey | None: ...
    def revoke_trusted_key(self, fingerprint: str, when_us: int) -> bool:
        """Refuse the key from now on; False when it was not pinned or already revoked."""
    def rotate_trusted_key(self, old: str, until_us: int, new: TrustedKey) -> None:
        """In one transaction: ``old`` verifies only what it signed before ``until_us``,
        ``new`` is pinned."""
    def node_keys(self) -> list[tuple[str, str, int, int | None, bytes | None]]:
        """This node's keys (fingerprint, public key, created, retired, rotation
        statement), oldest first."""
    def add_node_key(self, fingerprint: str, public_key: str, created_us: int) -> None:
        """Record a key of this node (nothing if already recorded)."""
    def retire_node_key(self, fingerprint: str, retired_us: int, rotation: bytes) -> None: ...

    def close(self) -> None: ...


def open_store(url: str, data_dir: str) -> Store:
    """The store a ``db`` setting names: SQLite in ``data_dir`` when the URL is empty,
    PostgreSQL for a ``postgresql://`` URL."""
    from pathlib import Path

    from thiqa.errors import ConfigError

    if url.startswith(("postgresql://", "postgres://")):
        try:
            from thiqa.store.postgres import PostgresStore
        except ModuleNotFoundError as exc:
            if exc.name is None or not exc.name.startswith("psycopg"):
                raise
            raise ConfigError("the PostgreSQL store needs the psycopg driver: "
                              "pip install 'thiqa[postgres]'") from exc
        return PostgresStore(url)
    from thiqa.store.sqlite import SQLiteStore

    path = Path(url[len("sqlite:"):]) if url.startswith("sqlite:") else Path(data_dir) / "thiqa.db"
    return SQLiteStore(path)


__all__ = ["BulkWriter", "Store", "open_store"]
