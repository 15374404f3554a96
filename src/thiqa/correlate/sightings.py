"""Matches published back as STIX 2.1 sightings (§5.2.1 sighting), the coordination
loop: the originator of an indicator learns that it was seen, and where.

One sighting per matched indicator and collection: ``sighting_of_ref`` the indicator,
``where_sighted_refs`` and ``created_by_ref`` the reporting organisation's identity,
``count`` how many of the submitted values hit it, ``first_seen``/``last_seen`` from the
organisation's kept observations (else the time of the match). It is written into the
collection the indicator was matched in — the community or agreement the originator
shared it into — by the ordinary write path (``Node.add_objects``): the caller's write
access, handling and the re-sharing gate apply as to any write. It carries the
indicator's TLP; a TLP:RED sighting names the indicator's originator as its recipient,
so that the originator may read it and nobody else beyond the reporter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from thiqa.auth import Principal
from thiqa.correlate.match import Hit, Result
from thiqa.correlate.observations import Observations
from thiqa.errors import ThiqaError
from thiqa.handling import EXTENSION_ID, TLP2_IDS, Tlp
from thiqa.node import Node
from thiqa.timestamps import format_us


@dataclass(slots=True)
class _Seen:
    hit: Hit
    count: int = 0
    first_us: int | None = None
    last_us: int | None = None
    values: set[str] = field(default_factory=set)


def sighting(node: Node, who: Principal, hit: Hit, count: int, first_us: int,
             last_us: int) -> dict[str, Any]:
    now = format_us(node.clock.now_us())
    obj: dict[str, Any] = {
        "type": "sighting", "spec_version": "2.1", "id": f"sighting--{node.clock.new_uuid()}",
        "created": now, "modified": now, "created_by_ref": who.org.id,
        "sighting_of_ref": hit.object_id, "where_sighted_refs": [who.org.id],
        "count": count, "first_seen": format_us(first_us), "last_seen": format_us(last_us),
        "object_marking_refs": [TLP2_IDS[Tlp(hit.tlp)]]}
    if hit.tlp == Tlp.RED and hit.originator and hit.originator != who.org.id:
        obj["extensions"] = {EXTENSION_ID: {"extension_type": "property-extension",
                                            "recipients": [hit.originator]}}
    return obj


def publish(node: Node, who: Principal, results: list[Result],
            observations: Observations | None = None) -> list[dict[str, Any]]:
    """Publish a sighting of every indicator among ``results`` (known-benign values
    excepted); one record per sighting written, or per collection refused."""
    now = node.clock.now_us()
    seen: dict[tuple[str, int], _Seen] = {}
    for r in results:
        if r.known_benign:
            continue
        kept = observations.seen(who.org.id, r.observed) if observations is not None else None
        for h in r.hits:
            if h.type != "indicator":
                continue
            s = seen.setdefault((h.object_id, h.collection_pk), _Seen(h))
            if r.observed.value not in s.values:
                s.values.add(r.observed.value)
                s.count += kept[2] if kept else 1
            first, last = (kept[0], kept[1]) if kept else (now, now)
            s.first_us = first if s.first_us is None else min(s.first_us, first)
            s.last_us = last if s.last_us is None else max(s.last_us, last)
    by_collection: dict[str, list[dict[str, Any]]] = {}
    for s in seen.values():
        by_collection.setdefault(s.hit.collection, []).append(
            sighting(node, who, s.hit, max(1, s.count), s.first_us or now, s.last_us or now))
    out: list[dict[str, Any]] = []
    for collection, objects in by_collection.items():
        try:
            status = node.add_objects(who, collection, objects)
        except ThiqaError as exc:
            out.append({"collection": collection, "error": exc.description,
                        "sighting_of_refs": [o["sighting_of_ref"] for o in objects]})
            continue
        refs = {o["id"]: o["sighting_of_ref"] for o in objects}
        out.extend({"id": ok.id, "sighting_of_ref": refs.get(ok.id), "collection": collection}
                   for ok in status.successes)
        out.extend({"id": bad.id, "sighting_of_ref": refs.get(bad.id or ""),
                    "collection": collection, "error": bad.message}
                   for bad in status.failures)
    return out
