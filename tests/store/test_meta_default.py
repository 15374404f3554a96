"""``meta_default``: the first value set wins, for every process that races to set it
(the cursor secret of workers starting together on a new database)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.conftest import reopen
from thiqa.node import Node
from thiqa.settings import Settings
from thiqa.store import Store


def test_the_first_value_wins_and_stays(store: Store) -> None:
    assert store.meta_default("k", "first") == "first"
    assert store.meta_default("k", "second") == "first"
    assert store.get_meta("k") == "first"


def test_nodes_opening_together_share_one_cursor_secret(store: Store) -> None:
    others = [reopen(store) for _ in range(4)]
    try:
        with ThreadPoolExecutor(len(others)) as pool:
            secrets = set(pool.map(lambda s: Node(Settings(), s).cursor_secret, others))
        assert len(secrets) == 1
        assert Node(Settings(), store).cursor_secret in secrets
    finally:
        for s in others:
            s.close()
