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
before it started), never the writer's. Bulk inserts go through binary ``COPY``. The
write path (:class:`thiqa.store.postgres_write.Writer`) and the translation of queries
and :class:`Visibility` into SQL (:mod:`thiqa.store.postgres_sql`) are modules of their
own, beside sqlite.py's ``_Writer``, ``_conditions`` and ``_visible``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
import psycopg
from psycopg import errors as pg_errors

from thiqa.audit import AuditQuery, Event
from thiqa.errors import BadRequest, Conflict, StoreError
from thiqa.handling import Pap, Tlp
from thiqa.store import BulkWriter, heads
from thiqa.store.model import (
    EVERYTHING,
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
    Record,
    Release,
    ReleaseState,
    Status,
    Versions,
    Visibility,
)
from thiqa.store.pg_schema import LOCK_ARGS, WRITE_LOCK, migrate
from thiqa.store.postgres_audit import PostgresAuditLog
from thiqa.store.postgres_provenance import ProvenanceTables
from thiqa.store.postgres_sql import Cursor, conditions, update_flags
from thiqa.store.postgres_write import Writer

Connection = psycopg.Connection[tuple[Any, ...]]

# Above this many match values a union of per-value index scans costs more than it saves.
_UNION_MAX = 64
# Idle read connections kept open; more are opened under load and closed after use.
_POOL_IDLE = 8


def _community(row: Sequence[Any]) -> Community:
    pk, cid, kind, name, description, created_us, tlp, pap = row
    return Community(pk, cid, kind, name, description, created_us,
                     None if tlp is None else Tlp(tlp), None if pap is None else Pap(pap))


SYSTEM = Origin("")


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the PostgreSQL database"
    host, db = info.get("host", "localhost"), info.get("dbname", "")
    return f"postgresql://{info.get('user', '')}@{host}:{info.get('port', 5432)}/{db}"


class PostgresStore(ProvenanceTables):
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
            # The writer's statements are short and indexed; on tables never analysed
            # (a load into a new node) the planner launched parallel workers and JIT for
            # the lookup of held ids, which cost more than the lookup on 2 cores.
            cx.execute("SET jit = off; SET max_parallel_workers_per_gather = 0")
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
    _COLL_COLS = "pk, id, title, description, alias, created_us, community_pk, public"

    def add_collection(self, collection: Collection) -> Collection:
        with self._tx() as cx:
            return _insert_collection(cx, collection)

    def get_collection(self, ref: str) -> Collection | None:
        rows = self._read(f"SELECT {self._COLL_COLS} FROM collections WHERE id = %s OR "
                          "alias = %s", (ref, ref))
        return _collection(rows[0]) if rows else None

    def list_collections(self) -> list[Collection]:
        rows = self._read(f"SELECT {self._COLL_COLS} FROM collections ORDER BY pk")
        return [_collection(r) for r in rows]

    def set_public(self, collection_pk: int, public: bool) -> None:
        with self._tx() as cx:
            cx.execute("UPDATE collections SET public = %s WHERE pk = %s",
                       (public, collection_pk))

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
        return [_collection(r) for r in rows]

    # -- object versions --------------------------------------------------------------
    def add_versions(self, collection_pk: int, items: Sequence[NewVersion],
                     now_us: int, origin: Origin = SYSTEM,
                     provenance: Provenance | None = None) -> list[Outcome]:
        if not items:
            return []
        with self._tx() as cx:
            return Writer(cx, collection_pk, now_us, origin).add(items, provenance)

    def query(self, q: ObjectQuery, *, bodies: bool = True) -> Page:
        conds, params = conditions(q)
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
            if len(values) == 1:
                # "= %s", not "= ANY(%s)": with an array the planner cannot tell that
                # the (collection, type, date_added) index yields date order, so it
                # read and sorted every match (a page of match[type]=indicator at 1M:
                # 1.2 s instead of 0.4 ms).
                where += f" AND {split_col} = %s"
                params.append(values[0])
            elif values:  # more than _UNION_MAX
                where += f" AND {split_col} = ANY(%s)"
                params.append(list(values))
            sql = (f"SELECT {cols} FROM entries e JOIN versions v ON v.vid = e.vid "
                   f"WHERE {where} ORDER BY e.date_added LIMIT {n}")
            rows = self._read(sql, params)
        more = len(rows) > q.limit
        return Page([Record(*r) for r in rows[: q.limit]], more)

    def delete_versions(self, collection_pk: int, object_id: str, versions: Versions,
                        spec_versions: tuple[str, ...] = (),
                        visibility: Visibility = EVERYTHING, reason: str = "delete") -> int:
        q = ObjectQuery(collection_pk, ids=(object_id,), versions=versions,
                        spec_versions=spec_versions, visibility=visibility)
        conds, params = conditions(q)
        conds.append("e.object_id = %s")
        params.append(object_id)
        with self._tx() as cx:
            doomed = cx.execute(f"SELECT e.seq, e.vid FROM entries e WHERE "
                                f"{' AND '.join(conds)}", params).fetchall()
            if not doomed:
                return 0
            seqs = [d[0] for d in doomed]
            row = cx.execute("SELECT head FROM clock").fetchone()
            assert row is not None
            # Each deleted entry leaves a tombstone in the event log (trigger, 0008).
            cx.execute("DELETE FROM entries WHERE seq = ANY(%s)", (seqs,))
            if reason != "delete":
                cx.execute("UPDATE events SET kind = %s WHERE seq > %s", (reason, row[0]))
            cx.execute("DELETE FROM red_recipients WHERE seq = ANY(%s)", (seqs,))
            left = [heads.Held(r[0], r[1], bool(r[2]), bool(r[3])) for r in cx.execute(
                "SELECT seq, vkey, is_first, is_last FROM entries WHERE object_id = %s "
                "AND collection_pk = %s", (object_id, collection_pk))]
            _, updates = heads.plan({object_id: left}, [])
            update_flags(cx, updates)
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

    def meta_default(self, key: str, value: str) -> str:
        with self._tx() as cx:
            cx.execute("INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO NOTHING",
                       (key, value))
            row = cx.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
            assert row is not None
            return str(row[0])


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

    def add(self, items: Sequence[NewVersion], now_us: int,
            provenance: Provenance | None = None) -> list[Outcome]:
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
            outcomes = Writer(cx, self.pk, now_us, self.origin).add(items, provenance)
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


def _collection(row: Sequence[Any]) -> Collection:
    pk, cid, title, description, alias, created_us, community_pk, public = row
    return Collection(pk, cid, title, description, alias, created_us, community_pk,
                      bool(public))


def _insert_collection(cx: Cursor, c: Collection) -> Collection:
    cx.execute("INSERT INTO collections (id, alias, title, description, created_us, "
               "community_pk, public) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING pk",
               (c.id, c.alias, c.title, c.description, c.created_us, c.community_pk,
                c.public))
    row = cx.fetchone()
    assert row is not None
    return Collection(int(row[0]), c.id, c.title, c.description, c.alias, c.created_us,
                      c.community_pk, c.public)
