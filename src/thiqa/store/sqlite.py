"""The embedded store: one SQLite file in WAL mode.

One writer (a lock in this process, ``BEGIN IMMEDIATE`` across processes, so ``thiqa
load`` can run beside ``thiqa serve``), reads on a few pooled connections that never
block it (:mod:`thiqa.store.sqlite_pool`). ``synchronous=FULL`` makes a commit durable
before it returns: an acknowledged TAXII write survives a power cut, not only a crash.

Only the read connections map the database (``mmap_size``): mapped pages count in the
process's resident set, so a writer that maps would grow to the size of the file
during a bulk load although its heap stays flat.

Bulk loads (:meth:`SQLiteStore.bulk`) keep one transaction open over many batches.
Random object ids scatter every batch over the pages of the two indexes keyed by id,
and each commit writes every page it dirtied to the WAL: with 5,000 objects a commit
at 1M stored objects that is ~4 KB of WAL per object and index; with 100,000 a
fraction of it (bench/raw_reference.py: 22k objects/s vs 42k/s at 1M).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import orjson

from thiqa.audit import AuditQuery, Event
from thiqa.errors import BadRequest, Conflict, StoreError
from thiqa.handling import Handling, Marks, Pap, Tlp
from thiqa.store import BulkWriter, heads
from thiqa.store.model import (
    EVERYTHING,
    ApiKey,
    Collection,
    Community,
    CommunityKind,
    Grant,
    Held,
    Member,
    NewVersion,
    ObjectQuery,
    Org,
    Origin,
    Outcome,
    Page,
    Provenance,
    Record,
    Release,
    ReleaseState,
    Stamp,
    Status,
    Versions,
    Visibility,
)
from thiqa.store.schema import migrate
from thiqa.store.sqlite_audit import SQLiteAuditLog
from thiqa.store.sqlite_checkpoint import Checkpointer
from thiqa.store.sqlite_pool import ReadPool
from thiqa.store.sqlite_provenance import ProvenanceTables, record_provenance
from thiqa.timestamps import format_us, version_key

_T = TypeVar("_T")
# SQLite allows 32,766 host parameters; stay far below it per statement.
_CHUNK = 500
# Above this many match values a union of per-value index scans costs more than it saves.
_UNION_MAX = 64


def _chunks(seq: Sequence[_T], size: int = _CHUNK) -> Iterator[Sequence[_T]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _community(row: Sequence[Any]) -> Community:
    pk, cid, kind, name, description, created_us, tlp, pap = row
    return Community(pk, cid, kind, name, description, created_us,
                     None if tlp is None else Tlp(tlp), None if pap is None else Pap(pap))


SYSTEM = Origin("")


def _same_json(a: bytes, b: bytes) -> bool:
    return a == b or bool(orjson.loads(a) == orjson.loads(b))


class SQLiteStore(ProvenanceTables):
    """:class:`thiqa.store.Store` on SQLite."""

    def __init__(self, path: Path, *, big_writes: bool = False) -> None:
        """``big_writes``: this process writes big transactions beside other writers
        (the receiving processes of a catch-up). It then queues for a lock on a file of
        its own before BEGIN IMMEDIATE, so the next writer starts as the last commits
        where SQLite's busy handler would sleep and poll (1, 2, 5 … 100 ms); and its
        commits never checkpoint the WAL, a thread does (thiqa.store.sqlite_checkpoint).
        Other processes keep SQLite's own checkpoints (in the commit that brings the WAL
        to 1,000 pages): with small commits those are rare."""
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._lock = threading.Lock()
            self._turns = _WriteTurns(path) if big_writes else None
            self._checkpoints = Checkpointer(path) if big_writes else None
            self._pool = ReadPool(self._read_connection)
            self._audit: SQLiteAuditLog | None = None
            self._audit_lock = threading.Lock()
            self._writer = self._connect()
            if self._checkpoints is not None:
                self._writer.execute("PRAGMA wal_autocheckpoint=0")
            self._migrate()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the database {path}: {exc}") from exc

    # -- connections -------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        cx = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                             timeout=60)
        cx.execute("PRAGMA journal_mode=WAL")
        cx.execute("PRAGMA synchronous=FULL")
        cx.execute("PRAGMA busy_timeout=60000")
        cx.execute("PRAGMA cache_size=-65536")
        cx.execute("PRAGMA temp_store=MEMORY")
        return cx

    def _read_connection(self) -> sqlite3.Connection:
        cx = self._connect()
        cx.execute("PRAGMA query_only=ON")
        cx.execute("PRAGMA mmap_size=1073741824")
        return cx

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._turn():
            cx = self._writer
            try:
                cx.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot start a write: {exc}") from exc
            try:
                yield cx
                cx.execute("COMMIT")
                self._committed()
            except sqlite3.IntegrityError as exc:
                _rollback(cx)
                raise Conflict(str(exc)) from exc
            except sqlite3.Error as exc:
                _rollback(cx)
                raise StoreError(f"write failed and was rolled back: {exc}") from exc
            except BaseException:
                _rollback(cx)
                raise

    def _committed(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.wake()

    def _turn(self) -> contextlib.AbstractContextManager[object]:
        return self._turns if self._turns is not None else contextlib.nullcontext()

    @contextmanager
    def bulk(self, collection_pk: int, *, commit_every: int = 100_000,
             origin: Origin = SYSTEM) -> Iterator[BulkWriter]:
        """A bulk writer into one collection, committing every ``commit_every`` objects.

        Between commits the write lock is released, so other writers (a ``thiqa serve``
        beside the load) get their turn. Leaving the block commits what is pending;
        an exception rolls back the open transaction only (earlier commits stay).
        """
        writer = _Bulk(self, collection_pk, commit_every, origin)
        try:
            yield writer
        except BaseException:
            writer.abort()
            raise
        writer.commit()

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            return self._pool.read(sql, params)
        except sqlite3.Error as exc:
            raise StoreError(f"read failed: {exc}") from exc

    def _migrate(self) -> None:
        migrate(self._writer, "migrations")

    def close(self) -> None:
        """Close every connection; safe to call more than once."""
        self._pool.close()
        if self._checkpoints is not None:
            self._checkpoints.close()
        with self._lock:
            self._writer.close()
            if self._turns is not None:
                self._turns.close()
        with self._audit_lock:
            if self._audit is not None:
                self._audit.close()
                self._audit = None

    # -- release requests and grants ----------------------------------------------------
    _REL_COLS = ("id, object_id, requester, originator, collection_pk, reason, state, "
                 "created_us, decided_us, grant_record, signature, signer")

    def add_release(self, r: Release) -> None:
        with self._tx() as cx:
            cx.execute(f"INSERT INTO releases ({self._REL_COLS}) VALUES "
                       "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (r.id, r.object_id, r.requester, r.originator, r.collection_pk,
                        r.reason, r.state, r.created_us, r.decided_us, r.grant_record,
                        r.signature, r.signer))

    def get_release(self, release_id: str) -> Release | None:
        rows = self._read(f"SELECT {self._REL_COLS} FROM releases WHERE id = ?",
                          (release_id,))
        return _release(rows[0]) if rows else None

    def list_releases(self, org_id: str) -> list[Release]:
        rows = self._read(f"SELECT {self._REL_COLS} FROM releases WHERE requester = ? OR "
                          "originator = ? ORDER BY created_us", (org_id, org_id))
        return [_release(r) for r in rows]

    def decide_release(self, release_id: str, state: ReleaseState, decided_us: int,
                       grant_record: bytes | None = None, signature: str | None = None,
                       signer: str | None = None) -> bool:
        with self._tx() as cx:
            cur = cx.execute("UPDATE releases SET state = ?, decided_us = ?, grant_record = ?, "
                             "signature = ?, signer = ? WHERE id = ? AND state = 'pending'",
                             (state, decided_us, grant_record, signature, signer, release_id))
            return cur.rowcount > 0

    def granted_releases(self, requester: str, collection_pk: int) -> list[Release]:
        rows = self._read(f"SELECT {self._REL_COLS} FROM releases WHERE requester = ? AND "
                          "collection_pk = ? AND state = 'granted'", (requester, collection_pk))
        return [_release(r) for r in rows]

    # -- audit log ----------------------------------------------------------------------
    def _audit_log(self) -> SQLiteAuditLog:
        # Its own lock: the write lock may be held by a bulk session in this thread.
        with self._audit_lock:
            if self._audit is None:
                self._audit = SQLiteAuditLog(self.path.with_name("audit.db"))
            return self._audit

    def append_audit(self, events: Sequence[Event]) -> None:
        if events:
            self._audit_log().append(events)

    def audit(self, q: AuditQuery) -> list[Event]:
        return self._audit_log().query(q)

    # -- organisations and keys -------------------------------------------------------
    def add_org(self, org: Org) -> None:
        with self._tx() as cx:
            cx.execute("INSERT INTO orgs VALUES (?, ?, ?)", (org.id, org.name, org.created_us))

    def get_org(self, ref: str) -> Org | None:
        rows = self._read("SELECT id, name, created_us FROM orgs WHERE id = ? OR name = ?",
                          (ref, ref))
        return Org(*rows[0]) if rows else None

    def list_orgs(self) -> list[Org]:
        return [Org(*r) for r in self._read("SELECT id, name, created_us FROM orgs ORDER BY name")]

    def add_key(self, key: ApiKey, secret_hash: bytes) -> None:
        with self._tx() as cx:
            cx.execute("INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (key.id, key.org_id, key.role, key.label, secret_hash, key.created_us,
                        key.revoked_us))

    _KEY_COLS = "id, org_id, role, label, created_us, revoked_us"

    def key_by_hash(self, secret_hash: bytes) -> ApiKey | None:
        rows = self._read(f"SELECT {self._KEY_COLS} FROM api_keys WHERE secret_hash = ?",
                          (secret_hash,))
        return ApiKey(*rows[0]) if rows else None

    def list_keys(self, org_id: str | None = None) -> list[ApiKey]:
        if org_id is None:
            rows = self._read(f"SELECT {self._KEY_COLS} FROM api_keys ORDER BY created_us")
        else:
            rows = self._read(f"SELECT {self._KEY_COLS} FROM api_keys WHERE org_id = ? "
                              "ORDER BY created_us", (org_id,))
        return [ApiKey(*r) for r in rows]

    def revoke_key(self, key_id: str, when_us: int) -> bool:
        with self._tx() as cx:
            cur = cx.execute("UPDATE api_keys SET revoked_us = ? WHERE id = ? AND revoked_us "
                             "IS NULL", (when_us, key_id))
            return cur.rowcount > 0

    # -- collections ------------------------------------------------------------------
    _COLL_COLS = "pk, id, title, description, alias, created_us, community_pk, public"

    def add_collection(self, collection: Collection) -> Collection:
        with self._tx() as cx:
            return _insert_collection(cx, collection)

    def get_collection(self, ref: str) -> Collection | None:
        rows = self._read(f"SELECT {self._COLL_COLS} FROM collections WHERE id = ? OR alias = ?",
                          (ref, ref))
        return _collection(rows[0]) if rows else None

    def list_collections(self) -> list[Collection]:
        rows = self._read(f"SELECT {self._COLL_COLS} FROM collections ORDER BY pk")
        return [_collection(r) for r in rows]

    def set_public(self, collection_pk: int, public: bool) -> None:
        with self._tx() as cx:
            cx.execute("UPDATE collections SET public = ? WHERE pk = ?",
                       (int(public), collection_pk))

    def set_grant(self, grant: Grant) -> None:
        with self._tx() as cx:
            cx.execute("INSERT INTO grants VALUES (?, ?, ?, ?) ON CONFLICT (collection_pk, "
                       "org_id) DO UPDATE SET can_read = excluded.can_read, can_write = "
                       "excluded.can_write",
                       (grant.collection_pk, grant.org_id, grant.can_read, grant.can_write))

    def grants(self, org_id: str) -> dict[int, Grant]:
        rows = self._read("SELECT collection_pk, org_id, can_read, can_write FROM grants "
                          "WHERE org_id = ?", (org_id,))
        return {r[0]: Grant(r[0], r[1], bool(r[2]), bool(r[3])) for r in rows}

    # -- communities and agreements ---------------------------------------------------
    _COMM_COLS = "pk, id, kind, name, description, created_us, default_tlp, default_pap"

    def add_community(self, community: Community, members: Sequence[Member],
                      collections: Sequence[Collection]) -> tuple[Community, list[Collection]]:
        c = community
        pair = None
        if c.kind == "agreement":
            org_ids = sorted({m.org_id for m in members})
            if len(org_ids) != 2 or len(members) != 2:
                raise BadRequest("an agreement has exactly two distinct members")
            pair = " ".join(org_ids)
        with self._tx() as cx:
            cur = cx.execute("INSERT INTO communities (id, kind, name, description, created_us, "
                             "pair, default_tlp, default_pap) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             (c.id, c.kind, c.name, c.description, c.created_us, pair,
                              c.default_tlp, c.default_pap))
            pk = cur.lastrowid
            assert pk is not None
            cx.executemany("INSERT INTO community_members VALUES (?, ?, ?, ?)",
                           [(pk, m.org_id, m.role, m.joined_us) for m in members])
            stored = [_insert_collection(cx, Collection(
                0, x.id, x.title, x.description, x.alias, x.created_us, pk))
                for x in collections]
        return Community(pk, c.id, c.kind, c.name, c.description, c.created_us,
                         c.default_tlp, c.default_pap), stored

    def set_community_defaults(self, community_pk: int, tlp: Tlp | None,
                               pap: Pap | None) -> None:
        with self._tx() as cx:
            cx.execute("UPDATE communities SET default_tlp = ?, default_pap = ? WHERE pk = ?",
                       (tlp, pap, community_pk))

    def get_community(self, ref: str) -> Community | None:
        rows = self._read(f"SELECT {self._COMM_COLS} FROM communities WHERE id = ? OR name = ? "
                          "ORDER BY id = ? DESC LIMIT 1", (ref, ref, ref))
        return _community(rows[0]) if rows else None

    def community_by_pk(self, pk: int) -> Community | None:
        rows = self._read(f"SELECT {self._COMM_COLS} FROM communities WHERE pk = ?", (pk,))
        return _community(rows[0]) if rows else None

    def list_communities(self, kind: CommunityKind | None = None) -> list[Community]:
        if kind is None:
            rows = self._read(f"SELECT {self._COMM_COLS} FROM communities ORDER BY name")
        else:
            rows = self._read(f"SELECT {self._COMM_COLS} FROM communities WHERE kind = ? "
                              "ORDER BY name", (kind,))
        return [_community(r) for r in rows]

    def agreement_between(self, org_a: str, org_b: str) -> Community | None:
        rows = self._read(f"SELECT {self._COMM_COLS} FROM communities WHERE pair = ?",
                          (" ".join(sorted((org_a, org_b))),))
        return _community(rows[0]) if rows else None

    def members(self, community_pk: int) -> list[Member]:
        rows = self._read("SELECT community_pk, org_id, role, joined_us FROM community_members "
                          "WHERE community_pk = ? ORDER BY role = 'convener' DESC, joined_us, "
                          "org_id", (community_pk,))
        return [Member(*r) for r in rows]

    def add_member(self, member: Member) -> None:
        with self._tx() as cx:
            cx.execute("INSERT INTO community_members VALUES (?, ?, ?, ?)",
                       (member.community_pk, member.org_id, member.role, member.joined_us))

    def remove_member(self, community_pk: int, org_id: str) -> bool:
        with self._tx() as cx:
            cur = cx.execute("DELETE FROM community_members WHERE community_pk = ? AND "
                             "org_id = ?", (community_pk, org_id))
            return cur.rowcount > 0

    def memberships(self, org_id: str) -> frozenset[int]:
        rows = self._read("SELECT community_pk FROM community_members WHERE org_id = ?",
                          (org_id,))
        return frozenset(r[0] for r in rows)

    def membership_counts(self) -> dict[str, int]:
        rows = self._read("SELECT org_id, count(*) FROM community_members GROUP BY org_id")
        return {r[0]: int(r[1]) for r in rows}

    def community_collections(self, community_pk: int) -> list[Collection]:
        rows = self._read(f"SELECT {self._COLL_COLS} FROM collections WHERE community_pk = ? "
                          "ORDER BY pk", (community_pk,))
        return [_collection(r) for r in rows]

    # -- object versions --------------------------------------------------------------
    def add_versions(self, collection_pk: int, items: Sequence[NewVersion],
                     now_us: int, origin: Origin = SYSTEM,
                     provenance: Provenance | None = None) -> list[Outcome]:
        if not items:
            return []
        with self._tx() as cx:
            return _Writer(cx, collection_pk, now_us, origin).add(items, provenance)

    def query(self, q: ObjectQuery, *, bodies: bool = True) -> Page:
        conds, params = _conditions(q)
        cols = ("e.seq, e.date_added, e.object_id, v.version, e.spec_version, e.tlp, "
                "e.originator")
        if bodies:
            cols += ", v.body"
        split_col, values = ("e.object_id", q.ids) if q.ids else ("e.type", q.types)
        if q.ids and q.types:
            conds.append(f"e.type IN ({_marks(len(q.types))})")
            params.extend(q.types)
        n = q.limit + 1
        where = " AND ".join(conds)
        if 1 < len(values) <= _UNION_MAX:
            # One ordered, limited index scan per value, merged: never sorts a whole collection.
            parts = [f"SELECT * FROM (SELECT e.seq FROM entries e WHERE {where} AND "
                     f"{split_col} = ? ORDER BY e.date_added LIMIT {n})" for _ in values]
            part_params: list[Any] = []
            for value in values:
                part_params.extend([*params, value])
            sql = (f"SELECT {cols} FROM ({' UNION ALL '.join(parts)}) s "
                   "JOIN entries e ON e.seq = s.seq JOIN versions v ON v.vid = e.vid "
                   f"ORDER BY e.date_added LIMIT {n}")
            rows = self._read(sql, part_params)
        else:
            table = "entries e"
            if values:
                where += f" AND {split_col} IN ({_marks(len(values))})"
                params.extend(values)
                if q.ids:
                    # Many ids (a peer's fetch): look each up in entries_object and sort
                    # what they hold. Left to itself, the planner walks the collection's
                    # page index (collection_pk, date_added) for every such read.
                    table = "entries e INDEXED BY entries_object"
            sql = (f"SELECT {cols} FROM {table} JOIN versions v ON v.vid = e.vid "
                   f"WHERE {where} ORDER BY e.date_added LIMIT {n}")
            rows = self._read(sql, params)
        more = len(rows) > q.limit
        return Page([Record(*r) for r in rows[: q.limit]], more)

    def delete_versions(self, collection_pk: int, object_id: str, versions: Versions,
                        spec_versions: tuple[str, ...] = (),
                        visibility: Visibility = EVERYTHING, reason: str = "delete") -> int:
        q = ObjectQuery(collection_pk, ids=(object_id,), versions=versions,
                        spec_versions=spec_versions, visibility=visibility)
        conds, params = _conditions(q)
        conds.append("e.object_id = ?")
        params.append(object_id)
        with self._tx() as cx:
            doomed = cx.execute(f"SELECT e.seq, e.vid, e.vkey FROM entries e WHERE "
                                f"{' AND '.join(conds)}", params).fetchall()
            if not doomed:
                return 0
            before = cx.execute("SELECT seq FROM sqlite_sequence WHERE name = 'entries'"
                                ).fetchone()[0]
            # Each deleted entry leaves a tombstone in the event log (trigger, 0008).
            cx.executemany("DELETE FROM entries WHERE seq = ?", [(d[0],) for d in doomed])
            if reason != "delete":
                cx.execute("UPDATE events SET kind = ? WHERE seq > ?", (reason, before))
            cx.executemany("DELETE FROM red_recipients WHERE seq = ?", [(d[0],) for d in doomed])
            left = [heads.Held(r[0], r[1], bool(r[2]), bool(r[3])) for r in cx.execute(
                "SELECT seq, vkey, is_first, is_last FROM entries WHERE object_id = ? "
                "AND collection_pk = ?", (object_id, collection_pk))]
            _, updates = heads.plan({object_id: left}, [])
            cx.executemany("UPDATE entries SET is_first = ?, is_last = ? WHERE seq = ?", updates)
            # A version no collection holds any more is gone from the node, body included.
            for _, vid, _ in doomed:
                cx.execute("DELETE FROM versions WHERE vid = ? AND NOT EXISTS (SELECT 1 FROM "
                           "entries WHERE object_id = ? AND vid = ?)", (vid, object_id, vid))
            return len(doomed)

    def count(self, collection_pk: int) -> int:
        return int(self._read("SELECT count(*) FROM entries WHERE collection_pk = ?",
                              (collection_pk,))[0][0])

    # -- status and metadata ------------------------------------------------------------
    def save_status(self, status: Status) -> None:
        def rows(outcomes: list[Outcome]) -> list[list[str | None]]:
            return [[o.id, o.version, o.message] for o in outcomes]

        details = orjson.dumps({"s": rows(status.successes), "f": rows(status.failures),
                                "p": rows(status.pendings)})
        with self._tx() as cx:
            cx.execute("INSERT OR REPLACE INTO statuses VALUES (?, ?, ?, ?, ?, ?)",
                       (status.id, status.collection_pk, status.org_id, status.request_us,
                        status.total, details))

    def get_status(self, status_id: str) -> Status | None:
        rows = self._read("SELECT id, collection_pk, org_id, request_us, total, details "
                          "FROM statuses WHERE id = ?", (status_id,))
        if not rows:
            return None
        sid, cpk, org, req, total, raw = rows[0]
        d = orjson.loads(raw)
        return Status(sid, cpk, org, req, total,
                      successes=[Outcome(i, v, True, m) for i, v, m in d["s"]],
                      failures=[Outcome(i, v, False, m) for i, v, m in d["f"]],
                      pendings=[Outcome(i, v, False, m) for i, v, m in d["p"]])

    def get_meta(self, key: str) -> str | None:
        rows = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as cx:
            cx.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def meta_default(self, key: str, value: str) -> str:
        with self._tx() as cx:
            cx.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (key, value))
            return str(cx.execute("SELECT value FROM meta WHERE key = ?", (key,)
                                  ).fetchone()[0])


def _release(row: Sequence[Any]) -> Release:
    (rid, oid, requester, originator, cpk, reason, state, created, decided, grant, sig,
     signer) = row
    return Release(rid, oid, requester, originator, cpk, reason, state, created, decided,
                   None if grant is None else bytes(grant), sig, signer)


def _rollback(cx: sqlite3.Connection) -> None:
    # SQLite may already have rolled back by itself (SQLITE_FULL, SQLITE_IOERR, ...).
    if cx.in_transaction:
        cx.execute("ROLLBACK")


class _Bulk:
    """:class:`thiqa.store.BulkWriter` on SQLite: one transaction per ``commit_every``."""

    def __init__(self, store: SQLiteStore, collection_pk: int, commit_every: int,
                 origin: Origin) -> None:
        self.store = store
        self.pk = collection_pk
        self.origin = origin
        self.commit_every = max(1, commit_every)
        self.pending = 0
        self.open = False
        self.turn: contextlib.AbstractContextManager[object] = contextlib.nullcontext()

    def add(self, items: Sequence[NewVersion], now_us: int,
            provenance: Provenance | None = None) -> list[Outcome]:
        if not items:
            return []
        cx = self.store._writer
        if not self.open:
            self.store._lock.acquire()
            turn = self.store._turn()
            turn.__enter__()
            try:
                cx.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                turn.__exit__(None, None, None)
                self.store._lock.release()
                raise StoreError(f"cannot start a write: {exc}") from exc
            self.open, self.turn = True, turn
        try:
            outcomes = _Writer(cx, self.pk, now_us, self.origin).add(items, provenance)
        except sqlite3.IntegrityError as exc:
            self.abort()
            raise Conflict(str(exc)) from exc
        except sqlite3.Error as exc:
            self.abort()
            raise StoreError(f"write failed and was rolled back: {exc}") from exc
        self.pending += len(items)
        if self.pending >= self.commit_every:
            self.commit()
        return outcomes

    def commit(self) -> None:
        if not self.open:
            return
        try:
            self.store._writer.execute("COMMIT")
        except sqlite3.Error as exc:
            self.abort()
            raise StoreError(f"write failed and was rolled back: {exc}") from exc
        self.store._committed()
        self._release()

    def abort(self) -> None:
        if self.open:
            _rollback(self.store._writer)
            self._release()

    def _release(self) -> None:
        self.open = False
        self.pending = 0
        self.turn.__exit__(None, None, None)
        self.store._lock.release()


class _WriteTurns:
    """An exclusive ``flock`` on ``<database>-turn``, held around each write
    transaction: writers that take it wait in the kernel's queue and wake the moment
    the last one lets go. (A lock of its own: SQLite's are POSIX locks on the database,
    which ``flock`` never touches.)"""

    def __init__(self, path: Path) -> None:
        import fcntl  # POSIX only, like the receiving processes that ask for it

        self._flock = fcntl.flock
        self._ex, self._un = fcntl.LOCK_EX, fcntl.LOCK_UN
        self._fd = os.open(path.with_name(path.name + "-turn"), os.O_RDWR | os.O_CREAT, 0o600)

    def __enter__(self) -> _WriteTurns:
        self._flock(self._fd, self._ex)
        return self

    def __exit__(self, *exc: object) -> None:
        self._flock(self._fd, self._un)

    def close(self) -> None:
        os.close(self._fd)


def _collection(row: Sequence[Any]) -> Collection:
    pk, cid, title, description, alias, created_us, community_pk, public = row
    return Collection(pk, cid, title, description, alias, created_us, community_pk,
                      bool(public))


def _insert_collection(cx: sqlite3.Connection, c: Collection) -> Collection:
    cur = cx.execute("INSERT INTO collections (id, alias, title, description, created_us, "
                     "community_pk, public) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (c.id, c.alias, c.title, c.description, c.created_us, c.community_pk,
                      int(c.public)))
    assert cur.lastrowid is not None
    return Collection(cur.lastrowid, c.id, c.title, c.description, c.alias, c.created_us,
                      c.community_pk, c.public)


def _conditions(q: ObjectQuery) -> tuple[list[str], list[Any]]:
    """WHERE terms shared by every read: collection, visibility, versions, spec_version,
    position."""
    conds = ["e.collection_pk = ?"]
    params: list[Any] = [q.collection_pk]
    vis = q.visibility
    seen, seen_params = _visible(vis, "e")
    if seen is not None:
        conds.append(seen)
        params.extend(seen_params)
    v = q.versions
    if not v.all:
        terms = []
        # first and last are taken among the versions the reader may see: a later
        # version it may not see must not hide the last one it may (nor betray itself).
        for wanted, flag, cmp in ((v.first, "is_first", "<"), (v.last, "is_last", ">")):
            if not wanted:
                continue
            if vis.everything and not vis.clear_in:
                terms.append(f"e.{flag} = 1")
                continue
            other, other_params = _visible(vis, "o")
            terms.append(f"(e.{flag} = 1 OR NOT EXISTS (SELECT 1 FROM entries o WHERE "
                         "o.object_id = e.object_id AND o.collection_pk = e.collection_pk AND "
                         f"o.vkey {cmp} e.vkey AND {other}))")
            params.extend(other_params)
        if v.keys:
            terms.append(f"e.vkey IN ({_marks(len(v.keys))})")
            params.extend(v.keys)
        conds.append("(" + " OR ".join(terms) + ")" if terms else "0")
    if q.spec_versions:
        conds.append(f"e.spec_version IN ({_marks(len(q.spec_versions))})")
        params.extend(q.spec_versions)
    if q.text:
        conds.append("instr(lower((SELECT t.body FROM versions t WHERE t.vid = e.vid)), ?) > 0")
        params.append(q.text.lower())
    # date_added is strictly increasing with seq (see _Writer), so a position is a date.
    after = max(q.added_after or -1, q.after.date_added if q.after else -1)
    if after >= 0:
        conds.append("e.date_added > ?")
        params.append(after)
    return conds, params


class _Writer:
    """One add_versions transaction: dedupe, assign dates, keep first/last flags, stamp
    each entry with its originator and handling.

    Only the holdings the writer may see (``origin.sees``) take part in its decisions:
    a version it may not see is, for it, not there — it neither collides with it nor
    learns its version date, and its re-sharing gate never hears of it.
    """

    def __init__(self, cx: sqlite3.Connection, collection_pk: int, now_us: int,
                 origin: Origin) -> None:
        self.cx = cx
        self.pk = collection_pk
        self.origin = origin
        last = cx.execute("SELECT last_added FROM clock").fetchone()[0]
        self.next_added = max(now_us, last + 1)
        self.next_vid = cx.execute("SELECT COALESCE(MAX(vid), 0) + 1 FROM versions"
                                   ).fetchone()[0]
        # Explicit seqs (AUTOINCREMENT keeps its counter above them) so that the
        # recipients of RED entries can be written in the same batch.
        self.next_seq = cx.execute(
            "SELECT max(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'entries'), 0), "
            "COALESCE((SELECT MAX(seq) FROM entries), 0)) + 1").fetchone()[0]

    def add(self, items: Sequence[NewVersion],
            provenance: Provenance | None = None) -> list[Outcome]:
        ids = list({it.id for it in items})
        shared: dict[tuple[str, str, bytes], int] = {}  # (id, vkey, digest) -> vid, any collection
        here: dict[tuple[str, str], int] = {}           # (id, vkey) -> vid seen in this collection
        unversioned: dict[str, tuple[str, str]] = {}    # id -> (vkey, version) seen here
        held: dict[str, list[heads.Held]] = defaultdict(list)
        foreign: dict[tuple[str, str], list[tuple[int, Held]]] = defaultdict(list)
        seen_sql, seen_params = _visible(self.origin.sees, "e")
        for chunk in _chunks(ids):
            # Every collection's entries of these ids: the versions they hold are the
            # versions of these ids on the node (see migration 0003).
            for (seq, cpk, oid, vkey, vid, first, last, version, digest, originator, tlp, pap,
                 control, community_pk, seen) in self.cx.execute(
                    "SELECT e.seq, e.collection_pk, e.object_id, e.vkey, e.vid, e.is_first, "
                    "e.is_last, v.version, v.digest, e.originator, e.tlp, e.pap, "
                    f"e.originator_control, c.community_pk, {seen_sql or '1'} FROM entries e "
                    "JOIN versions v ON v.vid = e.vid JOIN collections c ON c.pk = "
                    f"e.collection_pk WHERE e.object_id IN ({_marks(len(chunk))})",
                    [*seen_params, *chunk]):
                shared[(oid, vkey, bytes(digest))] = vid
                if cpk == self.pk:
                    held[oid].append(heads.Held(seq, vkey, bool(first), bool(last)))
                    if seen:
                        here[(oid, vkey)] = vid
                        unversioned.setdefault(oid, (vkey, version))
                if seen and originator != self.origin.originator:
                    foreign[(oid, vkey)].append((seq, Held(
                        cpk, community_pk, originator,
                        Handling(Tlp(tlp), Pap(pap), bool(control)))))
        recipients = self._recipients(foreign)

        created: dict[int, bytes] = {}  # bodies of the versions this batch creates, by vid
        version_rows: list[tuple[Any, ...]] = []
        entry_rows: list[tuple[NewVersion, int, str, int, Stamp]] = []
        stamps: dict[Marks, Stamp] = {}
        outcomes: list[Outcome] = []
        vouched: list[tuple[int, int]] = []  # (vid, item index) of new bodies to vouch for
        for index, it in enumerate(items):
            vkey, version = it.vkey, it.version
            if vkey is None or version is None:
                # No created/modified (most SCOs): the object has one version in a
                # collection, dated by its first arrival there (TAXII 2.1 §4.3.1
                # "consistent to the server").
                prior = unversioned.get(it.id)
                if prior is None:
                    version = format_us(self.next_added)
                    vkey = version_key(version)
                    unversioned[it.id] = (vkey, version)
                else:
                    vkey, version = prior
            key = (it.id, vkey)
            if key in here:
                vid = here[key]
                if _same_json(created[vid] if vid in created else self._body(vid), it.body):
                    # TAXII 2.1 §5.5: an exact duplicate is not an error.
                    outcomes.append(Outcome(it.id, version, True))
                else:
                    outcomes.append(Outcome(it.id, version, False,
                                            "a different object with this id and version is "
                                            "already in this collection; versions are "
                                            "immutable, so publish a new version with a later "
                                            "'modified'"))
                continue
            # Feeds repeat a handful of markings: resolve each distinct one once per batch.
            stamp = stamps.get(it.marks)
            if stamp is None:
                stamp = stamps[it.marks] = Stamp(self.origin.originator,
                                                 it.marks.resolve(self.origin.defaults))
            received = foreign.get(key)
            if received:
                decided = self.origin.gate(it.id, stamp, [_with_recipients(h, recipients.get(seq))
                                                   for seq, h in received])
                if isinstance(decided, str):
                    outcomes.append(Outcome(it.id, version, False, decided))
                    continue
                stamp = decided
            digest = hashlib.blake2b(it.body, digest_size=16).digest()
            vid = shared.get((it.id, vkey, digest), 0)
            if not vid:
                vid = self.next_vid
                self.next_vid += 1
                version_rows.append((vid, it.id, vkey, digest, version, it.type,
                                     it.spec_version, it.body))
                shared[(it.id, vkey, digest)] = vid
                created[vid] = it.body
                if provenance is not None and stamp.originator == self.origin.originator:
                    vouched.append((vid, index))
            here[key] = vid
            entry_rows.append((it, vid, vkey, self.next_added, stamp))
            self.next_added += 1
            outcomes.append(Outcome(it.id, version, True))

        flags, updates = heads.plan(held, [(row[0].id, row[2]) for row in entry_rows])
        self.cx.executemany("INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, ?, ?)", version_rows)
        rows: list[tuple[Any, ...]] = []
        red: list[tuple[int, str]] = []
        seq = self.next_seq
        for (it, vid, vkey, added, stamp), (first, last) in zip(entry_rows, flags, strict=True):
            h = stamp.handling
            rows.append((seq, self.pk, vid, it.id, it.type, vkey, it.spec_version, added, first,
                         last, stamp.originator, h.tlp, h.pap, h.originator_control))
            red.extend((seq, org) for org in h.recipients)
            seq += 1
        self.cx.executemany(
            "INSERT INTO entries (seq, collection_pk, vid, object_id, type, vkey, spec_version, "
            "date_added, is_first, is_last, originator, tlp, pap, originator_control) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self.cx.executemany("INSERT INTO red_recipients VALUES (?, ?)", red)
        self.cx.executemany("UPDATE entries SET is_first = ?, is_last = ? WHERE seq = ?", updates)
        if provenance is not None and vouched:
            record_provenance(self.cx, provenance, vouched)
        if entry_rows:
            self.cx.execute("UPDATE clock SET last_added = ?", (self.next_added - 1,))
        return outcomes

    def _recipients(self, foreign: dict[tuple[str, str], list[tuple[int, Held]]]
                    ) -> dict[int, tuple[str, ...]]:
        """The named recipients of the RED versions among ``foreign``, by entry seq."""
        seqs = [seq for found in foreign.values() for seq, h in found
                if h.handling.tlp is Tlp.RED]
        out: dict[int, list[str]] = defaultdict(list)
        for chunk in _chunks(seqs):
            for seq, org in self.cx.execute("SELECT seq, org_id FROM red_recipients WHERE seq "
                                            f"IN ({_marks(len(chunk))})", chunk):
                out[seq].append(org)
        return {seq: tuple(orgs) for seq, orgs in out.items()}

    def _body(self, vid: int) -> bytes:
        return bytes(self.cx.execute("SELECT body FROM versions WHERE vid = ?",
                                     (vid,)).fetchone()[0])


def _with_recipients(h: Held, recipients: tuple[str, ...] | None) -> Held:
    if not recipients:
        return h
    x = h.handling
    return Held(h.collection_pk, h.community_pk, h.originator,
                Handling(x.tlp, x.pap, x.originator_control, recipients))


def _visible(vis: Visibility, e: str) -> tuple[str | None, list[Any]]:
    """The WHERE condition on entry alias ``e`` that :class:`Visibility` describes, or
    None when it admits every entry. A literal translation: the policy decided."""
    cond, params = _scoped(vis, e)
    if not vis.clear_in:
        return cond, params
    # Openly published: the CLEAR versions of these collections, to anyone.
    pks = sorted(vis.clear_in)
    return (f"(({cond or '1'}) OR ({e}.collection_pk IN ({_marks(len(pks))}) AND "
            f"{e}.tlp = {int(Tlp.CLEAR)}))", [*params, *pks])


def _scoped(vis: Visibility, e: str) -> tuple[str | None, list[Any]]:
    conds: list[str] = []
    params: list[Any] = []
    if vis.collections is not None:
        if not vis.collections:
            return "0", []
        pks = sorted(vis.collections)
        conds.append(f"{e}.collection_pk IN ({_marks(len(pks))})")
        params.extend(pks)
    if not vis.everything:
        alternatives = []
        if vis.tlp_below > 0:
            alternatives.append(f"{e}.tlp < ?")
            params.append(vis.tlp_below)
        if vis.originator is not None:
            alternatives.append(f"{e}.originator = ?")
            params.append(vis.originator)
        if vis.recipient is not None:
            alternatives.append(f"EXISTS (SELECT 1 FROM red_recipients r WHERE r.seq = {e}.seq "
                                "AND r.org_id = ?)")
            params.append(vis.recipient)
        conds.append("(" + " OR ".join(alternatives) + ")" if alternatives else "0")
    return (" AND ".join(conds) if conds else None), params
