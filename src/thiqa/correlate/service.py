"""Correlation wired to a node: its index, matcher and warninglists, and who may see what.

``thiqa serve`` (in the ASGI lifespan), ``thiqa load`` (after the load), ``thiqa
index`` and ``thiqa match`` all build one :class:`Correlation` from the settings and
the store.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from thiqa import policy
from thiqa.access import Entitlements, reach
from thiqa.auth import Principal
from thiqa.clock import Clock
from thiqa.correlate import score
from thiqa.correlate.alerts import Alert, Alerts, NewAlert
from thiqa.correlate.detect import Observed
from thiqa.correlate.hunt import Hunter, HuntReport
from thiqa.correlate.index import Indexer, IndexReader, IndexReport
from thiqa.correlate.match import EVERYONE, Audience, Matcher, Result
from thiqa.correlate.observations import Observations
from thiqa.correlate.tables import open_tables
from thiqa.correlate.warninglists import Warninglists
from thiqa.errors import ConfigError
from thiqa.node import Node
from thiqa.settings import Settings
from thiqa.store import Store
from thiqa.store.model import ApiKey


def warninglist_folders(settings: Settings) -> list[Path]:
    """The configured MISP lists, then the operator's own (``<data>/warninglists``)."""
    folders = [Path(settings.warninglists_dir)] if settings.warninglists_dir else []
    if settings.warninglists_dir and not folders[0].is_dir():
        raise ConfigError(f"warninglists_dir {settings.warninglists_dir!r} is not a directory")
    return [*folders, settings.data_dir / "warninglists"]


def open_index(store: Store) -> tuple[Indexer, IndexReader]:
    """The observable index's indexer and reader on the store's database (SQLite's file,
    or the PostgreSQL store's database: :mod:`thiqa.correlate.pg_index`)."""
    from thiqa.store.sqlite import SQLiteStore

    if isinstance(store, SQLiteStore):
        return Indexer(store.path), IndexReader(store.path)
    try:
        from thiqa.store.postgres import PostgresStore
    except ModuleNotFoundError:  # no driver, so no PostgreSQL store either
        pass
    else:
        if isinstance(store, PostgresStore):
            from thiqa.correlate.pg_index import PgIndexer, PgIndexReader

            return PgIndexer(store.url), PgIndexReader(store.url)
    raise ConfigError(f"correlation cannot run on a {type(store).__name__}")


class Correlation:
    def __init__(self, settings: Settings, store: Store, clock: Clock | None = None) -> None:
        clock = clock or Clock()
        self.store = store
        self.clock = clock
        self.model = score.model(settings, lambda ref: (org.id if (org := store.get_org(ref))
                                                        else None))
        self.indexer, self.reader = open_index(store)
        self.warninglists = Warninglists.load(*warninglist_folders(settings))
        self.matcher = Matcher(self.reader,
                               lambda: {c.pk: c.id for c in store.list_collections()},
                               self.warninglists, clock.now_us, self.model)
        # Each on its own connection to the store's database (correlate/tables.py).
        self.alerts = Alerts(open_tables(store), clock.new_uuid, clock.now_us)
        self.observations = Observations(open_tables(store),
                                         settings.observation_retention_days)
        self.hunter = Hunter(open_tables(store), self.matcher, self.alerts, self.observations,
                             lambda org_id: org_audience(store, org_id), clock.now_us,
                             stopped=self.indexer.is_stopped)

    def catch_up(self, on_progress: Callable[[int, int], None] | None = None
                 ) -> tuple[IndexReport, HuntReport]:
        """Index every stored entry not indexed yet, then hunt what was indexed:
        sightings counted, retro-hunt and cross-organisation alerts raised."""
        indexed = self.indexer.catch_up(on_progress)
        if self.indexer.is_stopped():
            return indexed, HuntReport()
        return indexed, self.hunter.run()

    def observer(self, who: Principal | None) -> Callable[[list[Observed]], None] | None:
        """What keeps the values ``who`` submits to matching for retro-hunt: an
        organisation's key (not an admin's, nor the operator's: their matches see every
        collection, and an alert must hold only what its organisation may see)."""
        if who is None or who.is_admin or not self.observations.retention_us:
            return None
        org_id = who.org.id
        return lambda batch: self.observations.keep(org_id, batch, self.clock.now_us())

    def alert_matches(self, who: Principal | None, results: list[Result]) -> list[Alert]:
        """Raise ``match`` alerts for ``who``'s organisation: every matched value not
        known benign, with the matches of other organisations' objects (its own are no
        news). Not for admin keys or the operator (see :meth:`observer`)."""
        if who is None or who.is_admin:
            return []
        org_id = who.org.id
        new = []
        for r in results:
            hits = [h for h in r.hits if h.originator != org_id]
            if hits and not r.known_benign:
                new.append(NewAlert(org_id, "match", r.value, r.observed.family,
                                    r.observed.value, tuple(h.as_json() for h in hits)))
        return self.alerts.raise_alerts(new)

    def close(self) -> None:
        self.hunter.close()
        self.observations.close()
        self.alerts.close()
        self.indexer.close()
        self.reader.close()


def org_audience(store: Store, org_id: str) -> Audience | None:
    """What an organisation's reader key may see (None: no such organisation here):
    the audience of its alerts."""
    org = store.get_org(org_id)
    if org is None:
        return None
    who = Principal(ApiKey("correlate", org.id, "reader", "alerts", 0), org)
    held = Entitlements(store.grants(org.id), store.memberships(org.id))
    full, clear = reach(who, store.list_collections(), held)
    return Audience(full, policy.viewer(who), clear)


def audience(node: Node, who: Principal | None) -> Audience:
    """The collections ``who`` may read (None: the node operator, who reads all)."""
    if who is None or who.is_admin:
        return EVERYONE
    full, clear = node.reach(who)
    return Audience(full, policy.viewer(who), clear)
