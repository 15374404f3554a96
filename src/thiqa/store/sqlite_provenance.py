"""The SQLite tables of signing, provenance and trust (migration 0007).

A mixin of :class:`thiqa.store.sqlite.SQLiteStore` (which provides ``_tx`` and
``_read``), kept apart so the store module keeps to versions and entries.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import orjson

from thiqa.store.model import Provenance, SignedBatch, StoredProvenance, TrustedKey

_CHUNK = 500


def record_provenance(cx: sqlite3.Connection, provenance: Provenance,
                      vouched: Sequence[tuple[int, int]]) -> None:
    """Within a write's transaction: the provenance of the new version bodies
    ``vouched`` ((vid, index of the write's item))."""
    b = provenance.signed
    if b is not None:
        cur = cx.execute("INSERT INTO signing_batches (node_id, org_id, key, signed_us, root, "
                         "signature, leaves) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (b.node_id, b.org_id, b.key, b.signed_us, b.root, b.signature,
                          b.leaves))
        batch = cur.lastrowid
        cx.executemany("INSERT OR REPLACE INTO provenance (vid, batch_pk, leaf) VALUES (?, ?, ?)",
                       [(vid, batch, index) for vid, index in vouched])
    elif provenance.received:
        got = provenance.received
        cx.executemany("INSERT OR REPLACE INTO provenance (vid, received) VALUES (?, ?)",
                       [(vid, got[index]) for vid, index in vouched])


def _key(row: Sequence[Any]) -> TrustedKey:
    fp, public, node, orgs, name, pinned, vfrom, vuntil, revoked, replaced, tls = row
    return TrustedKey(fp, public, node, tuple(orjson.loads(orgs)), name, pinned, vfrom, vuntil,
                      revoked, replaced, tls)


class ProvenanceTables:
    _TK_COLS = ("fingerprint, public_key, node_id, orgs, name, pinned_us, valid_from_us, "
                "valid_until_us, revoked_us, replaced_by, tls_fingerprint")

    # Provided by SQLiteStore.
    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    def provenance(self, seqs: Sequence[int]) -> dict[int, StoredProvenance]:
        out: dict[int, StoredProvenance] = {}
        for i in range(0, len(seqs), _CHUNK):
            chunk = seqs[i : i + _CHUNK]
            for seq, batch, leaf, received in self._read(
                    "SELECT e.seq, p.batch_pk, p.leaf, p.received FROM entries e JOIN "
                    f"provenance p ON p.vid = e.vid WHERE e.seq IN ({','.join('?' * len(chunk))})",
                    chunk):
                out[seq] = StoredProvenance(batch, leaf,
                                            None if received is None else bytes(received))
        return out

    def signing_batch(self, pk: int) -> SignedBatch | None:
        rows = self._read("SELECT node_id, org_id, key, signed_us, root, signature, leaves "
                          "FROM signing_batches WHERE pk = ?", (pk,))
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
            rows = self._read(f"SELECT {self._TK_COLS} FROM trusted_keys WHERE node_id = ? "
                              "ORDER BY pinned_us, fingerprint", (node_id,))
        return [_key(r) for r in rows]

    def trusted_key(self, fingerprint: str) -> TrustedKey | None:
        rows = self._read(f"SELECT {self._TK_COLS} FROM trusted_keys WHERE fingerprint = ?",
                          (fingerprint,))
        return _key(rows[0]) if rows else None

    def revoke_trusted_key(self, fingerprint: str, when_us: int) -> bool:
        with self._tx() as cx:
            cur = cx.execute("UPDATE trusted_keys SET revoked_us = ? WHERE fingerprint = ? AND "
                             "revoked_us IS NULL", (when_us, fingerprint))
            return cur.rowcount > 0

    def rotate_trusted_key(self, old: str, until_us: int, new: TrustedKey) -> None:
        with self._tx() as cx:
            cx.execute("UPDATE trusted_keys SET valid_until_us = ?, replaced_by = ? WHERE "
                       "fingerprint = ?", (until_us, new.fingerprint, old))
            _pin(cx, new)

    def node_keys(self) -> list[tuple[str, str, int, int | None, bytes | None]]:
        rows = self._read("SELECT fingerprint, public_key, created_us, retired_us, rotation "
                          "FROM node_keys ORDER BY created_us, fingerprint")
        return [(fp, pub, created, retired, None if rot is None else bytes(rot))
                for fp, pub, created, retired, rot in rows]

    def add_node_key(self, fingerprint: str, public_key: str, created_us: int) -> None:
        with self._tx() as cx:
            cx.execute("INSERT OR IGNORE INTO node_keys (fingerprint, public_key, created_us) "
                       "VALUES (?, ?, ?)", (fingerprint, public_key, created_us))

    def retire_node_key(self, fingerprint: str, retired_us: int, rotation: bytes) -> None:
        with self._tx() as cx:
            cx.execute("UPDATE node_keys SET retired_us = ?, rotation = ? WHERE fingerprint = ?",
                       (retired_us, rotation, fingerprint))


def _pin(cx: sqlite3.Connection, k: TrustedKey) -> None:
    cx.execute("INSERT OR REPLACE INTO trusted_keys VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (k.fingerprint, k.public_key, k.node_id, orjson.dumps(list(k.orgs)).decode(),
                k.name, k.pinned_us, k.valid_from_us, k.valid_until_us, k.revoked_us,
                k.replaced_by, k.tls_fingerprint))


__all__ = ["ProvenanceTables", "record_provenance"]
