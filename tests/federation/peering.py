"""Real data and a running three-node federation for the peering tests.

The lab (thiqa.federation.lab): nodes a, b, c; an agreement "A & B" (default TLP:AMBER)
and a community "Trio" of all three (default TLP:GREEN); a mesh — every node pulls
from every other.
"""

from __future__ import annotations

import copy
import functools
import json
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tests.conftest import DATA
from thiqa.federation.lab import Group, Lab, LabNode

SSLBL = DATA / "ioc-feeds" / "abusech-sslbl-stix21-feeds2stix"
AMBER = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
WAIT_S = 30.0


@functools.cache
def _indicators() -> tuple[dict[str, Any], ...]:
    """The real indicators of the abuse.ch SSL blacklist feeds (8,000+), in file order."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for path in sorted(SSLBL.glob("*/*.json")):
        for o in json.loads(Path(path).read_text())["objects"]:
            if o["type"] == "indicator" and o["id"] not in seen:
                seen.add(o["id"])
                out.append(o)
    return tuple(out)


_taken = 0


def indicators(n: int, *, tlp: str | None = None) -> list[dict[str, Any]]:
    """``n`` real indicators no other test took (with TLP:AMBER markings if asked)."""
    global _taken
    chosen = [copy.deepcopy(o) for o in _indicators()[_taken : _taken + n]]
    _taken += n
    assert len(chosen) == n, "the feeds have fewer indicators than the tests take"
    if tlp == "amber":
        for o in chosen:
            # Another object (an id of its own) with the same real content, marked AMBER.
            o["id"] = f"indicator--{uuid.uuid5(uuid.NAMESPACE_URL, o['id'] + '/amber')}"
            o["object_marking_refs"] = [AMBER]
    return chosen


def pairs(objects: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(o["id"], o["modified"]) for o in objects}


def running(lab: Lab, groups: Iterable[Group], links: Iterable[tuple[str, str, str]],
            start: Iterable[str] | None = None) -> Iterator[Lab]:
    """For a module fixture (``yield from running(…)``): provision ``lab`` with ``groups``
    and ``links``, start its nodes (or those named in ``start``), yield it, and stop
    every node afterwards, whatever the tests did."""
    lab.provision(groups, links)
    lab.start(start)
    try:
        yield lab
    finally:
        lab.stop()


def publish_all(node: LabNode, alias: str, objects: list[dict[str, Any]],
                batch: int = 100) -> None:
    """POST ``objects`` into the node's collection in envelopes of ``batch``, every one
    of them stored."""
    for i in range(0, len(objects), batch):
        chunk = objects[i : i + batch]
        assert node.publish(alias, chunk)["success_count"] == len(chunk)
