"""Shared fixtures. ``store`` is parametrised over every store backend, so every test
that uses it (directly or through ``node``/``world``/``client``) runs on each."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests import pg
from thiqa.clock import FakeClock
from thiqa.handling import TLP2_IDS, tlp_named
from thiqa.node import Node
from thiqa.settings import Settings
from thiqa.store import Store
from thiqa.store.model import Collection
from thiqa.store.sqlite import SQLiteStore
from thiqa.taxii import create_app

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TAXII = "application/taxii+json;version=2.1"


def make_store(kind: str, tmp_path: Path) -> Store:
    if kind == "sqlite":
        return SQLiteStore(tmp_path / "thiqa.db")
    if kind == "postgresql":
        why = pg.unavailable()
        if why is not None:
            pytest.skip(f"PostgreSQL store not tested: {why}")
        from thiqa.store.postgres import PostgresStore

        return PostgresStore(pg.schema_url())
    raise AssertionError(kind)


def reopen(store: Store) -> Store:
    """A new store on the same database as ``store`` (as a restarted process opens it)."""
    if isinstance(store, SQLiteStore):
        return SQLiteStore(store.path)
    from thiqa.store.postgres import PostgresStore

    assert isinstance(store, PostgresStore)
    return PostgresStore(store.url)


def pytest_sessionfinish(session: pytest.Session) -> None:
    pg.drop()


def pytest_unconfigure(config: pytest.Config) -> None:
    # Loud, once, as the run's last line: a green run that silently skipped half the
    # backends would mislead. (Under xdist the workers decide; the controller, which
    # prints, asks the same question.)
    reporter: Any = config.pluginmanager.get_plugin("terminalreporter")
    why = pg.unavailable()
    if why is not None and reporter is not None and not hasattr(config, "workerinput"):
        reporter.write_line(f"!!! PostgreSQL half of the suite SKIPPED: {why}",
                            red=True, bold=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = make_store(request.param, tmp_path)
    yield s
    s.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data=str(tmp_path), page_size=100, max_content_length=1_048_576)


@pytest.fixture
def node(settings: Settings, store: Store, clock: FakeClock) -> Node:
    return Node(settings, store, clock)


@dataclass
class World:
    """Two organisations and keys of every role, and collections with known grants.

    - ``shared``: org A reads and writes, org B reads.
    - ``private``: only org A (B has no grant: the collection is invisible to B).
    - ``dropbox``: org B may write but not read.
    """

    node: Node
    keys: dict[str, str]
    shared: Collection
    private: Collection
    dropbox: Collection

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}", "Accept": TAXII}

    def basic(self, who: str) -> dict[str, str]:
        token = base64.b64encode(f"anyone:{self.keys[who]}".encode()).decode()
        return {"Authorization": f"Basic {token}", "Accept": TAXII}


@pytest.fixture
def world(node: Node) -> World:
    a = node.create_org("Agency A")
    b = node.create_org("Agency B")
    keys = {
        "admin": node.create_key(a.id, "admin")[1],
        "a_analyst": node.create_key(a.id, "analyst")[1],
        "a_reader": node.create_key(a.id, "reader")[1],
        "b_analyst": node.create_key(b.id, "analyst")[1],
        "b_reader": node.create_key(b.id, "reader")[1],
    }
    shared = node.create_collection("Shared", alias="shared", readers=[a.id, b.id],
                                    writers=[a.id])
    private = node.create_collection("Private", alias="private", readers=[a.id],
                                     writers=[a.id])
    dropbox = node.create_collection("Dropbox", alias="dropbox", readers=[a.id],
                                     writers=[a.id, b.id])
    return World(node, keys, shared, private, dropbox)


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    app = create_app(world.node.settings, world.node.store, world.node.clock)
    with TestClient(app) as c:
        yield c


def indicator(n: int, *, modified: str = "2024-01-01T00:00:00.000Z",
              value: str | None = None, tlp: str | None = None) -> dict[str, object]:
    """A valid STIX 2.1 indicator with a stable id per ``n``; ``tlp`` ("green",
    "amber+strict", ...) adds that TLP 2.0 marking (without it the indicator is
    unmarked: TLP:RED with no recipients unless a community default applies)."""
    marking = ({"object_marking_refs": [TLP2_IDS[tlp_named(tlp)]]} if tlp is not None
               else {})
    return {**marking,
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--00000000-0000-4000-8000-{n:012d}",
        "created": "2024-01-01T00:00:00.000Z",
        "modified": modified,
        "name": f"indicator {n}",
        "pattern": f"[ipv4-addr:value = '{value or f'10.0.{n // 256 % 256}.{n % 256}'}']",
        "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z",
    }
