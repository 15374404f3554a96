"""Nodes on their own data directories, as partners: each has an operating
organisation; ``b`` shares a community with ``a``'s organisation once it pins ``a``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import pg
from thiqa.clock import FakeClock
from thiqa.federation import keys, trust
from thiqa.node import OPERATING_ORG, Node
from thiqa.settings import Settings
from thiqa.store import Store
from thiqa.store.sqlite import SQLiteStore


@dataclass
class Peer:
    node: Node
    key: str  # an analyst API key of the operating organisation

    @property
    def id(self) -> str:
        return keys.node_id(self.node)

    @property
    def org(self) -> str:
        return self.node.operating_org().id


def make_peer(root: Path, name: str, clock: FakeClock, store: Store | None = None) -> Peer:
    data = root / name
    node = Node(Settings(data=str(data), page_size=100),
                store or SQLiteStore(data / "thiqa.db"), clock)
    org = node.create_org(f"Agency {name.upper()}")
    node.store.set_meta(OPERATING_ORG, org.id)
    _, secret = node.create_key(org.id, "analyst")
    node.create_collection("Outbox", alias="outbox", readers=[org.id], writers=[org.id])
    return Peer(node, secret)


def befriend(receiver: Peer, *senders: Peer) -> str:
    """``receiver`` pins each sender and shares a community with their organisations;
    returns the community collection's alias."""
    for s in senders:
        trust.pin(receiver.node, keys.identity(s.node))
    view = receiver.node.create_community(
        "Partners " + " ".join(s.id[-4:] for s in senders),
        members=[receiver.org, *(s.org for s in senders)])
    alias = view.collections[0].alias
    assert alias is not None
    return alias


@pytest.fixture
def fclock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "postgresql"])
def peers(request: pytest.FixtureRequest, tmp_path: Path,
          fclock: FakeClock) -> Iterator[dict[str, Peer]]:
    """Four nodes; on the postgresql param ``a`` (the usual signer) and ``b`` (the usual
    receiver) keep their data in PostgreSQL, ``c`` and ``h`` in SQLite: a mixed
    federation, so signing, receiving and provenance run on both stores."""
    stores: dict[str, Store] = {}
    if request.param == "postgresql":
        why = pg.unavailable()
        if why is not None:
            pytest.skip(f"PostgreSQL store not tested: {why}")
        from thiqa.store.postgres import PostgresStore

        stores = {"a": PostgresStore(pg.schema_url()), "b": PostgresStore(pg.schema_url("b"))}
    made = {n: make_peer(tmp_path, n, fclock, stores.get(n)) for n in ("a", "b", "c", "h")}
    yield made
    for p in made.values():
        p.node.store.close()
