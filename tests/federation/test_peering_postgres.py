"""Live peering on the PostgreSQL store: real ``thiqa serve`` processes, a and b on
PostgreSQL (a schema each in the test database), c on SQLite, in a ring (b pulls from
a, c from b, a from c): catch-up, follow and signed tombstones between the stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import pg
from tests.federation.peering import WAIT_S, indicators, pairs, publish_all, running
from tests.federation.test_peering_tombstones import hidden, shown
from thiqa.federation.lab import Group, Lab, wait_for
from thiqa.store.postgres import PostgresStore
from thiqa.store.sqlite import SQLiteStore


@pytest.fixture(scope="module")
def ring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(Path(tmp_path_factory.mktemp("pgring")),
              db={"a": pg.schema_or_skip("pa"), "b": pg.schema_or_skip("pb")})
    yield from running(lab, [Group("Trio", ("a", "b", "c"), "green")],
                       [("b", "a", "pull"), ("c", "b", "pull"), ("a", "c", "pull")],
                       start=["a"])


def test_postgresql_nodes_catch_up_follow_and_withdraw(ring: Lab) -> None:
    for n, kind in (("a", PostgresStore), ("b", PostgresStore), ("c", SQLiteStore)):
        store = ring[n].store()
        assert isinstance(store, kind)  # what the node's `thiqa serve --db` runs on
        store.close()
    # Catch-up: published on a (PostgreSQL) before its partners run.
    early = indicators(300)
    publish_all(ring["a"], "trio", early)
    ring.start(["b", "c"])
    want = pairs(early)
    assert wait_for(lambda: want <= set(ring["b"].held("trio")) and
                    want <= set(ring["c"].held("trio")), 60)
    assert ring.wait_linked()
    # Follow: published on c (SQLite), pulled by a (PostgreSQL), relayed to b.
    late = indicators(20)
    ring["c"].publish("trio", late)
    assert wait_for(lambda: pairs(late) <= set(ring["a"].held("trio")) and
                    pairs(late) <= set(ring["b"].held("trio")), WAIT_S)
    assert all(len(set(ring[n].held("trio"))) == len(ring[n].held("trio")) for n in "abc")
    # Tombstones both ways: signed on PostgreSQL and verified on SQLite, and back.
    gone_a, gone_c = early[0], late[0]
    # Every read path, matching included: the index follows the writes (and waits for
    # a catch-up to end), so it may be a moment behind what TAXII shows.
    assert wait_for(lambda: shown(ring["c"], "trio", gone_a) and
                    shown(ring["b"], "trio", gone_c), WAIT_S)
    ring["a"].retract(gone_a["id"])
    ring["c"].retract(gone_c["id"])
    assert wait_for(lambda: all(hidden(ring[n], "trio", o) for n in "abc"
                                for o in (gone_a, gone_c)), WAIT_S)
    assert (early[1]["id"], early[1]["modified"]) in set(ring["c"].held("trio"))
