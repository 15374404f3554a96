"""The event log on the PostgreSQL store (pg_migrations/0008): stream/sqlite.py's
:class:`SQLiteEventLog`, method for method.

New versions are read from ``entries`` and tombstones and alerts from ``events``; both
take seqs from entries' sequence, under the store's write lock. The head is not that
sequence (not transactional: it shows values of transactions still open) but the
``clock.head`` column every write sets in its own transaction. A read takes the head,
then reads each table up to it: everything at or below it was committed before.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from thiqa.handling import Tlp
from thiqa.store.postgres import PostgresStore
from thiqa.store.postgres_sql import Cursor, visible
from thiqa.stream.model import Audience, Event, Webhook, Window

_HEAD = "SELECT head FROM clock"


def _window_sql(window: Window, alias: str, tombstones: bool) -> tuple[str, list[Any]]:
    """The WHERE terms ``window`` sets on ``entries``/``events`` alias ``alias``: the
    policy's Visibility, translated literally (postgres_sql.visible); node-wide alerts
    (no collection) pass the collection term only in a node-wide window."""
    vis = replace(window.visibility, clear_in=frozenset())
    conds: list[str] = []
    params: list[Any] = []
    if vis.collections is not None:
        inside = f"{alias}.collection_pk = ANY(%s)"
        if tombstones and window.node_wide:
            inside = f"({alias}.collection_pk IS NULL OR {inside})"
        conds.append(inside)
        params.append(sorted(vis.collections))
    elif tombstones and not window.node_wide:
        conds.append(f"{alias}.collection_pk IS NOT NULL")
    handling, handling_params = visible(replace(vis, collections=None), alias)
    if handling is not None:
        conds.append(handling)
        params.extend(handling_params)
    where = " AND ".join(conds) or "TRUE"
    if window.visibility.clear_in:
        # Openly published: the CLEAR part of public collections (thiqa.policy).
        where = (f"(({where}) OR ({alias}.collection_pk = ANY(%s) AND "
                 f"{alias}.tlp = {int(Tlp.CLEAR)}))")
        params.append(sorted(window.visibility.clear_in))
    return where, params


class PostgresEventLog:
    """:class:`thiqa.stream.model.EventLog` on a :class:`PostgresStore`."""

    def __init__(self, store: PostgresStore) -> None:
        self.store = store

    def head(self) -> int:
        rows = self.store._read(_HEAD)
        return int(rows[0][0]) if rows else 0

    def after(self, seq: int, window: Window, limit: int) -> list[Event]:
        head = self.head()
        if head <= seq:
            return []
        where_e, params_e = _window_sql(window, "e", False)
        versions = self.store._read(
            "SELECT e.seq, e.collection_pk, e.object_id, e.type, v.version, e.spec_version, "
            "e.date_added, e.tlp, v.body FROM entries e JOIN versions v ON v.vid = e.vid "
            f"WHERE e.seq > %s AND e.seq <= %s AND {where_e} ORDER BY e.seq LIMIT %s",
            [seq, head, *params_e, limit])
        where_t, params_t = _window_sql(window, "t", True)
        others = self.store._read(
            "SELECT t.seq, t.kind, t.collection_pk, t.object_id, t.type, t.version, "
            "t.spec_version, t.time_us, t.tlp, t.body FROM events t "
            f"WHERE t.seq > %s AND t.seq <= %s AND {where_t} ORDER BY t.seq LIMIT %s",
            [seq, head, *params_t, limit])
        out = [Event(s, "version", c, o, ty, v, sv, t, tlp, bytes(b))
               for s, c, o, ty, v, sv, t, tlp, b in versions]
        if others:
            out.extend(Event(s, k, c, o, ty, v, sv, t, tlp, None if b is None else bytes(b))
                       for s, k, c, o, ty, v, sv, t, tlp, b in others)
            out.sort(key=lambda ev: ev.seq)
        return out[:limit]

    def count_after(self, seq: int, window: Window, most: int) -> int:
        head = self.head()
        where_e, params_e = _window_sql(window, "e", False)
        where_t, params_t = _window_sql(window, "t", True)
        rows = self.store._read(
            f"SELECT (SELECT count(*) FROM (SELECT 1 FROM entries e WHERE e.seq > %s AND "
            f"e.seq <= %s AND {where_e} LIMIT %s) a) + (SELECT count(*) FROM (SELECT 1 FROM "
            f"events t WHERE t.seq > %s AND t.seq <= %s AND {where_t} LIMIT %s) b)",
            [seq, head, *params_e, most, seq, head, *params_t, most])
        return min(most, int(rows[0][0]))

    def append_alert(self, body: bytes, audience: Audience, now_us: int) -> int:
        with self.store._tx() as cx:
            seq = _next_seq(cx)
            cx.execute("INSERT INTO events (seq, kind, collection_pk, time_us, originator, "
                       "tlp, body) VALUES (%s, 'alert', %s, %s, %s, %s, %s)",
                       (seq, audience.collection_pk, now_us, audience.originator,
                        int(audience.tlp), body))
            cx.executemany("INSERT INTO red_recipients VALUES (%s, %s)",
                           [(seq, org) for org in sorted(set(audience.recipients))])
            return seq

    # -- webhooks ----------------------------------------------------------------------
    _HOOK_COLS = ("id, org_id, collection_pk, url, secret, created_us, cursor, delivered, "
                  "last_success_us, last_error, last_error_us, failures, next_attempt_us")

    def add_webhook(self, hook: Webhook) -> None:
        with self.store._tx() as cx:
            cx.execute(f"INSERT INTO webhooks ({self._HOOK_COLS}) VALUES "
                       "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                       (hook.id, hook.org_id, hook.collection_pk, hook.url, hook.secret,
                        hook.created_us, hook.cursor, hook.delivered, hook.last_success_us,
                        hook.last_error, hook.last_error_us, hook.failures,
                        hook.next_attempt_us))

    def webhooks(self, org_id: str | None = None) -> list[Webhook]:
        if org_id is None:
            rows = self.store._read(f"SELECT {self._HOOK_COLS} FROM webhooks "
                                    "ORDER BY created_us, id")
        else:
            rows = self.store._read(f"SELECT {self._HOOK_COLS} FROM webhooks WHERE "
                                    "org_id = %s ORDER BY created_us, id", (org_id,))
        return [Webhook(*r) for r in rows]

    def get_webhook(self, hook_id: str) -> Webhook | None:
        rows = self.store._read(f"SELECT {self._HOOK_COLS} FROM webhooks WHERE id = %s",
                                (hook_id,))
        return Webhook(*rows[0]) if rows else None

    def remove_webhook(self, hook_id: str) -> bool:
        with self.store._tx() as cx:
            return cx.execute("DELETE FROM webhooks WHERE id = %s", (hook_id,)).rowcount > 0

    def webhook_delivered(self, hook_id: str, cursor: int, count: int, now_us: int) -> None:
        with self.store._tx() as cx:
            cx.execute("UPDATE webhooks SET cursor = GREATEST(cursor, %s), delivered = "
                       "delivered + %s, last_success_us = %s, failures = 0, "
                       "next_attempt_us = 0 WHERE id = %s", (cursor, count, now_us, hook_id))

    def webhook_failed(self, hook_id: str, error: str, now_us: int,
                       next_attempt_us: int) -> None:
        with self.store._tx() as cx:
            cx.execute("UPDATE webhooks SET last_error = %s, last_error_us = %s, failures = "
                       "failures + 1, next_attempt_us = %s WHERE id = %s",
                       (error, now_us, next_attempt_us, hook_id))


def _next_seq(cx: Cursor) -> int:
    """Take the next value of the node sequence inside the open write transaction (under
    the write lock), and make it the head when that transaction commits."""
    row = cx.execute("UPDATE clock SET head = nextval('entries_seq_seq') RETURNING head"
                     ).fetchone()
    assert row is not None
    return int(row[0])


__all__ = ["PostgresEventLog"]
