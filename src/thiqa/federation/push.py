"""Push: deliver what this node holds to a partner (the hub topology: members push to
the convener's node, which redistributes within the community).

The queue of a push link is this node's own event log, which is durable: the link's
cursor (table ``peer_links``) is the last seq delivered, and everything after it that
the **partner's organisation may read** in the collection is waiting (the stream's
per-consumer policy, :class:`thiqa.stream.feed.Feed`, as that organisation). So the
sending node never sends what the partner may not see — an AMBER version of an
agreement between A and B is not in C's view of anything — and the partner checks
again on receipt (the verification gate and its re-sharing rules).

Each delivery is one POST of the next batch: the versions, with their signed
provenance (this node's hop added), minus those whose provenance shows they came
through the partner already (so nothing is echoed back along its own path), and the
tombstones. The cursor moves only after a 2xx answer; a failure is retried by the
worker with exponential backoff, and later events wait behind it (order is kept).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from starlette.concurrency import run_in_threadpool

from thiqa.auth import Principal
from thiqa.federation import keys, sync, tombstones
from thiqa.federation.client import Partner
from thiqa.federation.export import Trees
from thiqa.federation.extension import PROVENANCE_ID
from thiqa.federation.peers import LinkState, Peer, PeerTable
from thiqa.node import Node
from thiqa.store.model import ApiKey, Collection
from thiqa.stream.feed import Feed
from thiqa.stream.model import EventLog
from thiqa.timestamps import version_key


def principal(node: Node, peer: Peer) -> Principal:
    """The partner's organisation as a reader here: what it may be sent."""
    return Principal(ApiKey(f"peer:{peer.id}", peer.org_id, "reader", "peer",
                            peer.created_us), node.org(peer.org_id))


def _through(obj: dict[str, Any], node_id: str) -> bool:
    """Whether ``obj``'s provenance names ``node_id`` (as originator or a hop)."""
    ext = obj.get("extensions", {}).get(PROVENANCE_ID, {})
    chain = [ext.get("signature", {}), *ext.get("hops", [])]
    return any(isinstance(x, dict) and x.get("node") == node_id for x in chain)


class PushLink:
    def __init__(self, node: Node, log: EventLog, table: PeerTable, peer: Peer,
                 collection: Collection, remote: str, partner: Partner) -> None:
        self.node = node
        self.table = table
        self.peer = peer
        self.collection = collection
        self.remote = remote
        self.partner = partner
        self.feed = Feed(node, log, lambda: principal(node, peer), collection.id,
                         f"peer {peer.id}")
        self.trees = Trees()
        self.state = table.link(peer.id, collection.pk, "push", remote)
        self.feed.cursor = self.state.cursor or 0

    async def deliver(self) -> bool:
        """Deliver the next batch; whether there may be more right away. Raises on
        failure (SyncError, httpx errors, ThiqaError when the partner lost access)."""
        batch = await run_in_threadpool(self.feed.next, self.node.settings.stream_batch)
        if not batch.events:
            self.feed.cursor = self.state.cursor or 0
            if self.state.synced_us is None or self.state.failures:
                await self._save(replace(self.state, synced_us=self.node.clock.now_us()))
            return False
        pairs = [(ev.object_id, version_key(ev.version)) for ev in batch.events
                 if ev.kind == "version" and ev.version]
        removed = await run_in_threadpool(tombstones.outgoing, self.node, self.collection,
                                          batch.events, self.peer.id)
        me = keys.node_id(self.node)
        objects: list[dict[str, Any]] = []
        for start in range(0, len(pairs), sync.FETCH_MOST):
            found, _ = await run_in_threadpool(sync.fetch, self.node,
                                               principal(self.node, self.peer),
                                               self.collection.id,
                                               pairs[start : start + sync.FETCH_MOST],
                                               self.trees)
            objects.extend(o for o in found if not _through(o, self.peer.id))
        last = batch.events[-1].seq
        answer: dict[str, Any] = {}
        if objects or removed:
            try:
                answer = await self.partner.push(self.remote, {"node": me, "objects": objects,
                                                               "removed": removed})
            except BaseException:
                self.feed.cursor = self.state.cursor or 0  # the same batch next time
                raise
        now = self.node.clock.now_us()
        rejected = answer.get("rejected") or []
        s = replace(self.state, cursor=last,
                    transferred=self.state.transferred + int(answer.get("stored", 0)),
                    rejected=self.state.rejected + len(rejected), last_success_us=now,
                    failures=0, synced_us=None if batch.full else now)
        if rejected:
            s = replace(s, last_error=f"the partner refused {len(rejected)} versions, e.g.: "
                        f"{rejected[0].get('reason')}"[:500], last_error_us=now)
        await self._save(s)
        return batch.full

    async def _save(self, s: LinkState) -> None:
        self.state = s
        await run_in_threadpool(self.table.save, s)
