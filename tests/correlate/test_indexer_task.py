"""The background indexer of ``thiqa serve`` waits while a peer's catch-up stores a
backlog (``catchup_index_wait``), and indexes it once the catch-up ends."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import indicator
from thiqa.correlate import api
from thiqa.correlate.api import IndexerTask
from thiqa.correlate.service import Correlation
from thiqa.federation.pull import CatchUps
from thiqa.node import Node


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


async def _until(check: Any, timeout_s: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not check():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def _indexed(correlation: Correlation) -> int:
    return correlation.indexer.state()[0]


@pytest.fixture
def correlation(node: Node) -> Any:
    org = node.create_org("Agency A")
    node.create_collection("Shared", alias="shared", readers=[org.id], writers=[org.id])
    c = Correlation(node.settings, node.store, node.clock)
    yield c, node, node.operator_for(org.id)
    c.close()


def test_the_index_waits_for_a_catch_up_then_indexes_it(
        correlation: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    c, node, who = correlation
    monkeypatch.setattr(api, "DEFER_LOOK_S", 0.01)
    catchups, clock = CatchUps(), _Clock()

    async def scenario() -> None:
        wake = asyncio.Event()
        task = IndexerTask(c, wake, 0.05, deferring=lambda: bool(catchups),
                           defer_most=300, now=clock)
        running = asyncio.create_task(task.run())
        try:
            await _until(lambda: task.rounds >= 1)  # no catch-up: indexes as usual
            with catchups.one():
                node.add_objects(who, "shared", [indicator(n) for n in range(1, 4)])
                wake.set()
                await asyncio.sleep(0.3)
                assert _indexed(c) == 0  # written during the catch-up: not yet
                clock.t += 301  # waited its longest: indexes, catch-up or not
                await _until(lambda: _indexed(c) > 0)
                node.add_objects(who, "shared", [indicator(n) for n in range(4, 6)])
                wake.set()
                top = _indexed(c)
                await asyncio.sleep(0.3)
                assert _indexed(c) == top
            await _until(lambda: _indexed(c) > top)  # the catch-up ended
            assert c.indexer.state()[0] == c.indexer.state()[1]
        finally:
            task.stop()
            await running

    asyncio.run(scenario())


def test_with_no_wait_the_index_follows_a_catch_up(correlation: Any) -> None:
    c, node, who = correlation
    catchups = CatchUps()

    async def scenario() -> None:
        wake = asyncio.Event()
        task = IndexerTask(c, wake, 0.05, deferring=lambda: bool(catchups), defer_most=0)
        running = asyncio.create_task(task.run())
        try:
            with catchups.one():
                node.add_objects(who, "shared", [indicator(7)])
                wake.set()
                await _until(lambda: _indexed(c) > 0)
        finally:
            task.stop()
            await running

    asyncio.run(scenario())


def test_catch_ups_are_counted_while_they_run() -> None:
    catchups = CatchUps()
    assert not catchups
    with catchups.one():
        with catchups.one():
            assert catchups.running == 2
        assert catchups
    with pytest.raises(RuntimeError), catchups.one():
        raise RuntimeError("the link failed")
    assert not catchups

