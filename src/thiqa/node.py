"""The service layer: what a node does, independent of HTTP and of SQL.

The TAXII endpoints, the admin API and the CLI all call :class:`Node`; it
authenticates, decides access (:mod:`thiqa.access`), validates writes
(:mod:`thiqa.ingest`), manages organisations, communities and agreements, and talks to
the store in domain types.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from thiqa import audit, auth, ingest, policy, releases, signing
from thiqa.access import NOTHING, Access, Entitlements, collection_access, reach
from thiqa.auth import Principal
from thiqa.clock import Clock
from thiqa.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthenticated
from thiqa.federation import export, receive, tombstones
from thiqa.federation.sign import BatchSigner
from thiqa.handling import NO_DEFAULTS, Defaults, Tlp, defaults_named
from thiqa.settings import Settings
from thiqa.store import Store
from thiqa.store.model import (
    ALL,
    MEMBER_ROLES,
    ROLES,
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
    Page,
    Status,
    Versions,
    Visibility,
)

_CURSOR_SECRET = "cursor_secret"
OPERATING_ORG = "operating_org"  # meta key: identity id of the org that runs the node
# One transaction per this many objects: big enough to amortise the commit's fsync,
# small enough to keep a write lock short while readers and other writers wait.
WRITE_BATCH = 5000
_NAME_MAX = 200
_ALIAS_MAX = 48


@dataclass(frozen=True, slots=True)
class CollectionView:
    collection: Collection
    access: Access


@dataclass(frozen=True, slots=True)
class CommunityView:
    """A community with its members (and their organisations) and its collections."""

    community: Community
    members: list[tuple[Member, Org]]
    collections: list[Collection]


class Node:
    def __init__(self, settings: Settings, store: Store, clock: Clock | None = None) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock or Clock()
        # The key of every `next` cursor: one per node, in the database, so that cursors
        # are valid in every worker and host (thiqa.taxii.cursor).
        secret = store.get_meta(_CURSOR_SECRET) or store.meta_default(
            _CURSOR_SECRET, secrets.token_hex(32))
        self.cursor_secret = bytes.fromhex(secret)
        self._node_key: signing.NodeKey | None = None
        self._node_key_stamp: tuple[int, int] | None = None
        self._signers: dict[str, BatchSigner] = {}

    # -- administration (CLI and admin API) ------------------------------------------------
    def create_org(self, name: str) -> Org:
        if not name.strip():
            raise BadRequest("an organisation needs a name")
        if self.store.get_org(name) is not None:
            raise Conflict(f"an organisation named {name!r} already exists")
        org = Org(f"identity--{self.clock.new_uuid()}", name, self.clock.now_us())
        self.store.add_org(org)
        self._admin("org.add", f"{org.id} {org.name!r}")
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
        self._admin("key.create", f"{key_id} for {org.id} ({role})")
        return record, secret

    def revoke_key(self, key_id: str) -> None:
        if not self.store.revoke_key(key_id, self.clock.now_us()):
            raise NotFound(f"no active API key {key_id!r}")
        self._admin("key.revoke", key_id)

    def create_collection(self, title: str, *, description: str = "", alias: str | None = None,
                          readers: Iterable[str] = (), writers: Iterable[str] = (),
                          public: bool = False) -> Collection:
        if not title.strip():
            raise BadRequest("a collection needs a title")
        if alias is not None and self.store.get_collection(alias) is not None:
            raise Conflict(f"the alias {alias!r} is already in use")
        readers, writers = list(readers), list(writers)
        orgs = {ref: self.org(ref) for ref in [*readers, *writers]}  # fail before writing
        collection = self.store.add_collection(Collection(
            0, str(uuid.UUID(self.clock.new_uuid())), title, description, alias,
            self.clock.now_us(), public=public))
        for ref in {*readers, *writers}:
            self.store.set_grant(Grant(collection.pk, orgs[ref].id, ref in readers,
                                       ref in writers))
        self._admin("collection.create", f"{title!r}" + (" (public)" if public else ""),
                    collection.id)
        return collection

    def set_public(self, collection_ref: str, public: bool) -> Collection:
        """Publish a collection's TLP:CLEAR versions to every organisation of the node, or
        stop. Nothing else in it changes hands: GREEN and stricter stay with its members."""
        collection = self.store.get_collection(collection_ref)
        if collection is None:
            raise NotFound(f"no collection {collection_ref!r}")
        if collection.public != public:
            self.store.set_public(collection.pk, public)
            self._admin("collection.publish" if public else "collection.unpublish",
                        f"{collection.title!r}", collection.id)
        return replace(collection, public=public)

    def grant(self, collection_ref: str, org_ref: str, *, read: bool, write: bool) -> Grant:
        collection = self.store.get_collection(collection_ref)
        if collection is None:
            raise NotFound(f"no collection {collection_ref!r}")
        if collection.community_pk is not None:
            owner = self.store.community_by_pk(collection.community_pk)
            raise Conflict(f"membership of {owner.name if owner else 'its community'!r} "
                           "decides access to this collection; add or remove members instead")
        grant = Grant(collection.pk, self.org(org_ref).id, read, write)
        self.store.set_grant(grant)
        self._admin("collection.grant", f"{grant.org_id} read={read} write={write}",
                    collection.id)
        return grant

    # -- communities and agreements ----------------------------------------------------
    def create_community(self, name: str, *, description: str = "",
                         members: Iterable[str] = (),
                         conveners: Iterable[str] = (),
                         defaults: Defaults = NO_DEFAULTS) -> CommunityView:
        """A community, its members (conveners are members too) and its collection.
        ``defaults`` is the handling of versions published into it without any."""
        name = self._new_community_name(name)
        now = self.clock.now_us()
        roles: dict[str, Member] = {}
        for ref in members:
            org = self.org(ref)
            roles[org.id] = Member(0, org.id, "member", now)
        for ref in conveners:  # a convener named as a member too is a convener
            org = self.org(ref)
            roles[org.id] = Member(0, org.id, "convener", now)
        return self._create("community", name, description, list(roles.values()), now,
                            description or f"Shared among the members of {name}", defaults)

    def create_agreement(self, org_a: str, org_b: str, *, name: str | None = None,
                         description: str = "",
                         defaults: Defaults = NO_DEFAULTS) -> CommunityView:
        """A bilateral agreement: exactly two distinct organisations, one agreement per pair.
        Both parties are its conveners: neither has more say than the other."""
        a, b = self.org(org_a), self.org(org_b)
        if a.id == b.id:
            raise BadRequest(f"an agreement needs two different organisations, not {a.name!r} "
                             "twice")
        existing = self.store.agreement_between(a.id, b.id)
        if existing is not None:
            raise Conflict(f"{a.name!r} and {b.name!r} already have an agreement: "
                           f"{existing.name!r} ({existing.id})")
        name = self._new_community_name(name if name is not None else f"{a.name} & {b.name}")
        now = self.clock.now_us()
        members = [Member(0, a.id, "convener", now), Member(0, b.id, "convener", now)]
        return self._create("agreement", name, description, members, now,
                            description or f"Shared between {a.name} and {b.name}", defaults)

    def set_defaults(self, ref: str, defaults: Defaults) -> CommunityView:
        """Change a community's (or agreement's) default handling. It applies to versions
        published from now on: stored versions keep the handling they were stored with."""
        community = self._community(ref)
        self.store.set_community_defaults(community.pk, defaults.tlp, defaults.pap)
        self._admin("community.defaults", f"{community.id} tlp={defaults.tlp} "
                    f"pap={defaults.pap}")
        return self.community(community.id)

    @staticmethod
    def defaults_named(tlp: str | None, pap: str | None) -> Defaults:
        """Default handling from level names ("green", "amber+strict"; None or "none")."""
        try:
            return defaults_named(tlp, pap)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None

    def community(self, ref: str) -> CommunityView:
        """A community or agreement by id or name."""
        return self._view(self._community(ref))

    def communities(self, kind: CommunityKind | None = None) -> list[CommunityView]:
        orgs = {o.id: o for o in self.store.list_orgs()}
        return [self._view(c, orgs) for c in self.store.list_communities(kind)]

    def add_member(self, ref: str, org_ref: str, role: str = "member") -> Member:
        if role not in MEMBER_ROLES:
            raise BadRequest(f"member role must be one of {', '.join(MEMBER_ROLES)}, "
                             f"not {role!r}")
        community, org = self._changeable(ref), self.org(org_ref)
        if community.pk in self.store.memberships(org.id):
            raise Conflict(f"{org.name!r} is already a member of {community.name!r}")
        member = Member(community.pk, org.id, role, self.clock.now_us())
        self.store.add_member(member)
        self._admin("community.add-member", f"{community.id} {org.id} ({role})")
        return member

    def remove_member(self, ref: str, org_ref: str) -> None:
        community, org = self._changeable(ref), self.org(org_ref)
        if not self.store.remove_member(community.pk, org.id):
            raise NotFound(f"{org.name!r} is not a member of {community.name!r}")
        self._admin("community.remove-member", f"{community.id} {org.id}")

    def _community(self, ref: str) -> Community:
        community = self.store.get_community(ref)
        if community is None:
            raise NotFound(f"no community or agreement {ref!r}")
        return community

    def _changeable(self, ref: str) -> Community:
        community = self._community(ref)
        if community.kind == "agreement":
            raise Conflict(f"{community.name!r} is an agreement: its two members are fixed; "
                           "create another agreement or a community instead")
        return community

    def _new_community_name(self, name: str) -> str:
        name = name.strip()
        if not name:
            raise BadRequest("a community or agreement needs a name")
        if len(name) > _NAME_MAX:
            raise BadRequest(f"a community name has at most {_NAME_MAX} characters")
        if self.store.get_community(name) is not None:
            raise Conflict(f"a community or agreement named {name!r} already exists")
        return name

    def _create(self, kind: CommunityKind, name: str, description: str, members: list[Member],
                now: int, collection_description: str, defaults: Defaults) -> CommunityView:
        community = Community(0, str(uuid.UUID(self.clock.new_uuid())), kind, name,
                              description, now, defaults.tlp, defaults.pap)
        collection = Collection(0, str(uuid.UUID(self.clock.new_uuid())), name,
                                collection_description, self._free_alias(name, kind), now)
        stored, made = self.store.add_community(community, members, [collection])
        self._admin(f"{kind}.create", f"{stored.id} {name!r} with "
                    + ", ".join(f"{m.org_id} ({m.role})" for m in members),
                    made[0].id if made else "")
        return self._view(stored)

    def _free_alias(self, name: str, kind: str) -> str:
        """A collection alias from the name: ASCII letters, digits and dashes, unique."""
        ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
        base = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:_ALIAS_MAX]
        base = base.strip("-") or kind
        alias, n = base, 1
        while self.store.get_collection(alias) is not None:
            n += 1
            alias = f"{base}-{n}"
        return alias

    def _view(self, community: Community, orgs: dict[str, Org] | None = None) -> CommunityView:
        members = self.store.members(community.pk)
        if orgs is None:
            orgs = {o.id: o for o in self.store.list_orgs()}
        return CommunityView(community, [(m, orgs[m.org_id]) for m in members],
                             self.store.community_collections(community.pk))

    # -- TAXII ------------------------------------------------------------------------------
    def authenticate(self, authorization: str | None) -> Principal:
        try:
            return auth.authenticate(self.store, authorization)
        except Unauthenticated as exc:
            self._record(audit.Event(self.clock.now_us(), "", "", "deny", "denied",
                                     detail=f"401: {exc.description}"))
            raise

    def entitlements(self, who: Principal) -> Entitlements:
        """Read afresh on every request: a grant or membership change applies at once."""
        if who.is_admin:
            return NOTHING  # admins need none (thiqa.access)
        return Entitlements(self.store.grants(who.org.id), self.store.memberships(who.org.id))

    def collections(self, who: Principal) -> list[CollectionView]:
        held = self.entitlements(who)
        views = [CollectionView(c, collection_access(who, c, held))
                 for c in self.store.list_collections()]
        return [v for v in views if v.access.visible]

    def collection(self, who: Principal, ref: str) -> CollectionView:
        collection = self.store.get_collection(ref)
        if collection is not None:
            access = collection_access(who, collection, self.entitlements(who))
            if access.visible:
                return CollectionView(collection, access)
        # Same answer for absent and invisible collections (TAXII 2.1 §5.2: 404 for both).
        self.deny(who, f"404: no collection {ref!r} for this organisation",
                   collection.id if collection is not None else "")
        raise NotFound(f"no collection {ref!r}")

    def readable(self, who: Principal, ref: str) -> Collection:
        view = self.collection(who, ref)
        if not view.access.can_read:
            self.deny(who, "403: may not read", view.collection.id)
            raise Forbidden("this API key may not read from this collection")
        return view.collection

    def writable(self, who: Principal, ref: str) -> Collection:
        view = self.collection(who, ref)
        if not view.access.can_write:
            self.deny(who, "403: may not add objects", view.collection.id)
            raise Forbidden("this API key may not add objects to this collection")
        return view.collection

    def add_objects(self, who: Principal, ref: str, objects: list[Any]) -> Status:
        collection = self.writable(who, ref)
        status = Status(self.clock.new_uuid(), collection.pk, who.org.id,
                        self.clock.now_us(), len(objects))
        origin = self.origin(who, collection)
        for start in range(0, len(objects), WRITE_BATCH):
            self._write(collection.pk, objects[start : start + WRITE_BATCH], status, origin)
        self.store.save_status(status)
        now = self.clock.now_us()
        events = [audit.by(who, now, "add", collection=collection.id,
                           objects=tuple(o.id for o in status.successes),
                           detail=f"{len(status.successes)} stored, {len(status.failures)} "
                                  f"refused (status {status.id})")]
        if status.failures:
            first = status.failures[0].message or ""
            events.append(audit.by(who, now, "deny", outcome="denied", collection=collection.id,
                                   objects=tuple(o.id for o in status.failures if o.id),
                                   detail=f"{len(status.failures)} objects refused (status "
                                          f"{status.id}), e.g.: {first[:300]}"))
        self._record(*events)
        return status

    def origin(self, who: Principal, collection: Collection) -> Origin:
        """How ``who`` publishes into ``collection``: as the originator, under the
        collection's default handling, judged only against what it may see, through the
        re-sharing gate (thiqa.policy)."""
        released = releases.verified_releases(self, who.org.id, collection)
        return Origin(who.org.id, self.defaults(collection),
                      policy.seen_filter(policy.viewer(who), *self.reach(who)),
                      policy.reshare_gate(collection, released))

    def reach(self, who: Principal) -> tuple[frozenset[int] | None, frozenset[int]]:
        """The pks of the collections ``who`` may read in full (None: every one, for an
        admin key), and of those it may read only the openly published part of."""
        if who.is_admin:
            return None, frozenset()
        return reach(who, self.store.list_collections(), self.entitlements(who))

    def load_origin(self, collection: Collection, org_ref: str | None = None) -> Origin:
        """How ``thiqa load`` publishes: as ``org_ref``, by default the node's operating
        organisation. The operator sees everything, as an admin key does; re-sharing
        rules apply all the same."""
        org = self.org(org_ref) if org_ref is not None else self.operating_org()
        released = releases.verified_releases(self, org.id, collection)
        return Origin(org.id, self.defaults(collection), policy.seen_filter(
            policy.Viewer(org.id, True), None), policy.reshare_gate(collection, released))

    def operating_org(self) -> Org:
        """The organisation that runs this node (recorded by ``thiqa init``)."""
        ref = self.store.get_meta(OPERATING_ORG) or self.settings.org_name
        return self.org(ref)

    def defaults(self, collection: Collection) -> Defaults:
        if collection.community_pk is None:
            return NO_DEFAULTS
        community = self.store.community_by_pk(collection.community_pk)
        return community.defaults if community is not None else NO_DEFAULTS

    def _write(self, collection_pk: int, objects: list[Any], status: Status,
               origin: Origin) -> None:
        good: list[NewVersion] = []
        parsed: list[dict[str, Any]] = []
        for obj in objects:
            item = ingest.prepare(obj)
            if isinstance(item, NewVersion):
                good.append(item)
                parsed.append(obj)
            else:
                status.failures.append(item)
        # What the writer originates is signed by the node key (thiqa.federation.sign).
        provenance = self.signer(origin.originator).objects(parsed)
        for outcome in self.store.add_versions(collection_pk, good, self.clock.now_us(),
                                               origin, provenance):
            (status.successes if outcome.ok else status.failures).append(outcome)

    def status(self, who: Principal, status_id: str) -> Status:
        status = self.store.get_status(status_id)
        if status is None or not (who.is_admin or status.org_id == who.org.id):
            raise NotFound(f"no status {status_id!r}")
        return status

    def read(self, who: Principal, ref: str, query: ObjectQuery, *, bodies: bool) -> Page:
        """A page of a collection's versions; ``query.collection_pk`` is filled in here."""
        return self.read_in(who, self.collection(who, ref), query, bodies=bodies)

    def read_in(self, who: Principal, view: CollectionView, query: ObjectQuery, *,
                bodies: bool) -> Page:
        """:meth:`read` of a collection already looked up for ``who`` (``view``, from
        :meth:`collection`)."""
        if not view.access.can_read:
            self.deny(who, "403: may not read", view.collection.id)
            raise Forbidden("this API key may not read from this collection")
        q = replace(query, collection_pk=view.collection.pk, visibility=policy.read_filter(
            policy.viewer(who), view.collection, view.access))
        page = self.store.query(q, bodies=bodies)
        guarded = [r.id for r in page.records if r.tlp >= Tlp.AMBER]
        if guarded:
            self._record(audit.by(who, self.clock.now_us(), "read", collection=view.collection.id,
                                  objects=tuple(dict.fromkeys(guarded)),
                                  detail=f"{len(guarded)} TLP:AMBER or stricter versions"
                                         + ("" if bodies else " (metadata)")))
        return page

    def delete(self, who: Principal, ref: str, object_id: str, versions: Versions,
               spec_versions: tuple[str, ...]) -> int:
        view = self.collection(who, ref)
        # TAXII 2.1 §5.7: DELETE needs both can_read and can_write; either alone is 403.
        if not (view.access.can_read and view.access.can_write):
            self.deny(who, "403: may not delete", view.collection.id)
            raise Forbidden("deleting needs both read and write access to the collection")
        # Only versions the caller may see can be deleted: anything else is, for it, absent.
        seen = policy.read_filter(policy.viewer(who), view.collection, view.access)
        # The versions this node originated leave with a signed tombstone, for partners.
        tombstones.sign_withdrawal(self, [view.collection], object_id, versions,
                                   spec_versions, seen, "delete", [view.collection])
        removed = self.store.delete_versions(view.collection.pk, object_id, versions,
                                             spec_versions, seen)
        if not removed:
            raise NotFound(f"no object {object_id!r} (with the requested versions) in this "
                           "collection")
        self._record(audit.by(who, self.clock.now_us(), "delete", collection=view.collection.id,
                              objects=(object_id,), detail=f"{removed} versions removed"))
        return removed

    def retract(self, who: Principal, object_id: str,
                from_refs: Iterable[str] | None = None) -> list[Collection]:
        """Withdraw the versions of ``object_id`` that ``who``'s organisation originated.

        With ``from_refs`` (collection ids or aliases the caller can see) only from those:
        the originator narrows the scope it chose. Without, from every collection of the
        node that holds them, including copies forwarded where the originator has no
        access (DESIGN rules 2-4 kept them its versions). Returns the collections the
        caller can see that it left; where else it was is not said (rule 6).
        """
        if who.role == "reader":
            self.deny(who, "403: a reader key may not retract")
            raise Forbidden("a reader key may not retract objects")
        only = Visibility(originator=who.org.id)
        if from_refs is not None:
            targets = [self.collection(who, ref).collection for ref in from_refs]
        else:
            targets = self.store.list_collections()
        held = self.entitlements(who)
        left: list[Collection] = []
        removed = 0
        # Signed before the entries go, so that no partner sees the events without it.
        tombstones.sign_withdrawal(self, targets, object_id, ALL, (), only, "retract",
                                   targets if from_refs is not None else None)
        for c in targets:
            n = self.store.delete_versions(c.pk, object_id, ALL, (), only, reason="retract")
            removed += n
            if n and collection_access(who, c, held).visible:
                left.append(c)
        if not removed:
            # The same answer whether it does not exist, is not theirs, or is invisible.
            raise NotFound(f"no versions of {object_id!r} originated by your organisation "
                           "in " + ("those collections" if from_refs is not None
                                    else "this node"))
        self._record(audit.by(who, self.clock.now_us(), "retract", objects=(object_id,),
                              detail=f"{removed} versions withdrawn from "
                                     + ("the named collections" if from_refs is not None
                                        else "every collection")))
        return left

    def node_key(self) -> signing.NodeKey:
        """The node's Ed25519 key (``node.key`` in the data directory, made on first use;
        read again when ``thiqa key rotate`` replaced the file)."""
        path = Path(self.settings.data) / signing.KEY_FILE
        try:
            st = path.stat()
            stamp: tuple[int, int] | None = (st.st_ino, st.st_mtime_ns)
        except FileNotFoundError:
            stamp = None
        if self._node_key is None or stamp != self._node_key_stamp:
            self._node_key = signing.NodeKey.load_or_create(Path(self.settings.data))
            st = path.stat()
            self._node_key_stamp = (st.st_ino, st.st_mtime_ns)
        return self._node_key

    def reader_for(self, org_ref: str) -> Principal:
        """The operator at the console reading as an organisation would (``thiqa export
        --as``): that organisation's access and the handling policy apply."""
        org = self.org(org_ref)
        return Principal(ApiKey(audit.OPERATOR_KEY, org.id, "reader", "operator",
                                self.clock.now_us()), org)

    # -- federation: signing, provenance, trust (thiqa.federation) ----------------------
    def signer(self, originator: str) -> BatchSigner:
        """Signs the versions ``originator`` publishes through this node."""
        found = self._signers.get(originator)
        if found is None:
            found = self._signers[originator] = BatchSigner(self, originator)
        return found

    def receive(self, peer: str, ref: str, objects: list[Any]) -> receive.Received:
        """Verify objects a peer node delivered into collection ``ref`` and store those
        that pass (:func:`thiqa.federation.receive.receive`)."""
        return receive.receive(self, peer, ref, objects)

    def export(self, who: Principal, ref: str, query: ObjectQuery) -> export.Exported:
        """A page of ``ref`` as ``who`` (a peer's principal) may read it, each version with
        its signed provenance and this node's hop (:mod:`thiqa.federation.export`)."""
        return export.export(self, who, ref, query)

    def operator_for(self, org_ref: str) -> Principal:
        """The operator at the console acting for an organisation (``thiqa retract``):
        an admin's reach, recorded in the audit log as the CLI."""
        org = self.org(org_ref)
        return Principal(ApiKey(audit.OPERATOR_KEY, org.id, "admin", "operator",
                                self.clock.now_us()), org)

    # -- audit log -----------------------------------------------------------------------------
    def audit_log(self, q: audit.AuditQuery) -> list[audit.Event]:
        """Events matching ``q``, newest first (admin verbs: ``thiqa audit``, /admin/)."""
        return self.store.audit(q)

    def _record(self, *events: audit.Event) -> None:
        self.store.append_audit(events)

    def record_load(self, collection: Collection, origin: Origin, files: list[str],
                    stored: int, rejected: int) -> None:
        """``thiqa load`` is a write like any other: record it (by the operator)."""
        self._record(audit.Event(self.clock.now_us(), origin.originator, audit.OPERATOR_KEY,
                                 "add", "ok", collection.id,
                                 detail=f"thiqa load {', '.join(files)}: {stored} stored, "
                                        f"{rejected} rejected"))

    def deny(self, who: Principal, detail: str, collection: str = "") -> None:
        """Record that ``who`` was refused (here, and by layers above that refuse on
        their own)."""
        self._record(audit.by(who, self.clock.now_us(), "deny", outcome="denied",
                              collection=collection, detail=detail))

    def _admin(self, verb: str, detail: str, collection: str = "") -> None:
        self._record(audit.by(audit.actor(), self.clock.now_us(), f"admin.{verb}",
                              collection=collection, detail=detail))
