"""What pull, push and the peer endpoints share: which versions a collection lacks and
the exported form of named versions (tombstones: :mod:`thiqa.federation.tombstones`).

A version is identified by (object id, version); versions are compared by their
precision-independent key (:func:`thiqa.timestamps.version_key`). A collection
**lacks** a version when it neither holds it nor withdrew it: a version deleted or
retracted here is never downloaded again, so a peer that has not heard of the
withdrawal yet cannot bring it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from thiqa.auth import Principal
from thiqa.errors import BadRequest
from thiqa.federation.export import Encoded, Trees, attach_provenance, encoded_answer
from thiqa.federation.peers import sql_for
from thiqa.store.model import ObjectQuery, Page, Versions
from thiqa.store.sqlite import _marks
from thiqa.timestamps import version_key

if TYPE_CHECKING:
    from thiqa.node import Node

Pair = tuple[str, str]  # (object id, version key)
FETCH_MOST = 1000       # versions named in one fetch
_CHUNK = 400


def pair(object_id: Any, version: Any) -> Pair:
    """A (id, version key) pair from wire values, or BadRequest."""
    if not isinstance(object_id, str) or "--" not in object_id or not isinstance(version, str):
        raise BadRequest("a version is named by [object id, version]: strings, the id "
                         "with '--'")
    try:
        return object_id, version_key(version)
    except ValueError as exc:
        raise BadRequest(f"{object_id}: {exc}") from None


def lacking(node: Node, collection_pk: int, pairs: Sequence[tuple[str, str]]) -> list[int]:
    """The indexes of ``pairs`` (id, version text) that the collection lacks."""
    keys: list[Pair] = []
    for oid, version in pairs:
        try:
            keys.append((oid, version_key(version)))
        except ValueError:
            keys.append((oid, version))
    have: set[Pair] = set()
    store: Any = node.store  # SQLiteStore or PostgresStore: _read
    q = sql_for(store)
    ids = sorted({k[0] for k in keys})
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = _marks(len(chunk))
        have.update((str(o), str(v)) for o, v in store._read(q(
            f"SELECT object_id, vkey FROM entries WHERE collection_pk = ? AND object_id IN "
            f"({marks})"), [collection_pk, *chunk]))
        for o, v in store._read(q(
                "SELECT object_id, version FROM events WHERE collection_pk = ? AND kind IN "
                f"('delete', 'retract') AND object_id IN ({marks})"), [collection_pk, *chunk]):
            try:
                have.add((str(o), version_key(str(v))))
            except ValueError:
                continue
    out: list[int] = []
    wanted: set[Pair] = set()
    for i, k in enumerate(keys):
        if k not in have and k not in wanted:
            wanted.add(k)
            out.append(i)
    return out


def fetch(node: Node, who: Principal, ref: str, pairs: Sequence[Pair],
          trees: Trees | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """The named versions of ``ref`` that ``who`` may read, with their provenance, and
    the ids of those among them that cannot be vouched for (no signature). Read
    through :meth:`Node.read`: the one policy, audited. ``trees``: the batch trees
    kept between calls (:class:`thiqa.federation.export.Trees`)."""
    if not pairs:
        return [], []
    return attach_provenance(node, _named(node, who, ref, pairs), trees)


def fetch_answer(node: Node, who: Principal, ref: str, pairs: Sequence[Pair],
                 trees: Trees | None, encoded: Encoded) -> bytes:
    """:func:`fetch`'s answer as the JSON a peer receives, ``{"objects", "unsigned"}``,
    with the versions this node originated serialised once for every peer
    (:class:`thiqa.federation.export.Encoded`)."""
    return encoded_answer(node, _named(node, who, ref, pairs), trees, encoded)


def _named(node: Node, who: Principal, ref: str, pairs: Sequence[Pair]) -> Page:
    """The named versions of ``ref`` that ``who`` may read (:meth:`Node.read`)."""
    if len(pairs) > FETCH_MOST:
        raise BadRequest(f"a fetch names at most {FETCH_MOST} versions, not {len(pairs)}")
    if not pairs:
        return Page([], False)
    wanted = set(pairs)
    ids = tuple(sorted({p[0] for p in pairs}))
    keys = tuple(sorted({p[1] for p in pairs}))
    q = ObjectQuery(0, ids=ids, versions=Versions(keys=keys), limit=len(ids) * len(keys))
    page = node.read(who, ref, q, bodies=True)
    return Page([r for r in page.records if (r.id, version_key(r.version)) in wanted], False)


__all__ = ["FETCH_MOST", "fetch", "fetch_answer", "lacking", "pair"]
