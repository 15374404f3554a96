"""The service layer: what a node does, independent of HTTP and of SQL.

The TAXII endpoints and the CLI both call :class:`Node`; it authenticates, decides
access (:mod:`thiqa.access`), validates writes (:mod:`thiqa.ingest`) and talks to the
store in domain types.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from thiqa import auth, ingest
from thiqa.access import Access, collection_access
from thiqa.auth import Principal
from thiqa.clock import Clock
from thiqa.errors import BadRequest, Conflict, Forbidden, NotFound
from thiqa.settings import Settings
from thiqa.store import Store
from thiqa.store.model import (
    ROLES,
    ApiKey,
    Collection,
    Grant,
    ObjectQuery,
    Org,
    Page,
    Status,
    Versions,
)

_CURSOR_SECRET = "cursor_secret"
# One transaction per this many objects: big enough to amortise the commit's fsync,
# small enough to keep a write lock short while readers and other writers wait.
WRITE_BATCH = 5000


@dataclass(frozen=True, slots=True)
class CollectionView:
    collection: Collection
    access: Access


class Node:
    def __init__(self, settings: Settings, store: Store, clock: Clock | None = None) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock or Clock()
        secret = store.get_meta(_CURSOR_SECRET)
        if secret is None:
            secret = secrets.token_hex(32)
            store.set_meta(_CURSOR_SECRET, secret)
        self.cursor_secret = bytes.fromhex(secret)

    # -- administration (CLI; later the admin API) ----------------------------------------
    def create_org(self, name: str) -> Org:
        if not name.strip():
            raise BadRequest("an organisation needs a name")
        if self.store.get_org(name) is not None:
            raise Conflict(f"an organisation named {name!r} already exists")
        org = Org(f"identity--{self.clock.new_uuid()}", name, self.clock.now_us())
        self.store.add_org(org)
        return org

    def org(self, ref: str) -> Org:
        org = self.store.get_org(ref)
        if org is None:
            raise NotFound(f"no organisation {ref!r}")
        return org

    def create_key(self, org_ref: str, role: str, label: str = "") -> tuple[ApiKey, str]:
        """A new API key record and the key itself (shown once, never stored)."""
        if role not in ROLES:
            raise BadRequest(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        org = self.org(org_ref)
        key_id, secret = auth.mint()
        record = ApiKey(key_id, org.id, role, label, self.clock.now_us())
        self.store.add_key(record, auth.hash_key(secret))
        return record, secret

    def revoke_key(self, key_id: str) -> None:
        if not self.store.revoke_key(key_id, self.clock.now_us()):
            raise NotFound(f"no active API key {key_id!r}")

    def create_collection(self, title: str, *, description: str = "", alias: str | None = None,
                          readers: Iterable[str] = (), writers: Iterable[str] = ()) -> Collection:
        if not title.strip():
            raise BadRequest("a collection needs a title")
        if alias is not None and self.store.get_collection(alias) is not None:
            raise Conflict(f"the alias {alias!r} is already in use")
        readers, writers = list(readers), list(writers)
        orgs = {ref: self.org(ref) for ref in [*readers, *writers]}  # fail before writing
        collection = self.store.add_collection(Collection(
            0, str(uuid.UUID(self.clock.new_uuid())), title, description, alias,
            self.clock.now_us()))
        for ref in {*readers, *writers}:
            self.store.set_grant(Grant(collection.pk, orgs[ref].id, ref in readers,
                                       ref in writers))
        return collection

    def grant(self, collection_ref: str, org_ref: str, *, read: bool, write: bool) -> Grant:
        collection = self.store.get_collection(collection_ref)
        if collection is None:
            raise NotFound(f"no collection {collection_ref!r}")
        grant = Grant(collection.pk, self.org(org_ref).id, read, write)
        self.store.set_grant(grant)
        return grant

    # -- TAXII ------------------------------------------------------------------------------
    def authenticate(self, authorization: str | None) -> Principal:
        return auth.authenticate(self.store, authorization)

    def collections(self, who: Principal) -> list[CollectionView]:
        grants = self.store.grants(who.org.id)
        views = [CollectionView(c, collection_access(who, c, grants))
                 for c in self.store.list_collections()]
        return [v for v in views if v.access.visible]

    def collection(self, who: Principal, ref: str) -> CollectionView:
        collection = self.store.get_collection(ref)
        if collection is not None:
            access = collection_access(who, collection, self.store.grants(who.org.id))
            if access.visible:
                return CollectionView(collection, access)
        # Same answer for absent and invisible collections (TAXII 2.1 §5.2: 404 for both).
        raise NotFound(f"no collection {ref!r}")

    def readable(self, who: Principal, ref: str) -> Collection:
        view = self.collection(who, ref)
        if not view.access.can_read:
            raise Forbidden("this API key may not read from this collection")
        return view.collection

    def writable(self, who: Principal, ref: str) -> Collection:
        view = self.collection(who, ref)
        if not view.access.can_write:
            raise Forbidden("this API key may not add objects to this collection")
        return view.collection

    def add_objects(self, who: Principal, ref: str, objects: list[Any]) -> Status:
        collection = self.writable(who, ref)
        status = Status(self.clock.new_uuid(), collection.pk, who.org.id,
                        self.clock.now_us(), len(objects))
        for start in range(0, len(objects), WRITE_BATCH):
            self._write(collection.pk, objects[start : start + WRITE_BATCH], status)
        self.store.save_status(status)
        return status

    def _write(self, collection_pk: int, objects: list[Any], status: Status) -> None:
        good, bad = ingest.split(objects)
        status.failures.extend(bad)
        for outcome in self.store.add_versions(collection_pk, good, self.clock.now_us()):
            (status.successes if outcome.ok else status.failures).append(outcome)

    def status(self, who: Principal, status_id: str) -> Status:
        status = self.store.get_status(status_id)
        if status is None or not (who.is_admin or status.org_id == who.org.id):
            raise NotFound(f"no status {status_id!r}")
        return status

    def read(self, who: Principal, ref: str, query: ObjectQuery, *, bodies: bool) -> Page:
        """A page of a collection's versions; ``query.collection_pk`` is filled in here."""
        collection = self.readable(who, ref)
        q = ObjectQuery(collection.pk, query.ids, query.types, query.versions,
                        query.spec_versions, query.added_after, query.after, query.limit)
        return self.store.query(q, bodies=bodies)

    def delete(self, who: Principal, ref: str, object_id: str, versions: Versions,
               spec_versions: tuple[str, ...]) -> int:
        view = self.collection(who, ref)
        # TAXII 2.1 §5.7: DELETE needs both can_read and can_write; either alone is 403.
        if not (view.access.can_read and view.access.can_write):
            raise Forbidden("deleting needs both read and write access to the collection")
        removed = self.store.delete_versions(view.collection.pk, object_id, versions,
                                             spec_versions)
        if not removed:
            raise NotFound(f"no object {object_id!r} (with the requested versions) in this "
                           "collection")
        return removed
