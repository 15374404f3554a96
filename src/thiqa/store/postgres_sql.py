"""The PostgreSQL store's SQL for reads: an :class:`ObjectQuery` and a
:class:`Visibility` as WHERE terms (a literal translation: :mod:`thiqa.policy`
decided), and, for writes, the first/last flag updates and binary COPY of rows.
sqlite.py's ``_conditions`` and ``_visible``, with arrays (``= ANY(%s)``) for lists."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from thiqa.handling import Tlp
from thiqa.store.model import ObjectQuery, Visibility

Cursor = psycopg.Cursor[tuple[Any, ...]]


def conditions(q: ObjectQuery) -> tuple[list[str], list[Any]]:
    """WHERE terms shared by every read: collection, visibility, versions, spec_version,
    position."""
    conds = ["e.collection_pk = %s"]
    params: list[Any] = [q.collection_pk]
    vis = q.visibility
    seen, seen_params = visible(vis, "e")
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
                terms.append(f"e.{flag}")
                continue
            # o is in e's collection: without open publication, the collection term of
            # the visibility is already decided and only the handling terms remain.
            other, other_params = visible(vis if vis.clear_in else Visibility(
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
    if q.text:
        # SQLite's instr(lower(body), ?): the body's text, case-folded, contains it.
        conds.append("strpos(lower(convert_from((SELECT t.body FROM versions t WHERE "
                     "t.vid = e.vid), 'UTF8')), %s) > 0")
        params.append(q.text.lower())
    # date_added is strictly increasing with seq (see _Writer), so a position is a date.
    after = max(q.added_after or -1, q.after.date_added if q.after else -1)
    if after >= 0:
        conds.append("e.date_added > %s")
        params.append(after)
    return conds, params


def visible(vis: Visibility, e: str) -> tuple[str | None, list[Any]]:
    """The WHERE condition on entry alias ``e`` that :class:`Visibility` describes, or
    None when it admits every entry. A literal translation: the policy decided."""
    cond, params = _scoped(vis, e)
    if not vis.clear_in:
        return cond, params
    # Openly published: the CLEAR versions of these collections, to anyone.
    return (f"(({cond or 'TRUE'}) OR ({e}.collection_pk = ANY(%s) AND "
            f"{e}.tlp = {int(Tlp.CLEAR)}))", [*params, sorted(vis.clear_in)])


def _scoped(vis: Visibility, e: str) -> tuple[str | None, list[Any]]:
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


def update_flags(cx: Cursor, updates: Sequence[tuple[bool, bool, int]]) -> None:
    if updates:
        cx.execute("UPDATE entries e SET is_first = u.f, is_last = u.l FROM unnest("
                   "%s::bool[], %s::bool[], %s::int8[]) AS u(f, l, seq) WHERE e.seq = u.seq",
                   ([u[0] for u in updates], [u[1] for u in updates], [u[2] for u in updates]))


def copy_rows(cx: Cursor, table: str, cols: Sequence[str], types: Sequence[str],
              rows: Sequence[Sequence[Any]]) -> None:
    """Insert ``rows`` with one binary COPY (psycopg encodes the rows in C)."""
    if not rows:
        return
    with cx.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(list(types))
        for row in rows:
            copy.write_row(row)
