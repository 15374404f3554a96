"""The PostgreSQL tables of signing, provenance and trust (pg_migrations/0007).

A mixin of :class:`thiqa.store.postgres.PostgresStore` (which provides ``_tx`` and
``_read``), beside sqlite_provenance.py method for method: the same rows and meaning,
in PostgreSQL's SQL (``ON CONFLICT`` for SQLite's ``INSERT OR REPLACE``, arrays for
lists).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import orjson

from thiqa.store.model import Provenance, SignedBatch, StoredProvenance, TrustedKey
from thiqa.store.postgres_sql import Cursor, copy_rows


def record_provenance(cx: Cursor, provenance: Provenance,
                      vouched: Sequence[tuple[int, int]]) -> None:
    """Within a write's transaction: the provenance of the new version bodies
    ``vouched`` ((vid, index of the write's item)); each vid is one the write created."""
    b = provenance.signed
    if b is not None:
        row = cx.execute("INSERT INTO signing_batches (node_id, org_id, key, signed_us, root, "
                         "signature, leaves) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING pk",
                         (b.node_id, b.org_id, b.key, b.signed_us, b.root, b.signature,
                          b.leaves)).fetchone()
        assert row is not None
        batch = int(row[0])
        # One COPY per batch: a statement per row (executemany) cost the server a parse
        # and a plan each, about half a bulk load's database time, and arrays for an
        # unnest are dumped element by element in Python. The vids are the write's new
        # versions, drawn from a sequence: no row of theirs can exist yet.
        copy_rows(cx, "provenance", ("vid", "batch_pk", "leaf"), ("int8", "int8", "int4"),
                  [(vid, batch, index) for vid, index in vouched])
    elif provenance.received:
        got = provenance.received
        copy_rows(cx, "provenance", ("vid", "received"), ("int8", "bytea"),
                  [(vid, got[index]) for vid, index in vouched])


def _key(row: Sequence[Any]) -> TrustedKey:
    fp, public, node, orgs, name, pinned, vfrom, vuntil, revoked, replaced, tls = row
    return TrustedKey(fp, public, node, tuple(orjson.loads(orgs)), name, pinned, vfrom, vuntil,
                      revoked, replaced, tls)


class ProvenanceTables:
    _TK_COLS = ("fingerprint, public_key, node_id, orgs, name, pinned_us, valid_from_us, "
                "valid_until_us, revoked_us, replaced_by, tls_fingerprint")

    # Provided by PostgresStore.
    def _tx(self) -> AbstractContextManager[Cursor]:
        raise NotImplementedError

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    def provenance(self, seqs: Sequence[int]) -> dict[int, StoredProvenance]:
        out: dict[int, StoredProvenance] = {}
        if not seqs:
            return out
        for seq, batch, leaf, received in self._read(
                "SELECT e.seq, p.batch_pk, p.leaf, p.received FROM entries e JOIN "
                "provenance p ON p.vid = e.vid WHERE e.seq = ANY(%s)", (list(seqs),)):
            out[seq] = StoredProvenance(batch, leaf,
                                        None if received is None else bytes(received))
        return out

    def signing_batch(self, pk: int) -> SignedBatch | None:
        rows = self._read("SELECT node_id, org_id, key, signed_us, root, signature, leaves "
                          "FROM signing_batches WHERE pk = %s", (pk,))
        if not rows:
            return None
        node, org, key, signed, root, signature, leaves = rows[0]
        return SignedBatch(node, org, key, signed, bytes(root), signature, bytes(leaves))

    def pin_key(self, key: TrustedKey) -> None:
        with self._tx() as cx:
            _pin(cx, key)

    def trusted_keys(self, node_id: str | None = None) -> list[TrustedKey]:
        if node_id is None:
            rows = self._read(f"SELECT {self._TK_COLS} FROM trusted_keys ORDER BY pinned_us, "
                              "fingerprint")
        else:
            rows = self._read(f"SELECT {self._TK_COLS} FROM trusted_keys WHERE node_id = %s "
                              "ORDER BY pinned_us, fingerprint", (node_id,))
        return [_key(r) for r in rows]

    def trusted_key(self, fingerprint: str) -> TrustedKey | None:
        rows = self._read(f"SELECT {self._TK_COLS} FROM trusted_keys WHERE fingerprint = %s",
                          (fingerprint,))
        return _key(rows[0]) if rows else None

    def revoke_trusted_key(self, fingerprint: str, when_us: int) -> bool:
        with self._tx() as cx:
            cx.execute("UPDATE trusted_keys SET revoked_us = %s WHERE fingerprint = %s AND "
                       "revoked_us IS NULL", (when_us, fingerprint))
            return cx.rowcount > 0

    def rotate_trusted_key(self, old: str, until_us: int, new: TrustedKey) -> None:
        with self._tx() as cx:
            cx.execute("UPDATE trusted_keys SET valid_until_us = %s, replaced_by = %s WHERE "
                       "fingerprint = %s", (until_us, new.fingerprint, old))
            _pin(cx, new)

    def node_keys(self) -> list[tuple[str, str, int, int | None, bytes | None]]:
        rows = self._read("SELECT fingerprint, public_key, created_us, retired_us, rotation "
                          "FROM node_keys ORDER BY created_us, fingerprint")
        return [(fp, pub, created, retired, None if rot is None else bytes(rot))
                for fp, pub, created, retired, rot in rows]

    def add_node_key(self, fingerprint: str, public_key: str, created_us: int) -> None:
        with self._tx() as cx:
            cx.execute("INSERT INTO node_keys (fingerprint, public_key, created_us) "
                       "VALUES (%s, %s, %s) ON CONFLICT (fingerprint) DO NOTHING",
                       (fingerprint, public_key, created_us))

    def retire_node_key(self, fingerprint: str, retired_us: int, rotation: bytes) -> None:
        with self._tx() as cx:
            cx.execute("UPDATE node_keys SET retired_us = %s, rotation = %s WHERE "
                       "fingerprint = %s", (retired_us, rotation, fingerprint))


def _pin(cx: Cursor, k: TrustedKey) -> None:
    cx.execute(f"INSERT INTO trusted_keys ({ProvenanceTables._TK_COLS}) VALUES "
               "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (fingerprint) DO "
               "UPDATE SET public_key = excluded.public_key, node_id = excluded.node_id, "
               "orgs = excluded.orgs, name = excluded.name, pinned_us = excluded.pinned_us, "
               "valid_from_us = excluded.valid_from_us, valid_until_us = "
               "excluded.valid_until_us, revoked_us = excluded.revoked_us, replaced_by = "
               "excluded.replaced_by, tls_fingerprint = excluded.tls_fingerprint",
               (k.fingerprint, k.public_key, k.node_id, orjson.dumps(list(k.orgs)).decode(),
                k.name, k.pinned_us, k.valid_from_us, k.valid_until_us, k.revoked_us,
                k.replaced_by, k.tls_fingerprint))


__all__ = ["ProvenanceTables", "record_provenance"]
