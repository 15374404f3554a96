"""Alerts: what an organisation is told when something it saw or shared matches
(migration 0009, docs/correlation.md "Alerts").

An alert is for one organisation and holds only objects that organisation may see
(every match passes :func:`thiqa.correlate.match.may_see` before it gets here). Three
things raise one:

    match        a value the organisation submitted to matching hit an indicator
    retro-hunt   a value it submitted earlier hits an indicator indexed since
    cross-org    a value in an object it shared is also in another organisation's object

One alert per (organisation, observed value, objects matched): the same value matching
the same objects never raises a second; an object indexed later that matches the value
raises a new one (with the new object). Values on a warninglist (known benign) never
raise alerts; callers leave them out, and :meth:`Alerts.raise_alerts` refuses them as a
last guard.

:meth:`Alerts.raise_alerts` is the one function that creates alerts; whatever must
learn of new alerts (the event stream) subscribes with :meth:`Alerts.subscribe` and
receives each :class:`Alert`, whose :meth:`Alert.as_json` is its record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from thiqa.correlate.tables import Tables
from thiqa.timestamps import format_us

Kind = Literal["match", "retro-hunt", "cross-org"]
STATES = ("new", "acknowledged")


@dataclass(frozen=True, slots=True)
class NewAlert:
    """An alert to raise: for ``org_id``, on one observed value and what it matched.
    ``matches`` are match records (``Hit.as_json``) the organisation may see; ``own``
    (cross-org) its own objects that hold the value."""

    org_id: str
    kind: Kind
    value: str
    family: str
    normalised: str
    matches: tuple[dict[str, Any], ...]
    own: tuple[dict[str, Any], ...] = ()
    known_benign: tuple[str, ...] = ()

    @property
    def score(self) -> float | None:
        scores = [m["score"] for m in self.matches if m.get("score") is not None]
        return max(scores) if scores else None

    def dedup(self) -> str:
        ids = " ".join(sorted({str(m["id"]) for m in self.matches}))
        return f"{self.family}\0{self.normalised}\0{ids}"


@dataclass(frozen=True, slots=True)
class Alert:
    pk: int
    id: str
    org_id: str
    kind: str
    created_us: int
    value: str
    family: str
    normalised: str
    score: float | None
    matches: tuple[dict[str, Any], ...]
    own: tuple[dict[str, Any], ...]
    state: str
    acked_by: str | None
    acked_us: int | None

    def as_json(self) -> dict[str, Any]:
        """The alert's record (API, CLI ``--json``, and what the stream delivers)."""
        return {"id": self.id, "org": self.org_id, "kind": self.kind,
                "created": format_us(self.created_us), "value": self.value,
                "family": self.family, "normalised": self.normalised, "score": self.score,
                "matches": list(self.matches), "own": list(self.own), "state": self.state,
                "acknowledged_by": self.acked_by,
                "acknowledged": None if self.acked_us is None else format_us(self.acked_us)}


_COLUMNS = ("pk, id, org_id, kind, created, value, family, normalised, score, body, state, "
            "acked_by, acked_at")


def _alert(row: Sequence[Any]) -> Alert:
    body = orjson.loads(row[9])
    return Alert(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
                 tuple(body["matches"]), tuple(body["own"]), row[10], row[11], row[12])


class Alerts:
    """The alert table, on its own connection to the store's database."""

    def __init__(self, tables: Tables, new_id: Callable[[], str],
                 now_us: Callable[[], int]) -> None:
        self._tables = tables
        self._new_id = new_id
        self._now_us = now_us
        self._listeners: list[Callable[[Alert], None]] = []

    def close(self) -> None:
        self._tables.close()

    def subscribe(self, listener: Callable[[Alert], None]) -> None:
        """Call ``listener`` with every alert raised from now on (after it is stored)."""
        self._listeners.append(listener)

    def raise_alerts(self, new: Sequence[NewAlert]) -> list[Alert]:
        """Store the alerts not raised before (by organisation, value and first match)
        and tell the listeners; returns those stored. The only way alerts are made."""
        if not new:
            return []
        now = self._now_us()
        rows = []
        for a in new:
            if a.known_benign or not a.matches:
                continue  # known benign never alerts; an alert always shows what matched
            rows.append((self._new_id(), a.org_id, a.kind, self._tables.nul_key(a.dedup()),
                         now, a.value, a.family, a.normalised, a.score,
                         orjson.dumps({"matches": a.matches, "own": a.own}).decode()))
        made: list[Alert] = []
        with self._tables.transaction(failing="alerts could not be stored") as tx:
            for r in rows:
                # An alert raised before (same org and dedup) is not raised again.
                got = tx.execute("INSERT INTO alerts (id, org_id, kind, dedup, created, "
                                 "value, family, normalised, score, body) VALUES "
                                 "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING "
                                 "RETURNING pk", r).fetchall()
                if got:
                    made.append(_alert((got[0][0], *r[:3], *r[4:], "new", None, None)))
        for alert in made:
            for listener in self._listeners:
                listener(alert)
        return made

    def list_for(self, org_id: str, *, state: str | None = None, after: int = 0,
             limit: int = 100) -> tuple[list[Alert], bool]:
        """The organisation's alerts, oldest first, after the ``pk`` cursor; and whether
        there are more."""
        sql = f"SELECT {_COLUMNS} FROM alerts WHERE org_id = ? AND pk > ?"
        params: list[Any] = [org_id, after]
        if state is not None:
            sql += " AND state = ?"
            params.append(state)
        rows = self._read(sql + " ORDER BY pk LIMIT ?", (*params, limit + 1))
        return [_alert(r) for r in rows[:limit]], len(rows) > limit

    def get(self, org_id: str, alert_id: str) -> Alert | None:
        rows = self._read(f"SELECT {_COLUMNS} FROM alerts WHERE org_id = ? AND id = ?",
                          (org_id, alert_id))
        return _alert(rows[0]) if rows else None

    def acknowledge(self, org_id: str, alert_id: str, by: str) -> Alert | None:
        """Mark the organisation's alert acknowledged (again: it keeps the first
        acknowledgement); None when it has no such alert."""
        with self._tables.transaction(failing="the alert could not be acknowledged") as tx:
            tx.execute("UPDATE alerts SET state = 'acknowledged', acked_by = ?, acked_at = ? "
                       "WHERE org_id = ? AND id = ? AND state = 'new'",
                       (by, self._now_us(), org_id, alert_id))
        return self.get(org_id, alert_id)

    def _read(self, sql: str, params: Sequence[Any]) -> list[Any]:
        return self._tables.read(sql, params, failing="alerts could not be read")
