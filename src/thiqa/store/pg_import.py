"""Copy a node's SQLite store into an empty PostgreSQL store (``thiqa migrate``).

Everything the node holds moves with its identity: organisations, keys (their hashes),
collections, grants, communities and members, versions, entries with their ``seq``
and ``date_added`` (so TAXII cursors and ``added_after`` positions stay valid), RED
recipients, statuses, metadata, releases and the audit log. One transaction under the
store's write lock: the target holds all of it or, on any error, nothing. Afterwards
every table is read back from PostgreSQL and compared with the source by row count
and a checksum over its rows in key order (values normalised: booleans as integers,
bytes as hex).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from thiqa.audit import AuditQuery
from thiqa.errors import Conflict, StoreError
from thiqa.store.postgres import PostgresStore
from thiqa.store.postgres_sql import Cursor

# (table, columns, key order), parents before children (PostgreSQL checks the foreign
# keys of the administrative tables).
TABLES: tuple[tuple[str, str, str], ...] = (
    ("orgs", "id, name, created_us", "id"),
    ("api_keys", "id, org_id, role, label, secret_hash, created_us, revoked_us", "id"),
    ("communities", "pk, id, kind, name, description, created_us, pair, default_tlp, "
                    "default_pap", "pk"),
    ("collections", "pk, id, alias, title, description, created_us, community_pk, public",
     "pk"),
    ("grants", "collection_pk, org_id, can_read, can_write", "collection_pk, org_id"),
    ("community_members", "community_pk, org_id, role, joined_us", "community_pk, org_id"),
    ("versions", "vid, object_id, vkey, digest, version, type, spec_version, body", "vid"),
    ("entries", "seq, collection_pk, vid, object_id, type, vkey, spec_version, date_added, "
                "is_first, is_last, originator, tlp, pap, originator_control", "seq"),
    ("red_recipients", "seq, org_id", "seq, org_id"),
    ("statuses", "id, collection_pk, org_id, request_us, total, details", "id"),
    ("meta", "key, value", "key"),
    ("releases", "id, object_id, requester, originator, collection_pk, reason, state, "
                 "created_us, decided_us, grant_record, signature, signer", "id"),
    ("signing_batches", "pk, node_id, org_id, key, signed_us, root, signature, leaves", "pk"),
    ("provenance", "vid, batch_pk, leaf, received", "vid"),
    ("trusted_keys", "fingerprint, public_key, node_id, orgs, name, pinned_us, valid_from_us, "
                     "valid_until_us, revoked_us, replaced_by, tls_fingerprint", "fingerprint"),
    ("node_keys", "fingerprint, public_key, created_us, retired_us, rotation", "fingerprint"),
    ("events", "seq, kind, collection_pk, object_id, type, version, spec_version, time_us, "
               "originator, tlp, body", "seq"),
    ("webhooks", "id, org_id, collection_pk, url, secret, created_us, cursor, delivered, "
                 "last_success_us, last_error, last_error_us, failures, next_attempt_us", "id"),
    ("alerts", "pk, id, org_id, kind, dedup, created, value, family, normalised, score, body, "
               "state, acked_by, acked_at", "pk"),
    ("observers", "pk, org_id", "pk"),
    ("observations", "key, observer, value, family, kind, first_seen, last_seen, count",
     "key, observer, value"),
    ("peers", "id, url, org_id, api_key, key_fingerprint, tls_fingerprint, mode, created_us",
     "id"),
    ("peer_maps", "peer_id, collection_pk, remote", "peer_id, collection_pk"),
    ("peer_links", "peer_id, collection_pk, direction, remote, cursor, catchup_head, "
                   "catchup_after, transferred, rejected, withdrawn, last_success_us, "
                   "synced_us, last_error, last_error_us, failures",
     "peer_id, collection_pk, direction"),
    ("tombstones", "digest, object_id, vkey, what, originator, node_id, time_us, peer, "
                   "stored_us, body", "digest"),
)
# Not copied: what the node rebuilds from the entries (the observable index, sightings
# counts and the hunter's mark start again from 0, as on a new node).
AUDIT = ("audit_events", "seq, at_us, org_id, key_id, action, outcome, collection, detail, "
         "objects", "seq")
# Sequences that must continue after the copied values.
SEQUENCES = (("collections", "pk"), ("communities", "pk"), ("versions", "vid"),
             ("audit_events", "seq"), ("signing_batches", "pk"), ("alerts", "pk"),
             ("observers", "pk"))
_FETCH = 10_000
# Integer key columns; text keys are ordered byte-wise on both sides (COLLATE "C" is
# SQLite's order), whatever the database's collation.
_INT_KEYS = frozenset({"pk", "seq", "vid", "collection_pk", "community_pk", "key",
                       "observer"})


def _pg_order(key: str) -> str:
    return ", ".join(c if c in _INT_KEYS else f'{c} COLLATE "C"'
                     for c in (k.strip() for k in key.split(",")))


@dataclass(frozen=True)
class Copied:
    table: str
    rows: int
    checksum: str


def migrate(source: Path, target: PostgresStore) -> list[Copied]:
    """Copy the SQLite store at ``source`` (and ``audit.db`` beside it) into ``target``,
    which must hold no organisation and no entry; returns what was copied, verified."""
    if not source.exists():
        raise StoreError(f"no SQLite store at {source}")
    target.audit(AuditQuery(limit=1))  # creates the audit table if it is not there yet
    held = target._read("SELECT EXISTS (SELECT 1 FROM orgs) OR EXISTS (SELECT 1 FROM "
                        "collections) OR EXISTS (SELECT 1 FROM audit_events)")[0][0]
    if held:
        raise Conflict("the PostgreSQL database already holds a node; migrate into an "
                       "empty database (or schema)")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    audit_path = source.with_name("audit.db")
    audit_src = sqlite3.connect(f"file:{audit_path}?mode=ro", uri=True) \
        if audit_path.exists() else None
    try:
        copied: list[Copied] = []
        with target._tx() as cur:
            for table, cols, key in TABLES:
                rows = _sqlite_rows(src, f"SELECT {cols} FROM {table} ORDER BY {key}")
                if table == "alerts":  # the dedup key holds NUL: BYTEA on PostgreSQL
                    rows = (_alert_row(r) for r in rows)
                copied.append(_copy(cur, table, cols, rows))
            if audit_src is not None:
                rows = (_audit_row(r) for r in _sqlite_rows(
                    audit_src, "SELECT seq, at_us, org_id, key_id, action, outcome, collection, "
                    "detail, objects FROM events ORDER BY seq"))
                copied.append(_copy(cur, AUDIT[0], AUDIT[1], rows))
            clock = src.execute("SELECT last_added FROM clock").fetchone()[0]
            cur.execute("UPDATE clock SET last_added = %s", (clock,))
            # The node sequence (entries, tombstones, alerts) goes on after the highest
            # value SQLite handed out, and the event log's head is there.
            head = src.execute(
                "SELECT max(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'entries'), "
                "0), COALESCE((SELECT MAX(seq) FROM entries), 0), "
                "COALESCE((SELECT MAX(seq) FROM events), 0))").fetchone()[0]
            cur.execute("UPDATE clock SET head = %s", (head,))
            cur.execute("SELECT setval('entries_seq_seq', %s + 1, false)", (head,))
            for table, col in SEQUENCES:
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{col}'), "
                            f"COALESCE((SELECT MAX({col}) FROM {table}), 0) + 1, false)")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read the SQLite store {source}: {exc}") from exc
    finally:
        src.close()
        if audit_src is not None:
            audit_src.close()
    _verify(target, copied)
    return copied


def _sqlite_rows(cx: sqlite3.Connection, sql: str) -> Iterator[Sequence[Any]]:
    cur = cx.execute(sql)
    while batch := cur.fetchmany(_FETCH):
        yield from batch


def _alert_row(row: Sequence[Any]) -> tuple[Any, ...]:
    dedup = row[4]
    return (*row[:4], dedup.encode() if isinstance(dedup, str) else dedup, *row[5:])


def _audit_row(row: Sequence[Any]) -> tuple[Any, ...]:
    return (*row[:8], orjson.loads(row[8]))


def _normal(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return value


def _digest(rows: Iterable[Sequence[Any]], into: Any) -> int:
    n = 0
    for row in rows:
        into.update(orjson.dumps([_normal(v) for v in row]))
        n += 1
    return n


def _copy(cur: Cursor, table: str, cols: str, rows: Iterable[Sequence[Any]]) -> Copied:
    """COPY ``rows`` into ``table`` (text format: PostgreSQL reads SQLite's 0/1 as
    booleans), hashing them on the way."""
    h = hashlib.blake2b(digest_size=16)
    n = 0
    with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
        for row in rows:
            h.update(orjson.dumps([_normal(v) for v in row]))
            copy.write_row(row)
            n += 1
    return Copied(table, n, h.hexdigest())


def _verify(target: PostgresStore, copied: Sequence[Copied]) -> None:
    keys = {t: (cols, key) for t, cols, key in (*TABLES, AUDIT)}
    with target._reader() as cx:
        for c in copied:
            cols, key = keys[c.table]
            h = hashlib.blake2b(digest_size=16)
            cur = cx.cursor(name=f"verify_{c.table}")  # server-side: streams large tables
            with cx.transaction():
                cur.execute(f"SELECT {cols} FROM {c.table} ORDER BY {_pg_order(key)}")
                n = _digest(_fetch(cur), h)
                cur.close()
            if n != c.rows or h.hexdigest() != c.checksum:
                raise StoreError(f"verification failed for {c.table}: copied {c.rows} rows "
                                 f"({c.checksum}), read back {n} ({h.hexdigest()})")


def _fetch(cur: Any) -> Iterator[Sequence[Any]]:
    while batch := cur.fetchmany(_FETCH):
        yield from batch
