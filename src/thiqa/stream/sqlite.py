"""The event log on the SQLite store (migration 0008).

New versions are read from ``entries`` (their seq is their place in the log) and
tombstones and alerts from ``events``; both take seqs from entries' AUTOINCREMENT
counter, so one counter orders everything. A read first takes the head, then reads each
table up to it: everything at or below the head was committed before the head was read,
so the two reads, although two snapshots, cannot miss an event between them.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from typing import Any

from thiqa.errors import StoreError
from thiqa.handling import Tlp
from thiqa.store.sqlite import SQLiteStore, _marks, _visible
from thiqa.stream.model import Audience, Event, EventLog, Webhook, Window

_HEAD = "SELECT seq FROM sqlite_sequence WHERE name = 'entries'"


def _window_sql(window: Window, alias: str, tombstones: bool) -> tuple[str, list[Any]]:
    """The WHERE terms ``window`` sets on ``entries``/``events`` alias ``alias``: the
    policy's Visibility, translated literally (thiqa.store.sqlite._visible); node-wide
    alerts (no collection) pass the collection term only in a node-wide window."""
    vis = replace(window.visibility, clear_in=frozenset())
    conds: list[str] = []
    params: list[Any] = []
    if vis.collections is not None:
        pks = sorted(vis.collections)
        inside = f"{alias}.collection_pk IN ({_marks(len(pks))})" if pks else "0"
        if tombstones and window.node_wide:
            inside = f"({alias}.collection_pk IS NULL OR {inside})"
        conds.append(inside)
        params.extend(pks)
    elif tombstones and not window.node_wide:
        conds.append(f"{alias}.collection_pk IS NOT NULL")
    handling, handling_params = _visible(replace(vis, collections=None), alias)
    if handling is not None:
        conds.append(handling)
        params.extend(handling_params)
    where = " AND ".join(conds) or "1"
    if window.visibility.clear_in:
        # Openly published: the CLEAR part of public collections (thiqa.policy).
        pks = sorted(window.visibility.clear_in)
        where = (f"(({where}) OR ({alias}.collection_pk IN ({_marks(len(pks))}) AND "
                 f"{alias}.tlp = {int(Tlp.CLEAR)}))")
        params.extend(pks)
    return where, params


class SQLiteEventLog:
    """:class:`thiqa.stream.model.EventLog` on a :class:`SQLiteStore`."""

    def __init__(self, store: SQLiteStore) -> None:
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
            f"WHERE e.seq > ? AND e.seq <= ? AND {where_e} ORDER BY e.seq LIMIT ?",
            [seq, head, *params_e, limit])
        where_t, params_t = _window_sql(window, "t", True)
        others = self.store._read(
            "SELECT t.seq, t.kind, t.collection_pk, t.object_id, t.type, t.version, "
            "t.spec_version, t.time_us, t.tlp, t.body FROM events t "
            f"WHERE t.seq > ? AND t.seq <= ? AND {where_t} ORDER BY t.seq LIMIT ?",
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
            f"SELECT (SELECT count(*) FROM (SELECT 1 FROM entries e WHERE e.seq > ? AND "
            f"e.seq <= ? AND {where_e} LIMIT ?)) + (SELECT count(*) FROM (SELECT 1 FROM "
            f"events t WHERE t.seq > ? AND t.seq <= ? AND {where_t} LIMIT ?))",
            [seq, head, *params_e, most, seq, head, *params_t, most])
        return min(most, int(rows[0][0]))

    def append_alert(self, body: bytes, audience: Audience, now_us: int) -> int:
        with self.store._tx() as cx:
            seq = _next_seq(cx)
            cx.execute("INSERT INTO events (seq, kind, collection_pk, time_us, originator, "
                       "tlp, body) VALUES (?, 'alert', ?, ?, ?, ?, ?)",
                       (seq, audience.collection_pk, now_us, audience.originator,
                        int(audience.tlp), body))
            cx.executemany("INSERT INTO red_recipients VALUES (?, ?)",
                           [(seq, org) for org in sorted(set(audience.recipients))])
            return seq

    # -- webhooks ----------------------------------------------------------------------
    _HOOK_COLS = ("id, org_id, collection_pk, url, secret, created_us, cursor, delivered, "
                  "last_success_us, last_error, last_error_us, failures, next_attempt_us")

    def add_webhook(self, hook: Webhook) -> None:
        with self.store._tx() as cx:
            cx.execute(f"INSERT INTO webhooks ({self._HOOK_COLS}) VALUES "
                       "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (hook.id, hook.org_id, hook.collection_pk, hook.url, hook.secret,
                        hook.created_us, hook.cursor, hook.delivered, hook.last_success_us,
                        hook.last_error, hook.last_error_us, hook.failures,
                        hook.next_attempt_us))

    def webhooks(self, org_id: str | None = None) -> list[Webhook]:
        if org_id is None:
            rows = self.store._read(f"SELECT {self._HOOK_COLS} FROM webhooks "
                                    "ORDER BY created_us, id")
        else:
            rows = self.store._read(f"SELECT {self._HOOK_COLS} FROM webhooks WHERE org_id = ? "
                                    "ORDER BY created_us, id", (org_id,))
        return [Webhook(*r) for r in rows]

    def get_webhook(self, hook_id: str) -> Webhook | None:
        rows = self.store._read(f"SELECT {self._HOOK_COLS} FROM webhooks WHERE id = ?",
                                (hook_id,))
        return Webhook(*rows[0]) if rows else None

    def remove_webhook(self, hook_id: str) -> bool:
        with self.store._tx() as cx:
            return cx.execute("DELETE FROM webhooks WHERE id = ?", (hook_id,)).rowcount > 0

    def webhook_delivered(self, hook_id: str, cursor: int, count: int, now_us: int) -> None:
        with self.store._tx() as cx:
            cx.execute("UPDATE webhooks SET cursor = max(cursor, ?), delivered = delivered + ?, "
                       "last_success_us = ?, failures = 0, next_attempt_us = 0 WHERE id = ?",
                       (cursor, count, now_us, hook_id))

    def webhook_failed(self, hook_id: str, error: str, now_us: int,
                       next_attempt_us: int) -> None:
        with self.store._tx() as cx:
            cx.execute("UPDATE webhooks SET last_error = ?, last_error_us = ?, failures = "
                       "failures + 1, next_attempt_us = ? WHERE id = ?",
                       (error, now_us, next_attempt_us, hook_id))


def _next_seq(cx: sqlite3.Connection) -> int:
    """Take the next value of the node sequence inside the open write transaction."""
    if cx.execute("UPDATE sqlite_sequence SET seq = seq + 1 WHERE name = 'entries'"
                  ).rowcount == 0:
        cx.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('entries', 1)")
    row = cx.execute(_HEAD).fetchone()
    if row is None:
        raise StoreError("the node sequence is missing")
    return int(row[0])


def event_log(store: object) -> EventLog:
    """The event log of ``store``: :class:`SQLiteEventLog`, or on the PostgreSQL store
    :class:`thiqa.stream.postgres.PostgresEventLog`."""
    if isinstance(store, SQLiteStore):
        return SQLiteEventLog(store)
    try:
        from thiqa.store.postgres import PostgresStore
    except ModuleNotFoundError:  # no driver, so no PostgreSQL store either
        pass
    else:
        if isinstance(store, PostgresStore):
            from thiqa.stream.postgres import PostgresEventLog

            return PostgresEventLog(store)
    raise StoreError(f"no event log for {type(store).__name__}")
