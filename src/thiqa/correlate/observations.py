"""Values organisations submitted to matching, kept for retro-hunt (migrations 0009,
0014).

One row per (lookup key, organisation, normalised value) with first and last seen and
a count; a URL has a second row keyed by its host, so that an indicator indexed later
on the host finds the URL's observation by the same key join as an exact value. The
organisation is a small integer (table ``observers``). Rows whose last sighting is
older than ``observation_retention_days`` are purged, at most every ``PURGE_EVERY_US``
(a scan of the table: there is no index on last_seen to keep up on every write).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from thiqa.correlate import normalise as n
from thiqa.correlate.detect import PREFIXES, Observed
from thiqa.correlate.index import key
from thiqa.correlate.tables import Tables, Transaction

DAY_US = 86_400 * 1_000_000
PURGE_EVERY_US = 600 * 1_000_000
#: The ``kind:`` prefix that reads a stored (normalised) value back as the same kind.
KIND_PREFIX: dict[str, str] = {}
for _prefix, (_family, _kind) in PREFIXES.items():
    KIND_PREFIX.setdefault(_kind, _prefix)


def as_input(kind: str, value: str) -> str:
    """An observation as the matcher's input again (``kind:value``)."""
    prefix = KIND_PREFIX.get(kind)
    return value if prefix is None else f"{prefix}:{value}"


def lookup_keys(o: Observed) -> list[int]:
    keys = [key(o.family, o.value)]
    if o.family == "url":
        host = n.url_host(o.value)
        got = n.ip(host)
        if got is not None:
            keys.append(key(got[0], n.ip_text(*got)))
        elif (name := n.domain(host)) is not None:
            keys.append(key("domain", name))
    return keys


class Observations:
    def __init__(self, tables: Tables, retention_days: int) -> None:
        self._tables = tables
        self.retention_us = retention_days * DAY_US
        self._observers: dict[str, int] = {}
        self._purged_us = 0

    def close(self) -> None:
        self._tables.close()

    def keep(self, org_id: str, observed: Sequence[Observed], now_us: int) -> None:
        """Record a batch of values ``org_id`` observed (nothing when retention is 0)."""
        if not self.retention_us or not observed:
            return
        counts: dict[Observed, int] = {}
        for o in observed:
            counts[o] = counts.get(o, 0) + 1

        def write(cx: Transaction) -> None:
            who = self._observer(cx, org_id)
            # In key order: the inserts walk the b-tree's pages in order.
            rows = sorted((k, who, o.value, o.family, o.kind, now_us, now_us, c)
                          for o, c in counts.items() for k in lookup_keys(o))
            cx.executemany(
                "INSERT INTO observations (key, observer, value, family, kind, first_seen, "
                "last_seen, count) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (key, observer, value) DO UPDATE SET "
                "last_seen = excluded.last_seen, count = observations.count + excluded.count",
                rows)
        self._write(write)

    def _observer(self, cx: Transaction, org_id: str) -> int:
        pk = self._observers.get(org_id)
        if pk is None:
            cx.execute("INSERT INTO observers (org_id) VALUES (?) ON CONFLICT DO NOTHING",
                       (org_id,))
            pk = int(cx.execute("SELECT pk FROM observers WHERE org_id = ?",
                                (org_id,)).fetchall()[0][0])
            self._observers[org_id] = pk
        return pk

    def purge(self, now_us: int) -> None:
        """Forget observations last seen before the retention period (at most every
        ``PURGE_EVERY_US``: it scans the table)."""
        if now_us - self._purged_us < PURGE_EVERY_US:
            return
        self._purged_us = now_us
        cutoff = now_us - self.retention_us
        self._write(lambda cx: cx.execute("DELETE FROM observations WHERE last_seen < ?",
                                          (cutoff,)))

    def seen(self, org_id: str, o: Observed) -> tuple[int, int, int] | None:
        """(first seen, last seen, count) of a value the organisation observed."""
        rows = self.read("SELECT ob.first_seen, ob.last_seen, ob.count FROM observations ob "
                         "JOIN observers w ON w.pk = ob.observer "
                         "WHERE ob.key = ? AND w.org_id = ? AND ob.value = ?",
                         (key(o.family, o.value), org_id, o.value))
        return (int(rows[0][0]), int(rows[0][1]), int(rows[0][2])) if rows else None

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._tables.read(sql, params, failing="observations could not be read")

    def _write(self, work: Callable[[Transaction], object]) -> None:
        with self._tables.transaction(failing="observations could not be stored") as tx:
            work(tx)
