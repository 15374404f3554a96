"""The scale-out store: one PostgreSQL database, shared by any number of processes.

Laid out like :mod:`thiqa.store.sqlite`, method for method, so that a method added
there has its place here.

**One writer of entries, across processes.** Every write transaction first takes a
transaction-level advisory lock (``pg_advisory_xact_lock``, released by its commit or
rollback): the counterpart of SQLite's ``BEGIN IMMEDIATE``. A sequence alone would hand
out ``seq`` safely, but not in commit order: a transaction that drew seq 10 could commit
after one that drew 11, and a reader paging by ``date_added`` who had already passed 11
would never see 10. Under the lock, the transaction reads the ``clock`` row, draws its
block of seqs and version ids, and commits before the next one starts, so ``seq`` and
``date_added`` increase in commit order; and the duplicate and immutability checks
(read what is held, then insert) cannot race a writer in another process. A row lock on
``clock`` would serialise as well, but only writes that reach it; the advisory lock
also covers deletions and admin changes, and costs no row version.

**Durable before returning**: the writer sets ``synchronous_commit = on`` (whatever the
server's default), so a commit has reached the server's WAL on disk when it returns.

Reads use a small pool of autocommit connections (each statement sees what was committed
before it started), never the writer's. Bulk inserts go through binary ``COPY``.
"""

from __future__ import annotations

import hashlib
import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
import psycopg
from psycopg import errors as pg_errors

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
    Record,
    Release,
    ReleaseState,
    Stamp,
    Status,
    Versions,
    Visibility,
)
from thiqa.store.pg_schema import LOCK_ARGS, WRITE_LOCK, migrate
from thiqa.store.postgres_audit import PostgresAuditLog
from thiqa.timestamps import format_us, version_key

Connection = psycopg.Connection[tuple[Any, ...]]
Cursor = psycopg.Cursor[tuple[Any, ...]]

# Ids per "= ANY(array)" lookup: large enough for few round trips, small enough that
# the planner keeps to the index.
_CHUNK = 10_000
# Above this many match values a union of per-value index scans costs more than it saves.
_UNION_MAX = 64
# Idle read connections kept open; more are opened under load and closed after use.
_POOL_IDLE = 8

_VERSION_COLS = ("vid", "object_id", "vkey", "digest", "version", "type", "spec_version",
                 "body")
_VERSION_TYPES = ("int8", "text", "text", "bytea", "text", "text", "text", "bytea")
_ENTRY_COLS = ("seq", "collection_pk", "vid", "object_id", "type", "vkey", "spec_version",
               "date_added", "is_first", "is_last", "originator", "tlp", "pap",
               "originator_control")
_ENTRY_TYPES = ("int8", "int8", "int8", "text", "text", "text", "text", "int8", "bool",
                "bool", "text", "int2", "int2", "bool")


def _community(row: Sequence[Any]) -> Community:
    pk, cid, kind, name, description, created_us, tlp, pap = row
    return Community(pk, cid, kind, name, description, created_us,
                     None if tlp is None else Tlp(tlp), None if pap is None else Pap(pap))


SYSTEM = Origin("")


def _same_json(a: bytes, b: bytes) -> bool:
    return a == b or bool(orjson.loads(a) == orjson.loads(b))


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the PostgreSQL database"
    host, db = info.get("host", "localhost"), info.get("dbname", "")
    return f"postgresql://{info.get('user', '')}@{host}:{info.get('port', 5432)}/{db}"


class PostgresStore:
    """:class:`thiqa.store.Store` on PostgreSQL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._pool_lock = threading.Lock()
        self._idle: list[Connection] = []
        self._audit: PostgresAuditLog | None = None
        self._audit_lock = threading.Lock()
        self._closed = False
        try:
            self._writer = self._connect(autocommit=False)
            self._migrate()
        except psycopg.Error as exc:
            raise StoreError(f"cannot open the database {redact(url)}: {exc}") from exc

    # -- connections -------------------------------------------------------------------
    def _connect(self, *, autocommit: bool) -> Connection:
        cx = psycopg.connect(self.url, autocommit=autocommit, connect_timeout=10)
        # psycopg prepares a statement run five times; a generic plan for "= ANY($1)"
        # cannot see the array nor a table that grew since (a load starts empty) and
        # settles on a sequential scan. Plan each execution for its values instead.
        cx.execute("SET synchronous_commit = on; SET plan_cache_mode = force_custom_plan")
        if not autocommit:
            cx.commit()
        return cx

    @contextmanager
    def _reader(self) -> Iterator[Connection]:
        with self._pool_lock:
            cx = self._idle.pop() if self._idle else None
        if cx is None:
            cx = self._connect(autocommit=True)
        try:
            yield cx
        finally:
            with self._pool_lock:
                keep = not self._closed and not cx.broken and len(self._idle) < _POOL_IDLE
                if keep:
                    self._idle.append(cx)
            if not keep:
                cx.close()

    def _writer_cx(self) -> Connection:
        if self._closed:
            raise StoreError("the store is closed")
        # A server restart breaks the connection: the next write opens a new one.
        if self._writer.broken:
            self._writer = self._connect(autocommit=False)
        return self._writer

    @contextmanager
    def _tx(self) -> Iterator[Cursor]:
        with self._lock:
            try:
                cx = self._writer_cx()
                cur = cx.cursor()
                cur.execute("SELECT pg_advisory_xact_lock" + LOCK_ARGS, (WRITE_LOCK,))
            except psycopg.Error as exc:
                _rollback(self._writer)
                raise StoreError(f"cannot start a write: {exc}") from exc
            try:
                yield cur
                cx.commit()
            except pg_errors.IntegrityError as exc:
                _rollback(cx)
                raise Conflict(_message(exc)) from exc
            except psycopg.DataError as exc:
                _rollback(cx)
                raise _bad_value(exc) from exc
            except psycopg.Error as exc:
                _rollback(cx)
                raise StoreError(f"write failed and was rolled back: {exc}") from exc
            except BaseException:
                _rollback(cx)
                raise

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
            with self._reader() as cx:
                return cx.execute(sql, params).fetchall()
        except psycopg.DataError as exc:
            raise _bad_value(exc) from exc
        except psycopg.Error as exc:
            raise StoreError(f"read failed: {exc}") from exc

    def _migrate(self) -> None:
        migrate(self._writer, "pg_migrations", "schema_migrations")

    def close(self) -> None:
        """Close every connection; safe to call more than once."""
        with self._lock:
            self._closed = True
            with self._pool_lock:
                for cx in self._idle:
                    cx.close()
                self._idle.clear()
            self._writer.close()
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
                       "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                       (r.id, r.object_id, r.requester, r.originator, r.collection_pk,
                        r.reason, r.state, r.created_us, r.decided_us, r.grant_record,
                        r.signature, r.signer))

    def get_release(self, release_id: str) -> Release | None:
        rows = self._read(f"SELECT {self._REL_COLS} FROM releases WHERE id = %s",
                          (release_id,))
        return _release(rows[0]) if rows else None

    def list_releases(self, org_id: str) -> list[Release]:
        rows = self._read(f"SELECT {self._REL_COLS} FROM releases WHERE requester = %s OR "
                          "originator = %s ORDER BY created_us", (org_id, org_id))
        return [_release(r) for r in rows]

    def decide_release(self, release_id: str, state: ReleaseState, decided_us: int,
                       grant_record: bytes | None = None, signature: str | None = None,
                       signer: str | None = None) -> bool:
        with self._tx() as cx:
            cx.execute("UPDATE releases SET state = %s, decided_us = %s, grant_record = %s, "
                       "signature = %s, signer = %s WHERE id = %s AND state = 'pending'",
                       (state, decided_us, grant_record, signature, signer, release_id))
            return cx.rowcount > 0

    def granted_releases(self, requester: str, collection_pk: int) -> list[Release]:
        rows = self._read(f"SELECT {self._REL_COLS} FROM releases WHERE requester = %s AND "
                          "collection_pk = %s AND state = 'granted'", (requester, collection_pk))
        return [_release(r) for r in rows]

    # -- audit log ----------------------------------------------------------------------
    def _audit_log(self) -> PostgresAuditLog:
        # Its own connection and lock: the write lock may be held by a bulk session.
        with self._audit_lock:
            if self._audit is None:
                self._audit = PostgresAuditLog(self.url)
            return self._audit

    def append_audit(self, events: Sequence[Event]) -> None:
        if events:
            self._audit_log().append(events)

    def audit(self, q: AuditQuery) -> list[Event]:
        return self._audit_log().query(q)

    # -- organisations and keys -------------------------------------------------------
    def add_org(self, org: Org) -> None:
        with self._tx() as cx:
            cx.execute("INSERT INTO orgs VALUES (%s, %s, %s)", (org.id, org.name, org.created_us))

    def get_org(self, ref: str) -> Org | None:
        rows = self._read("SELECT id, name, created_us FROM orgs WHERE id = %s OR name = %s",
                          (ref, ref))
        return Org(*rows[0]) if rows else None

    def list_orgs(self) -> list[Org]:
        return [Org(*r) for r in self._read("SELECT id, name, created_us FROM orgs ORDER BY name")]

    def add_key(self, key: ApiKey, secret_hash: bytes) -> None:
        with self._tx() as cx:
            cx.execute("INSERT INTO api_keys VALUES (%s, %s, %s, %s, %s, %s, %s)",
                       (key.id, key.org_id, key.role, key.label, secret_hash, key.created_us,
                        key.revoked_us))

    _KEY_COLS = "id, org_id, role, label, created_us, revoked_us"

    def key_by_hash(self, secret_hash: bytes) -> ApiKey | None:
        rows = self._read(f"SELECT {self._KEY_COLS} FROM api_keys WHERE secret_hash = %s",
                          (secret_hash,))
        return ApiKey(*rows[0]) if rows else None

    def list_keys(self, org_id: str | None = None) -> list[ApiKey]:
        if org_id is None:
            rows = self._read(f"SELECT {self._KEY_COLS} FROM api_keys ORDER BY created_us")
        else:
            rows = self._read(f"SELECT {self._KEY_COLS} FROM api_keys WHERE org_id = %s "
                              "ORDER BY created_us", (org_id,))
        return [ApiKey(*r) for r in rows]

    def revoke_key(self, key_id: str, when_us: int) -> bool:
        with self._tx() as cx:
            cx.execute("UPDATE api_keys SET revoked_us = %s WHERE id = %s AND revoked_us "
                       "IS NULL", (when_us, key_id))
            return cx.rowcount > 0

    # -- collections ------------------------------------------------------------------
    _COLL_COLS = "pk, id, title, description, alias, created_us, community_pk"

    def add_collection(self, collection: Collection) -> Collection:
        with self._tx() as cx:
            return _insert_collection(cx, collection)

    def get_collection(self, ref: str) -> Collection | None:
        rows = self._read(f"SELECT {self._COLL_COLS} FROM collections WHERE id = %s OR "
                          "alias = %s", (ref, ref))
        return Collection(*rows[0]) if rows else None

    def list_collections(self) -> list[Collection]:
        rows = self._read(f"SELECT {self._COLL_COLS} FROM collections ORDER BY pk")
        return [Collection(*r) for r in rows]

    def set_grant(self, grant: Grant) -> None:
        with self._tx() as cx:
            cx.execute("INSERT INTO grants VALUES (%s, %s, %s, %s) ON CONFLICT (collection_pk, "
                       "org_id) DO UPDATE SET can_read = excluded.can_read, can_write = "
                       "excluded.can_write",
                       (grant.collection_pk, grant.org_id, grant.can_read, grant.can_write))

    def grants(self, org_id: str) -> dict[int, Grant]:
        rows = self._read("SELECT collection_pk, org_id, can_read, can_write FROM grants "
                          "WHERE org_id = %s", (org_id,))
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
            cx.execute("INSERT INTO communities (id, kind, name, description, created_us, "
                       "pair, default_tlp, default_pap) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                       "RETURNING pk",
                       (c.id, c.kind, c.name, c.description, c.created_us, pair,
                        _level(c.default_tlp), _level(c.default_pap)))
            row = cx.fetchone()
            assert row is not None
            pk = int(row[0])
            cx.executemany("INSERT INTO community_members VALUES (%s, %s, %s, %s)",
                           [(pk, m.org_id, m.role, m.joined_us) for m in members])
            stored = [_insert_collection(cx, Collection(
                0, x.id, x.title, x.description, x.alias, x.created_us, pk))
                for x in collections]
        return Community(pk, c.id, c.kind, c.name, c.description, c.created_us,
                         c.default_tlp, c.default_pap), stored

    def set_community_defaults(self, community_pk: int, tlp: Tlp | None,
                               pap: Pap | None) -> None:
        with self._tx() as cx:
            cx.execute("UPDATE communities SET default_tlp = %s, default_pap = %s WHERE pk = %s",
                       (_level(tlp), _level(pap), community_pk))

    def get_community(self, ref: str) -> Community | None:
        rows = self._read(f"SELECT {self._COMM_COLS} FROM communities WHERE id = %s OR "
                          "name = %s ORDER BY id = %s DESC LIMIT 1", (ref, ref, ref))
        return _community(rows[0]) if rows else None

    def community_by_pk(self, pk: int) -> Community | None:
        rows = self._read(f"SELECT {self._COMM_COLS} FROM communities WHERE pk = %s", (pk,))
        return _community(rows[0]) if rows else None

    def list_communities(self, kind: CommunityKind | None = None) -> list[Community]:
        if kind is None:
            rows = self._read(f"SELECT {self._COMM_COLS} FROM communities ORDER BY name")
        else:
            rows = self._read(f"SELECT {self._COMM_COLS} FROM communities WHERE kind = %s "
                              "ORDER BY name", (kind,))
        return [_community(r) for r in rows]

    def agreement_between(self, org_a: str, org_b: str) -> Community | None:
        rows = self._read(f"SELECT {self._COMM_COLS} FROM communities WHERE pair = %s",
                          (" ".join(sorted((org_a, org_b))),))
        return _community(rows[0]) if rows else None

    def members(self, community_pk: int) -> list[Member]:
        rows = self._read("SELECT community_pk, org_id, role, joined_us FROM community_members "
                          "WHERE community_pk = %s ORDER BY role = 'convener' DESC, joined_us, "
                          "org_id", (community_pk,))
        return [Member(*r) for r in rows]

    def add_member(self, member: Member) -> None:
        with self._tx() as cx:
            cx.execute("INSERT INTO community_members VALUES (%s, %s, %s, %s)",
                       (member.community_pk, member.org_id, member.role, member.joined_us))

    def remove_member(self, community_pk: int, org_id: str) -> bool:
        with self._tx() as cx:
            cx.execute("DELETE FROM community_members WHERE community_pk = %s AND "
                       "org_id = %s", (community_pk, org_id))
            return cx.rowcount > 0

    def memberships(self, org_id: str) -> frozenset[int]:
        rows = self._read("SELECT community_pk FROM community_members WHERE org_id = %s",
                          (org_id,))
        return frozenset(r[0] for r in rows)

    def membership_counts(self) -> dict[str, int]:
        rows = self._read("SELECT org_id, count(*) FROM community_members GROUP BY org_id")
        return {r[0]: int(r[1]) for r in rows}

    def community_collections(self, community_pk: int) -> list[Collection]:
        rows = self._read(f"SELECT {self._COLL_COLS} FROM collections WHERE community_pk = %s "
                          "ORDER BY pk", (community_pk,))
        return [Collection(*r) for r in rows]

    # -- object versions --------------------------------------------------------------
    def add_versions(self, collection_pk: int, items: Sequence[NewVersion],
                     now_us: int, origin: Origin = SYSTEM) -> list[Outcome]:
        if not items:
            return []
        with self._tx() as cx:
            return _Writer(cx, collection_pk, now_us, origin).add(items)

    def query(self, q: ObjectQuery, *, bodies: bool = True) -> Page:
        conds, params = _conditions(q)
        cols = ("e.seq, e.date_added, e.object_id, v.version, e.spec_version, e.tlp, "
                "e.originator")
        if bodies:
            cols += ", v.body"
        split_col, values = ("e.object_id", q.ids) if q.ids else ("e.type", q.types)
        if q.ids and q.types:
            conds.append("e.type = ANY(%s)")
            params.append(list(q.types))
        n = q.limit + 1
        where = " AND ".join(conds)
        if 1 < len(values) <= _UNION_MAX:
            # One ordered, limited index scan per value, merged: never sorts a whole
            # collection (SQLite: a UNION ALL; here a LATERAL join over the values).
            sql = (f"SELECT {cols} FROM unnest(%s::text[]) AS w(value) CROSS JOIN LATERAL "
                   f"(SELECT e.seq FROM entries e WHERE {where} AND {split_col} = w.value "
                   f"ORDER BY e.date_added LIMIT {n}) s "
                   "JOIN entries e ON e.seq = s.seq JOIN versions v ON v.vid = e.vid "
                   f"ORDER BY e.date_added LIMIT {n}")
            rows = self._read(sql, [list(values), *params])
        else:
            if values:
                where += f" AND {split_col} = ANY(%s)"
                params.append(list(values))
            sql = (f"SELECT {cols} FROM entries e JOIN versions v ON v.vid = e.vid "
                   f"WHERE {where} ORDER BY e.date_added LIMIT {n}")
            rows = self._read(sql, params)
        more = len(rows) > q.limit
        return Page([Record(*r) for r in rows[: q.limit]], more)

    def delete_versions(self, collection_pk: int, object_id: str, versions: Versions,
                        spec_versions: tuple[str, ...] = (),
                        visibility: Visibility = EVERYTHING) -> int:
        q = ObjectQuery(collection_pk, ids=(object_id,), versions=versions,
                        spec_versions=spec_versions, visibility=visibility)
        conds, params = _conditions(q)
        conds.append("e.object_id = %s")
        params.append(object_id)
        with self._tx() as cx:
            doomed = cx.execute(f"SELECT e.seq, e.vid FROM entries e WHERE "
                                f"{' AND '.join(conds)}", params).fetchall()
            if not doomed:
                return 0
            seqs = [d[0] for d in doomed]
            cx.execute("DELETE FROM entries WHERE seq = ANY(%s)", (seqs,))
            cx.execute("DELETE FROM red_recipients WHERE seq = ANY(%s)", (seqs,))
            left = [heads.Held(r[0], r[1], bool(r[2]), bool(r[3])) for r in cx.execute(
                "SELECT seq, vkey, is_first, is_last FROM entries WHERE object_id = %s "
                "AND collection_pk = %s", (object_id, collection_pk))]
            _, updates = heads.plan({object_id: left}, [])
            _update_flags(cx, updates)
            # A version no collection holds any more is gone from the node, body included.
            cx.execute("DELETE FROM versions v WHERE v.vid = ANY(%s) AND NOT EXISTS (SELECT 1 "
                       "FROM entries WHERE object_id = %s AND vid = v.vid)",
                       (sorted({d[1] for d in doomed}), object_id))
            return len(doomed)

    def count(self, collection_pk: int) -> int:
        return int(self._read("SELECT count(*) FROM entries WHERE collection_pk = %s",
                              (collection_pk,))[0][0])

    # -- status and metadata ------------------------------------------------------------
    def save_status(self, status: Status) -> None:
        def rows(outcomes: list[Outcome]) -> list[list[str | None]]:
            return [[o.id, o.version, o.message] for o in outcomes]

        details = orjson.dumps({"s": rows(status.successes), "f": rows(status.failures),
                                "p": rows(status.pendings)})
        with self._tx() as cx:
            cx.execute("INSERT INTO statuses VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) "
                       "DO UPDATE SET collection_pk = excluded.collection_pk, org_id = "
                       "excluded.org_id, request_us = excluded.request_us, total = "
                       "excluded.total, details = excluded.details",
                       (status.id, status.collection_pk, status.org_id, status.request_us,
                        status.total, details))

    def get_status(self, status_id: str) -> Status | None:
        rows = self._read("SELECT id, collection_pk, org_id, request_us, total, details "
                          "FROM statuses WHERE id = %s", (status_id,))
        if not rows:
            return None
        sid, cpk, org, req, total, raw = rows[0]
        d = orjson.loads(raw)
        return Status(sid, cpk, org, req, total,
                      successes=[Outcome(i, v, True, m) for i, v, m in d["s"]],
                      failures=[Outcome(i, v, False, m) for i, v, m in d["f"]],
                      pendings=[Outcome(i, v, False, m) for i, v, m in d["p"]])

    def get_meta(self, key: str) -> str | None:
        rows = self._read("SELECT value FROM meta WHERE key = %s", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as cx:
            cx.execute("INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET "
                       "value = excluded.value", (key, value))


def _release(row: Sequence[Any]) -> Release:
    (rid, oid, requester, originator, cpk, reason, state, created, decided, grant, sig,
     signer) = row
    return Release(rid, oid, requester, originator, cpk, reason, state, created, decided,
                   None if grant is None else bytes(grant), sig, signer)


def _level(level: Tlp | Pap | None) -> int | None:
    return None if level is None else int(level)


def _message(exc: psycopg.Error) -> str:
    diag = exc.diag
    return diag.message_primary or str(exc)


def _bad_value(exc: psycopg.DataError) -> BadRequest:
    # What PostgreSQL cannot hold that SQLite can: a NUL character in a text value (the
    # driver refuses it before sending), or a number out of a column's range.
    if "NUL" in str(exc):
        return BadRequest("text values cannot contain the NUL character (U+0000) on this "
                          "node (PostgreSQL store)")
    return BadRequest(f"a value does not fit the database: {_message(exc)}")


def _rollback(cx: Connection) -> None:
    # A broken connection has no transaction left to roll back.
    if not cx.closed and not cx.broken:
        cx.rollback()


def _update_flags(cx: Cursor, updates: Sequence[tuple[bool, bool, int]]) -> None:
    if updates:
        cx.execute("UPDATE entries e SET is_first = u.f, is_last = u.l FROM unnest("
                   "%s::bool[], %s::bool[], %s::int8[]) AS u(f, l, seq) WHERE e.seq = u.seq",
                   ([u[0] for u in updates], [u[1] for u in updates], [u[2] for u in updates]))


class _Bulk:
    """:class:`thiqa.store.BulkWriter` on PostgreSQL: one transaction per ``commit_every``."""

    def __init__(self, store: PostgresStore, collection_pk: int, commit_every: int,
                 origin: Origin) -> None:
        self.store = store
        self.pk = collection_pk
        self.origin = origin
        self.commit_every = max(1, commit_every)
        self.pending = 0
        self.open = False

    def add(self, items: Sequence[NewVersion], now_us: int) -> list[Outcome]:
        if not items:
            return []
        if not self.open:
            self.store._lock.acquire()
            try:
                cur = self.store._writer_cx().cursor()
                cur.execute("SELECT pg_advisory_xact_lock" + LOCK_ARGS, (WRITE_LOCK,))
            except psycopg.Error as exc:
                _rollback(self.store._writer)
                self.store._lock.release()
                raise StoreError(f"cannot start a write: {exc}") from exc
            except BaseException:
                self.store._lock.release()
                raise
            self.open = True
        cx = self.store._writer.cursor()
        try:
            outcomes = _Writer(cx, self.pk, now_us, self.origin).add(items)
        except pg_errors.IntegrityError as exc:
            self.abort()
            raise Conflict(_message(exc)) from exc
        except psycopg.DataError as exc:
            self.abort()
            raise _bad_value(exc) from exc
        except psycopg.Error as exc:
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
            self.store._writer.commit()
        except psycopg.Error as exc:
            self.abort()
            raise StoreError(f"write failed and was rolled back: {exc}") from exc
        self._release()

    def abort(self) -> None:
        if self.open:
            _rollback(self.store._writer)
            self._release()

    def _release(self) -> None:
        self.open = False
        self.pending = 0
        self.store._lock.release()


def _insert_collection(cx: Cursor, c: Collection) -> Collection:
    cx.execute("INSERT INTO collections (id, alias, title, description, created_us, "
               "community_pk) VALUES (%s, %s, %s, %s, %s, %s) RETURNING pk",
               (c.id, c.alias, c.title, c.description, c.created_us, c.community_pk))
    row = cx.fetchone()
    assert row is not None
    return Collection(int(row[0]), c.id, c.title, c.description, c.alias, c.created_us,
                      c.community_pk)


def _conditions(q: ObjectQuery) -> tuple[list[str], list[Any]]:
    """WHERE terms shared by every read: collection, visibility, versions, spec_version,
    position."""
    conds = ["e.collection_pk = %s"]
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
            if vis.everything:
                terms.append(f"e.{flag}")
                continue
            other, other_params = _visible(Visibility(
                tlp_below=vis.tlp_below, originator=vis.originator, recipient=vis.recipient),
                "o")
            terms.append(f"(e.{flag} OR NOT EXISTS (SELECT 1 FROM entries o WHERE "
                         "o.object_id = e.object_id AND o.collection_pk = e.collection_pk AND "
                         f"o.vkey {cmp} e.vkey AND {other}))")
            params.extend(other_params)
        if v.keys:
            terms.append("e.vkey = ANY(%s)")
            params.append(list(v.keys))
        conds.append("(" + " OR ".join(terms) + ")" if terms else "FALSE")
    if q.spec_versions:
        conds.append("e.spec_version = ANY(%s)")
        params.append(list(q.spec_versions))
    # date_added is strictly increasing with seq (see _Writer), so a position is a date.
    after = max(q.added_after or -1, q.after.date_added if q.after else -1)
    if after >= 0:
        conds.append("e.date_added > %s")
        params.append(after)
    return conds, params


class _Writer:
    """One add_versions transaction: dedupe, assign dates, keep first/last flags, stamp
    each entry with its originator and handling (see :class:`thiqa.store.sqlite._Writer`,
    whose decisions this repeats). Runs under the write lock (:class:`PostgresStore`).
    """

    def __init__(self, cx: Cursor, collection_pk: int, now_us: int, origin: Origin) -> None:
        self.cx = cx
        self.pk = collection_pk
        self.origin = origin
        row = cx.execute("SELECT last_added FROM clock").fetchone()
        assert row is not None
        self.next_added = max(now_us, int(row[0]) + 1)

    def add(self, items: Sequence[NewVersion]) -> list[Outcome]:
        ids = list({it.id for it in items})
        shared: dict[tuple[str, str, bytes], int] = {}  # (id, vkey, digest) -> vid, any collection
        here: dict[tuple[str, str], int] = {}           # (id, vkey) -> vid seen in this collection
        unversioned: dict[str, tuple[str, str]] = {}    # id -> (vkey, version) seen here
        held: dict[str, list[heads.Held]] = defaultdict(list)
        foreign: dict[tuple[str, str], list[tuple[int, Held]]] = defaultdict(list)
        seen_sql, seen_params = _visible(self.origin.sees, "e")
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            # Every collection's entries of these ids: the versions they hold are the
            # versions of these ids on the node (see migration 0003).
            for (seq, cpk, oid, vkey, vid, first, last, version, digest, originator, tlp, pap,
                 control, community_pk, seen) in self.cx.execute(
                    "SELECT e.seq, e.collection_pk, e.object_id, e.vkey, e.vid, e.is_first, "
                    "e.is_last, v.version, v.digest, e.originator, e.tlp, e.pap, "
                    f"e.originator_control, c.community_pk, {seen_sql or 'TRUE'} FROM entries e "
                    "JOIN versions v ON v.vid = e.vid JOIN collections c ON c.pk = "
                    "e.collection_pk WHERE e.object_id = ANY(%s)",
                    [*seen_params, chunk]):
                shared[(oid, vkey, bytes(digest))] = vid
                if cpk == self.pk:
                    held[oid].append(heads.Held(seq, vkey, first, last))
                    if seen:
                        here[(oid, vkey)] = vid
                        unversioned.setdefault(oid, (vkey, version))
                if seen and originator != self.origin.originator:
                    foreign[(oid, vkey)].append((seq, Held(
                        cpk, community_pk, originator,
                        Handling(Tlp(tlp), Pap(pap), control))))
        recipients = self._recipients(foreign)

        created: dict[int, bytes] = {}  # bodies of the versions this batch creates, by vid
        version_rows: list[list[Any]] = []
        entry_rows: list[tuple[NewVersion, int, str, int, Stamp]] = []
        stamps: dict[Marks, Stamp] = {}
        outcomes: list[Outcome] = []
        # Version ids are drawn below, once their number is known; until then a new
        # version is known by a negative placeholder.
        placeholder = 0
        for it in items:
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
                placeholder -= 1
                vid = placeholder
                version_rows.append([vid, it.id, vkey, digest, version, it.type,
                                     it.spec_version, it.body])
                shared[(it.id, vkey, digest)] = vid
                created[vid] = it.body
            here[key] = vid
            entry_rows.append((it, vid, vkey, self.next_added, stamp))
            self.next_added += 1
            outcomes.append(Outcome(it.id, version, True))

        if not entry_rows:
            return outcomes
        flags, updates = heads.plan(held, [(row[0].id, row[2]) for row in entry_rows])
        first_vid = self._draw("versions_vid_seq", len(version_rows))
        for row in version_rows:
            row[0] = first_vid - 1 - row[0]  # placeholder -1, -2, ... -> first_vid, +1, ...
        _copy(self.cx, "versions", _VERSION_COLS, _VERSION_TYPES, version_rows)
        seq = self._draw("entries_seq_seq", len(entry_rows))
        rows: list[tuple[Any, ...]] = []
        red: list[tuple[int, str]] = []
        levels: dict[Handling, tuple[int, int, bool]] = {}
        for (it, vid, vkey, added, stamp), (first, last) in zip(entry_rows, flags, strict=True):
            h = stamp.handling
            level = levels.get(h)
            if level is None:
                level = levels[h] = (int(h.tlp), int(h.pap), bool(h.originator_control))
            rows.append((seq, self.pk, vid if vid > 0 else first_vid - 1 - vid, it.id, it.type,
                         vkey, it.spec_version, added, first, last, stamp.originator, *level))
            red.extend((seq, org) for org in h.recipients)
            seq += 1
        _copy(self.cx, "entries", _ENTRY_COLS, _ENTRY_TYPES, rows)
        _copy(self.cx, "red_recipients", ("seq", "org_id"), ("int8", "text"), red)
        _update_flags(self.cx, updates)
        self.cx.execute("UPDATE clock SET last_added = %s", (self.next_added - 1,))
        return outcomes

    def _draw(self, sequence: str, n: int) -> int:
        """The first of ``n`` consecutive values of ``sequence`` (consecutive because
        every writer draws under the write lock)."""
        if n == 0:
            return 0
        row = self.cx.execute("SELECT setval(%s, nextval(%s) + %s - 1)",
                              (sequence, sequence, n)).fetchone()
        assert row is not None
        return int(row[0]) - n + 1

    def _recipients(self, foreign: dict[tuple[str, str], list[tuple[int, Held]]]
                    ) -> dict[int, tuple[str, ...]]:
        """The named recipients of the RED versions among ``foreign``, by entry seq."""
        seqs = [seq for found in foreign.values() for seq, h in found
                if h.handling.tlp is Tlp.RED]
        out: dict[int, list[str]] = defaultdict(list)
        if seqs:
            for seq, org in self.cx.execute("SELECT seq, org_id FROM red_recipients WHERE "
                                            "seq = ANY(%s)", (seqs,)):
                out[seq].append(org)
        return {seq: tuple(orgs) for seq, orgs in out.items()}

    def _body(self, vid: int) -> bytes:
        row = self.cx.execute("SELECT body FROM versions WHERE vid = %s", (vid,)).fetchone()
        assert row is not None
        return bytes(row[0])


def _copy(cx: Cursor, table: str, cols: Sequence[str], types: Sequence[str],
          rows: Sequence[Sequence[Any]]) -> None:
    """Insert ``rows`` with one binary COPY (psycopg encodes the rows in C)."""
    if not rows:
        return
    with cx.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(list(types))
        for row in rows:
            copy.write_row(row)


def _with_recipients(h: Held, recipients: tuple[str, ...] | None) -> Held:
    if not recipients:
        return h
    x = h.handling
    return Held(h.collection_pk, h.community_pk, h.originator,
                Handling(x.tlp, x.pap, x.originator_control, recipients))


def _visible(vis: Visibility, e: str) -> tuple[str | None, list[Any]]:
    """The WHERE condition on entry alias ``e`` that :class:`Visibility` describes, or
    None when it admits every entry. A literal translation: the policy decided."""
    conds: list[str] = []
    params: list[Any] = []
    if vis.collections is not None:
        if not vis.collections:
            return "FALSE", []
        conds.append(f"{e}.collection_pk = ANY(%s)")
        params.append(sorted(vis.collections))
    if not vis.everything:
        alternatives = []
        if vis.tlp_below > 0:
            alternatives.append(f"{e}.tlp < %s")
            params.append(vis.tlp_below)
        if vis.originator is not None:
            alternatives.append(f"{e}.originator = %s")
            params.append(vis.originator)
        if vis.recipient is not None:
            alternatives.append(f"EXISTS (SELECT 1 FROM red_recipients r WHERE r.seq = {e}.seq "
                                "AND r.org_id = %s)")
            params.append(vis.recipient)
        conds.append("(" + " OR ".join(alternatives) + ")" if alternatives else "FALSE")
    return (" AND ".join(conds) if conds else None), params
