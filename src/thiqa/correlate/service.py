"""Correlation wired to a node: its index, matcher and warninglists, and who may see what.

``thiqa serve`` (in the ASGI lifespan), ``thiqa load`` (after the load), ``thiqa
index`` and ``thiqa match`` all build one :class:`Correlation` from the settings and
the store.
"""

from __future__ import annotations

from pathlib import Path

from thiqa import policy
from thiqa.auth import Principal
from thiqa.clock import Clock
from thiqa.correlate.index import Indexer, IndexReader
from thiqa.correlate.match import EVERYONE, Audience, Matcher
from thiqa.correlate.warninglists import Warninglists
from thiqa.errors import ConfigError
from thiqa.node import Node
from thiqa.settings import Settings
from thiqa.store import Store


def database_path(store: Store) -> Path:
    """The SQLite file the index lives in (the index is part of the SQLite store)."""
    from thiqa.store.sqlite import SQLiteStore

    if not isinstance(store, SQLiteStore):
        raise ConfigError("correlation needs the SQLite store in this version of thiqa")
    return store.path


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
        self.indexer, self.reader = open_index(store)
        self.warninglists = Warninglists.load(*warninglist_folders(settings))
        self.matcher = Matcher(self.reader,
                               lambda: {c.pk: c.id for c in store.list_collections()},
                               self.warninglists, clock.now_us)

    def close(self) -> None:
        self.indexer.close()
        self.reader.close()


def audience(node: Node, who: Principal | None) -> Audience:
    """The collections ``who`` may read (None: the node operator, who reads all)."""
    if who is None or who.is_admin:
        return EVERYONE
    return Audience(frozenset(v.collection.pk for v in node.collections(who)
                              if v.access.can_read), policy.viewer(who))
