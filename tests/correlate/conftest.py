"""A node with two organisations and a correlation service on its store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from thiqa.auth import Principal
from thiqa.clock import FakeClock
from thiqa.correlate.match import Result
from thiqa.correlate.service import Correlation, audience
from thiqa.node import Node


def ind(n: int, pattern: str, **extra: Any) -> dict[str, Any]:
    return {"type": "indicator", "spec_version": "2.1",
            "id": f"indicator--00000000-0000-4000-8000-{n:012d}",
            "created": "2024-01-01T00:00:00.000Z",
            "modified": extra.pop("modified", "2024-01-01T00:00:00.000Z"),
            "name": f"indicator {n}", "pattern": pattern, "pattern_type": "stix",
            "valid_from": "2024-01-01T00:00:00Z", **extra}


@dataclass
class Corr:
    node: Node
    correlation: Correlation
    a: Principal
    b: Principal
    clock: FakeClock

    def add(self, ref: str, *objects: dict[str, Any]) -> None:
        status = self.node.add_objects(self.a, ref, list(objects))
        assert not status.failures, status.failures
        self.correlation.indexer.catch_up()

    def match(self, *values: str, who: Principal | None = None) -> dict[str, Result]:
        return {r.value: r for r in self.correlation.matcher.match(
            list(values), audience(self.node, who))}

    def ids(self, value: str, who: Principal | None = None) -> list[str]:
        got = self.match(value, who=who).get(value)
        return [] if got is None else sorted(h.object_id[-2:] for h in got.hits)


@pytest.fixture
def corr(node: Node, clock: FakeClock) -> Iterator[Corr]:
    a_org, b_org = node.create_org("A"), node.create_org("B")
    a_key = node.create_key(a_org.id, "analyst")[0]
    b_key = node.create_key(b_org.id, "analyst")[0]
    node.create_collection("Shared", alias="shared", readers=[a_org.id, b_org.id],
                           writers=[a_org.id])
    node.create_collection("Private", alias="private", readers=[a_org.id], writers=[a_org.id])
    c = Correlation(node.settings, node.store, clock)
    yield Corr(node, c, Principal(a_key, a_org), Principal(b_key, b_org), clock)
    c.close()
