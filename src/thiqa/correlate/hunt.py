"""What happens after entries are indexed: retro-hunt, cross-organisation correlation
and the sightings count (docs/correlation.md).

The hunter follows the indexer: it keeps its own mark (``hunt_state``, migration 0009)
that trails ``correlate_state.indexed_seq`` and works window by window over the entries
indexed since. For each window:

1. **Sightings** stored in it are counted by the object they sight (``sightings_of``),
   for scoring.
2. **Retro-hunt**: the observations organisations submitted to matching (kept for
   ``observation_retention_days``) that the window's new rows may match are matched
   again, as their organisation (the one policy: :func:`~thiqa.correlate.match.may_see`);
   a hit on an entry of the window raises a ``retro-hunt`` alert. Exact values and a
   URL's host are found by one key join; when the window holds ranges, subdomain or
   LIKE tests, every kept observation of the families they can match is re-checked.
3. **Cross-organisation**: an exact value of the window that another organisation's
   stored object also holds (the latest versions of two different objects, from two
   originators) raises a ``cross-org`` alert for each side that may see the other's
   object, built only from the objects it may see. A side that may not see the other
   gets nothing: no alert says that an invisible object exists.

Known-benign values (warninglists) raise no alert. A window done twice (a ``serve``
and a ``load`` beside it) raises nothing twice: alerts are unique per organisation,
value and objects, and sightings rows per entry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from thiqa.correlate.alerts import Alert, Alerts, Kind, NewAlert
from thiqa.correlate.detect import Observed
from thiqa.correlate.index import WINDOW
from thiqa.correlate.match import KIND_FAMILY, Audience, Hit, Matcher, Result
from thiqa.correlate.observations import Observations, as_input
from thiqa.correlate.tables import SQLiteTables, Tables
from thiqa.timestamps import parse_us

SIGHTINGS_TRIGGER = (
    "CREATE TRIGGER IF NOT EXISTS sightings_unindex AFTER DELETE ON entries BEGIN "
    "DELETE FROM sightings_of WHERE seq = OLD.seq; END")

# Families of observations a non-exact row of a family may match (a URL by its host).
_RANGE_FAMILIES = {"ipv4": ("ipv4", "url"), "ipv6": ("ipv6", "url")}
_HOST_FAMILIES = ("ipv4", "ipv6", "domain")


@dataclass(slots=True)
class HuntReport:
    entries: int = 0
    sightings: int = 0
    alerts: int = 0


class Hunter:
    def __init__(self, tables: Tables, matcher: Matcher, alerts: Alerts,
                 observations: Observations, audience_of: Callable[[str], Audience | None],
                 now_us: Callable[[], int], *, window: int = WINDOW,
                 stopped: Callable[[], bool] = lambda: False) -> None:
        self.matcher = matcher
        self.alerts = alerts
        self.observations = observations
        self.audience_of = audience_of
        self.now_us = now_us
        self.window = window
        self.stopped = stopped
        self._tables = tables
        self._lock = threading.Lock()
        if isinstance(tables, SQLiteTables):  # on PostgreSQL, pg_migrations/0009 owns it
            tables.cx.execute(SIGHTINGS_TRIGGER)

    def close(self) -> None:
        with self._lock:
            self._tables.close()

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        return self._tables.read(sql, params, failing="the hunter could not read the index")

    def run(self) -> HuntReport:
        """Hunt every window indexed since the last run."""
        report = HuntReport()
        with self._lock:
            self.observations.purge(self.now_us())
            while True:
                mark = int(self._read("SELECT hunted_seq FROM hunt_state")[0][0])
                top = int(self._read("SELECT indexed_seq FROM correlate_state")[0][0])
                if mark >= top or self.stopped():
                    return report
                hi = min(mark + self.window, top)
                self._window(mark, hi, report)
                with self._tables.transaction(
                        failing="the hunter could not move its mark") as tx:
                    tx.execute("UPDATE hunt_state SET hunted_seq = ? WHERE hunted_seq = ?",
                               (hi, mark))
                report.entries += hi - mark

    def _window(self, lo: int, hi: int, report: HuntReport) -> None:
        report.sightings += self._sightings(lo, hi)
        made = self._retro(lo, hi) + self._cross(lo, hi)
        report.alerts += len(made)

    # -- sightings ---------------------------------------------------------------------
    def _sightings(self, lo: int, hi: int) -> int:
        rows = []
        for seq, body in self._read(
                "SELECT e.seq, v.body FROM entries e JOIN versions v ON v.vid = e.vid "
                "WHERE e.seq > ? AND e.seq <= ? AND e.type = 'sighting'", (lo, hi)):
            obj = orjson.loads(body)
            ref, count = obj.get("sighting_of_ref"), obj.get("count", 1)
            when = obj.get("last_seen") or obj.get("modified")
            if not isinstance(ref, str) or not isinstance(count, int) or not isinstance(when, str):
                continue
            try:
                rows.append((ref, seq, max(1, count), parse_us(when)))
            except ValueError:
                continue
        if rows:
            with self._tables.transaction(failing="sightings could not be counted") as tx:
                tx.executemany("INSERT INTO sightings_of VALUES (?, ?, ?, ?) "
                               "ON CONFLICT DO NOTHING", rows)
        return len(rows)

    # -- retro-hunt --------------------------------------------------------------------
    def _retro(self, lo: int, hi: int) -> list[Alert]:
        window = (lo, hi)
        found = self._read(
            "SELECT DISTINCT w.org_id, ob.kind, ob.value FROM observables o "
            "JOIN observations ob ON ob.key = o.key JOIN observers w ON w.pk = ob.observer "
            "WHERE o.seq > ? AND o.seq <= ?", window)
        families: set[str] = set()
        for mode, kind in self._read("SELECT DISTINCT mode, kind FROM observables "
                                     "WHERE seq > ? AND seq <= ? AND mode != '='", window):
            family = KIND_FAMILY.get(kind, "")
            families.update(("domain", "url") if mode == "sub"
                            else _RANGE_FAMILIES.get(family, (family,)))
        for (family,) in self._read("SELECT DISTINCT family FROM observable_tests "
                                    "WHERE seq > ? AND seq <= ?", window):
            families.update((family, "url") if family in _HOST_FAMILIES else (family,))
        if families:
            marks = ",".join("?" * len(families))
            found += self._read("SELECT DISTINCT w.org_id, ob.kind, ob.value FROM "
                                "observations ob JOIN observers w ON w.pk = ob.observer "
                                f"WHERE ob.family IN ({marks})", tuple(sorted(families)))
        by_org: dict[str, set[str]] = {}
        for org_id, kind, value in found:
            by_org.setdefault(org_id, set()).add(as_input(kind, value))
        new: list[NewAlert] = []
        for org_id, values in sorted(by_org.items()):
            audience = self.audience_of(org_id)
            if audience is None:
                continue
            for r in self.matcher.match(sorted(values), audience):
                # Only entries of this window are news; the org's own are not.
                hits = [h for h in r.hits if lo < h.seq <= hi and h.originator != org_id]
                if hits and not r.known_benign:
                    new.append(_alert(org_id, "retro-hunt", r, hits))
        return self.alerts.raise_alerts(new)

    # -- cross-organisation ------------------------------------------------------------
    def _cross(self, lo: int, hi: int) -> list[Alert]:
        now = self.now_us()
        pairs = self._read(
            "SELECT n.seq, en.originator, o.seq, eo.originator, n.kind, n.value "
            "FROM observables n "
            "JOIN observables o ON o.key = n.key AND o.seq != n.seq "
            "JOIN entries en ON en.seq = n.seq JOIN entries eo ON eo.seq = o.seq "
            "WHERE n.seq > ? AND n.seq <= ? AND n.mode = '=' AND o.mode = '=' "
            "AND o.value = n.value AND en.is_last AND eo.is_last "
            "AND en.originator != eo.originator AND en.object_id != eo.object_id "
            "AND (n.valid_until IS NULL OR n.valid_until > ?) "
            "AND (o.valid_until IS NULL OR o.valid_until > ?)", (lo, hi, now, now))
        # Per (organisation, value): its own entries and the others' holding the value.
        groups: dict[tuple[str, str, str], tuple[set[int], set[int]]] = {}
        for a_seq, a_org, b_seq, b_org, kind, value in pairs:
            for me, mine, theirs in ((a_org, a_seq, b_seq), (b_org, b_seq, a_seq)):
                own, other = groups.setdefault((me, kind, value), (set(), set()))
                own.add(mine)
                other.add(theirs)
        new: list[NewAlert] = []
        for (org_id, kind, value), (own, other) in sorted(groups.items()):
            audience = self.audience_of(org_id)
            if audience is None:
                continue
            o = Observed(KIND_FAMILY.get(kind, ""), kind, value)
            if self.matcher.warninglists.check(o):
                continue
            theirs = self.matcher.results_for([(o, sorted(other - own))], audience)
            if not theirs:
                continue  # nothing of the others it may see: not a word about them
            mine = self.matcher.results_for([(o, sorted(own))], audience)
            hits = [h for h in theirs[0].hits if h.originator != org_id]
            if hits:
                new.append(_alert(org_id, "cross-org", theirs[0], hits,
                                  mine[0].hits if mine else []))
        return self.alerts.raise_alerts(new)


def _alert(org_id: str, kind: Kind, r: Result, hits: list[Hit],
           own: Sequence[Hit] = ()) -> NewAlert:
    return NewAlert(org_id, kind, r.observed.value, r.observed.family, r.observed.value,
                    tuple(h.as_json() for h in hits), tuple(h.as_json() for h in own),
                    tuple(r.known_benign))
