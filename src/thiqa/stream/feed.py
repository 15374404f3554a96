"""One consumer's view of the event log.

A :class:`Feed` belongs to one consumer (an SSE connection or a webhook) and keeps its
position. Before every read it asks again who the consumer is (``who``: the API key
re-checked, so a revoked key ends the stream) and what it may read (entitlements read
afresh, so a removed member stops receiving at once), and turns that into the one read
policy's :class:`~thiqa.store.model.Visibility` (:mod:`thiqa.policy`): the store then
returns only events the consumer may see. A tombstone carries the handling of the
version it removes, so it reaches exactly the consumers that could see that version.
Reads of TLP:AMBER or stricter versions are recorded in the audit log, as on TAXII.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from thiqa import audit, policy
from thiqa.access import collection_access
from thiqa.auth import Principal
from thiqa.errors import BadRequest
from thiqa.handling import Tlp
from thiqa.node import Node
from thiqa.stream.model import Event, EventLog, Window
from thiqa.stream.wire import event_json


@dataclass(frozen=True, slots=True)
class Batch:
    events: list[Event]
    json: list[bytes]  # the events' wire JSON, in order
    full: bool         # the batch was cut at the limit: more may follow at once


def parse_position(text: str | None) -> int | None:
    """A Last-Event-ID (header or query parameter): a non-negative integer, or None."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    if not text.isdigit() or len(text) > 18:
        raise BadRequest(f"Last-Event-ID must be a sequence number this node sent (a "
                         f"non-negative integer), not {text[:40]!r}")
    return int(text)


class Feed:
    def __init__(self, node: Node, log: EventLog, who: Callable[[], Principal],
                 collection_ref: str | None, label: str) -> None:
        self.node = node
        self.log = log
        self.who = who
        self.ref = collection_ref
        self.label = label  # for the audit log: "stream" or "webhook <id>"
        self.cursor = 0

    def start(self, last: int | None) -> None:
        """Check access now (errors before the stream opens) and take the position:
        after ``last``, else the current head (only what happens from now on)."""
        self.window()
        head = self.log.head()
        if last is not None and last > head:
            raise BadRequest(f"Last-Event-ID {last} is ahead of this node's event log: it "
                             "was not sent by this node (or the node was restored from an "
                             "older backup); resume with an id this node sent, or 0")
        self.cursor = head if last is None else last

    def window(self) -> tuple[Principal, Window, dict[int, str]]:
        """Who the consumer is now, what it may read, and collection pk → id."""
        who = self.who()
        viewer = policy.viewer(who)
        collections = self.node.store.list_collections()
        ids = {c.pk: c.id for c in collections}
        if self.ref is not None:
            collection = self.node.readable(who, self.ref)  # NotFound/Forbidden when lost
            access = collection_access(who, collection, self.node.entitlements(who))
            return who, Window(policy.read_filter(viewer, collection, access), False), ids
        return who, Window(policy.seen_filter(viewer, *self.node.reach(who)), True), ids

    def next(self, limit: int) -> Batch:
        """The next events this consumer may see; advances the position past them."""
        who, window, ids = self.window()
        events = self.log.after(self.cursor, window, limit)
        if not events:
            return Batch([], [], False)
        guarded = [ev.object_id for ev in events
                   if ev.kind == "version" and ev.tlp >= Tlp.AMBER]
        if guarded:
            self.node.store.append_audit([audit.by(
                who, self.node.clock.now_us(), "read", objects=tuple(dict.fromkeys(guarded)),
                detail=f"{self.label}: {len(guarded)} TLP:AMBER or stricter versions")])
        self.cursor = events[-1].seq
        return Batch(events, [event_json(ev, ids) for ev in events], len(events) >= limit)

    def backlog(self, most: int) -> int:
        _, window, _ = self.window()
        return self.log.count_after(self.cursor, window, most)
