"""``thiqa peer status``: per peer and link, the last success, the lag, the queue and
the last error in plain words.

- **pull** links: the lag is the number of events of the partner's log after the
  link's position that this node's organisation may see (asked from the partner, so it
  is "unknown" when the partner cannot be reached — the error says why), and the time
  since the link last had nothing pending.
- **push** links: the queue is the number of events of this node's log after the
  link's cursor that the partner's organisation may read (counted here, up to 100,000).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from thiqa.errors import ThiqaError
from thiqa.federation import peers, transport
from thiqa.federation.client import Partner, describe
from thiqa.federation.peers import LinkState, Peer, PeerTable
from thiqa.federation.push import principal
from thiqa.node import Node
from thiqa.store.model import Collection
from thiqa.stream.feed import Feed
from thiqa.stream.sqlite import event_log
from thiqa.timestamps import format_us

QUEUE_MOST = 100_000
PROBE_S = 3.0


@dataclass(frozen=True, slots=True)
class LinkStatus:
    collection: Collection
    state: LinkState
    behind: int | None       # events pending (None: unknown)
    problem: str | None      # why it is unknown


def _t(us: int | None) -> str | None:
    return None if us is None else format_us(us)


def status(node: Node, peer: Peer, probe: bool = True) -> list[LinkStatus]:
    table = PeerTable(node.store)
    out: list[LinkStatus] = []
    pulls: list[tuple[Collection, LinkState]] = []
    for c, remote in peers.linked(node, peer):
        for d in peer.directions():
            s = table.link(peer.id, c.pk, d, remote)
            if d == "pull":
                pulls.append((c, s))
                continue
            feed = Feed(node, event_log(node.store), lambda: principal(node, peer), c.id,
                        "peer status")
            feed.cursor = s.cursor or 0
            try:
                out.append(LinkStatus(c, s, feed.backlog(QUEUE_MOST), None))
            except ThiqaError as exc:
                out.append(LinkStatus(c, s, None, f"cannot push: {exc.description}"))
    if pulls:
        lags = (asyncio.run(_probe(node, peer, pulls)) if probe
                else [(None, "not asked")] * len(pulls))
        out.extend(LinkStatus(c, s, n, why) for (c, s), (n, why) in zip(pulls, lags, strict=True))
    return sorted(out, key=lambda x: (x.collection.pk, x.state.direction))


async def _probe(node: Node, peer: Peer, pulls: list[tuple[Collection, LinkState]]
                 ) -> list[tuple[int | None, str | None]]:
    client = transport.client_for(peer.url, peer.api_key, peer.tls_fingerprint,
                                  transport.trust_for(node, peer.url), read_timeout=PROBE_S)
    partner = Partner(client)
    out: list[tuple[int | None, str | None]] = []
    try:
        for _, s in pulls:
            if s.cursor is None:
                out.append((None, "catching up" if s.catchup_head is not None
                            else "not started"))
                continue
            try:
                info = await partner.info(s.remote, s.cursor)
                out.append((int(info.get("behind", 0)), None))
            except Exception as exc:
                out.append((None, describe(exc, partner.where)))
    finally:
        await client.aclose()
    return out


def as_json(node: Node, peer: Peer, links: list[LinkStatus]) -> dict[str, Any]:
    now = node.clock.now_us()
    rows = []
    for ls in links:
        s = ls.state
        lag_s = None
        if ls.behind == 0 and s.synced_us is not None:
            lag_s = 0.0
        elif s.synced_us is not None:
            lag_s = round((now - s.synced_us) / 1e6, 3)
        rows.append({"collection": ls.collection.id, "alias": ls.collection.alias,
                     "remote": s.remote, "direction": s.direction, "position": s.cursor,
                     "catching_up": s.catchup_head is not None,
                     "behind_events": ls.behind, "behind_seconds": lag_s,
                     "queue": ls.behind if s.direction == "push" else None,
                     "transferred": s.transferred, "rejected": s.rejected,
                     "withdrawn": s.withdrawn, "last_success": _t(s.last_success_us),
                     "last_error": s.last_error, "last_error_at": _t(s.last_error_us),
                     "failing": s.failures, "problem": ls.problem})
    return {"peer": peer.id, "url": peer.url, "org": peer.org_id, "mode": peer.mode,
            "links": rows}


def as_text(d: dict[str, Any]) -> str:
    lines = [f"{d['peer']}  {d['url']}  ({d['mode']}, org {d['org']})"]
    if not d["links"]:
        lines.append("    no linked collections: neither --collection was given nor does a "
                     "community or agreement have both organisations as members")
    for r in d["links"]:
        behind = "?" if r["behind_events"] is None else str(r["behind_events"])
        secs = "" if r["behind_seconds"] is None else f", {r['behind_seconds']} s"
        what = "queue" if r["direction"] == "push" else "behind"
        lines.append(f"    {r['direction']:<4} {r['alias'] or r['collection']} <-> {r['remote']}: "
                     f"{what} {behind} events{secs}; {r['transferred']} transferred, "
                     f"{r['rejected']} rejected, {r['withdrawn']} withdrawn; last success "
                     f"{r['last_success'] or 'never'}")
        if r["failing"]:
            lines.append(f"        failing ({r['failing']} in a row) since "
                         f"{r['last_error_at']}: {r['last_error']}")
        elif r["last_error"]:
            lines.append(f"        last error {r['last_error_at']}: {r['last_error']}")
        if r["problem"] and r["problem"] != r["last_error"]:
            lines.append(f"        lag unknown: {r['problem']}")
    return "\n".join(lines)
