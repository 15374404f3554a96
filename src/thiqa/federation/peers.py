"""Peer records and their links: who this node exchanges with, and where each link is.

A **peer** is a partner node: its URL, its pinned identity (node id, organisation,
Ed25519 key, optionally a TLS certificate fingerprint), the API key this node presents
there, and a mode — ``pull`` (catch up with, then follow, the partner), ``push``
(deliver what this node has to the partner: the hub topology, members push to the
convener's node) or ``both``.

A **link** is one (peer, local collection, direction) with its durable position
(table ``peer_links``, migration 0011). Which collections a peer is linked through:

- those named with ``thiqa peer add --collection LOCAL[=REMOTE]`` (REMOTE: the id or
  alias on the partner; by default the same alias as LOCAL), else
- every collection of a community or agreement of which both this node's operating
  organisation and the partner's organisation are members, mapped to the collection of
  the same alias on the partner (communities created under the same name on both nodes
  get the same alias). Membership is read afresh by the worker: a partner added to a
  community later is linked then.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from thiqa.errors import BadRequest, ConfigError, Conflict, NotFound
from thiqa.federation import transport, trust
from thiqa.store.model import Collection
from thiqa.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from thiqa.node import Node

Mode = Literal["pull", "push", "both"]
Direction = Literal["pull", "push"]
MODES: tuple[Mode, ...] = ("pull", "push", "both")


def sql_for(store: object) -> Callable[[str], str]:
    """The store's form of a statement written with ``?`` placeholders (psycopg's
    ``%s`` on PostgreSQL); a ConfigError for a store peering cannot use."""
    if isinstance(store, SQLiteStore):
        return lambda sql: sql
    try:
        from thiqa.store.postgres import PostgresStore
    except ModuleNotFoundError:  # no driver, so no PostgreSQL store either
        pass
    else:
        if isinstance(store, PostgresStore):
            return lambda sql: sql.replace("?", "%s")
    raise ConfigError(f"peering cannot run on a {type(store).__name__}")


@dataclass(frozen=True, slots=True)
class Peer:
    id: str  # the partner's node id
    url: str
    org_id: str
    api_key: str
    key_fingerprint: str
    tls_fingerprint: str | None
    mode: Mode
    created_us: int

    def directions(self) -> tuple[Direction, ...]:
        return ("pull", "push") if self.mode == "both" else (self.mode,)


@dataclass(frozen=True, slots=True)
class LinkState:
    """A link's durable row (absent until the worker first runs it)."""

    peer_id: str
    collection_pk: int
    direction: Direction
    remote: str
    cursor: int | None = None
    catchup_head: int | None = None
    catchup_after: int | None = None
    transferred: int = 0
    rejected: int = 0
    withdrawn: int = 0
    last_success_us: int | None = None
    synced_us: int | None = None
    last_error: str | None = None
    last_error_us: int | None = None
    failures: int = 0


_PEER_COLS = "id, url, org_id, api_key, key_fingerprint, tls_fingerprint, mode, created_us"
_LINK_COLS = ("peer_id, collection_pk, direction, remote, cursor, catchup_head, "
              "catchup_after, transferred, rejected, withdrawn, last_success_us, synced_us, "
              "last_error, last_error_us, failures")
_REPLACE = ", ".join(f"{c} = excluded.{c}"
                     for c in [x.strip() for x in _LINK_COLS.split(",")][3:])


class PeerTable:
    """Peers, mappings and link states (migration 0011) on either store: statements
    written once, with ``?`` placeholders (:func:`sql_for`)."""

    def __init__(self, store: object) -> None:
        self._q = sql_for(store)
        self.store: Any = store  # SQLiteStore or PostgresStore: _tx and _read

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(self.store._read(self._q(sql), params))

    def add(self, peer: Peer, maps: dict[int, str]) -> None:
        with self.store._tx() as cx:
            cx.execute(self._q(f"INSERT INTO peers ({_PEER_COLS}) VALUES "
                               "(?, ?, ?, ?, ?, ?, ?, ?)"),
                       (peer.id, peer.url, peer.org_id, peer.api_key, peer.key_fingerprint,
                        peer.tls_fingerprint, peer.mode, peer.created_us))
            cx.executemany(self._q("INSERT INTO peer_maps VALUES (?, ?, ?)"),
                           [(peer.id, pk, remote) for pk, remote in maps.items()])

    def remove(self, peer_id: str) -> bool:
        with self.store._tx() as cx:
            for table in ("peer_maps", "peer_links"):
                cx.execute(self._q(f"DELETE FROM {table} WHERE peer_id = ?"), (peer_id,))
            return bool(cx.execute(self._q("DELETE FROM peers WHERE id = ?"),
                                   (peer_id,)).rowcount > 0)

    def all(self) -> list[Peer]:
        rows = self._read(f"SELECT {_PEER_COLS} FROM peers ORDER BY created_us, id")
        return [Peer(*r) for r in rows]

    def get(self, ref: str) -> Peer | None:
        rows = self._read(f"SELECT {_PEER_COLS} FROM peers WHERE id = ? OR url = ?",
                          (ref, ref.rstrip("/")))
        return Peer(*rows[0]) if rows else None

    def maps(self, peer_id: str) -> dict[int, str]:
        rows = self._read("SELECT collection_pk, remote FROM peer_maps WHERE peer_id = ?",
                          (peer_id,))
        return {int(pk): str(remote) for pk, remote in rows}

    def link(self, peer_id: str, collection_pk: int, direction: Direction,
             remote: str) -> LinkState:
        rows = self._read(f"SELECT {_LINK_COLS} FROM peer_links WHERE peer_id = ? AND "
                          "collection_pk = ? AND direction = ?",
                          (peer_id, collection_pk, direction))
        if rows:
            return LinkState(*rows[0])
        return LinkState(peer_id, collection_pk, direction, remote)

    def links(self, peer_id: str) -> list[LinkState]:
        rows = self._read(f"SELECT {_LINK_COLS} FROM peer_links WHERE peer_id = ? "
                          "ORDER BY collection_pk, direction", (peer_id,))
        return [LinkState(*r) for r in rows]

    def save(self, s: LinkState) -> None:
        with self.store._tx() as cx:
            # The link's whole row is this state (SQLite's INSERT OR REPLACE).
            cx.execute(self._q(f"INSERT INTO peer_links ({_LINK_COLS}) VALUES "
                               "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                               "ON CONFLICT (peer_id, collection_pk, direction) DO UPDATE SET "
                               + _REPLACE),
                       (s.peer_id, s.collection_pk, s.direction, s.remote, s.cursor,
                        s.catchup_head, s.catchup_after, s.transferred, s.rejected,
                        s.withdrawn, s.last_success_us, s.synced_us, s.last_error,
                        s.last_error_us, s.failures))


def add(node: Node, url: str, identity: Any, api_key: str, *, mode: str = "pull",
        collections: tuple[str, ...] = (), tls_fingerprint: str | None = None) -> Peer:
    """Record a partner: pin its identity document (unless that key is pinned already
    for that node), check the URL and the collection mapping, store the peer."""
    pinned_tls = identity.get("tls_fingerprint") if isinstance(identity, dict) else None
    base = transport.check_url(url, tls_fingerprint or (
        pinned_tls if isinstance(pinned_tls, str) else None))
    if mode not in MODES:
        raise BadRequest(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if not api_key.strip():
        raise BadRequest("--key: the API key this node uses at the partner is needed")
    if not isinstance(identity, dict):
        raise BadRequest("the partner's identity document must be a JSON object "
                         "(thiqa key show --json on the partner's node)")
    table = PeerTable(node.store)
    node_id = identity.get("node")
    if isinstance(node_id, str) and table.get(node_id) is not None:
        raise Conflict(f"{node_id} is already a peer: remove it first to change it")
    if table.get(base) is not None:
        raise Conflict(f"a peer at {base} exists already")
    fp = identity.get("fingerprint")
    pinned = node.store.trusted_key(fp) if isinstance(fp, str) else None
    if pinned is None or pinned.node_id != node_id or pinned.revoked_us is not None:
        pinned = trust.pin(node, identity, tls_fingerprint=tls_fingerprint)
    maps: dict[int, str] = {}
    for spec in collections:
        local_ref, _, remote = spec.partition("=")
        c = node.store.get_collection(local_ref.strip())
        if c is None:
            raise NotFound(f"--collection {spec!r}: no collection {local_ref!r} on this node")
        remote = remote.strip() or c.alias or c.id
        maps[c.pk] = remote
    peer = Peer(pinned.node_id, base, pinned.org_id, api_key.strip(), pinned.fingerprint,
                tls_fingerprint or pinned.tls_fingerprint, mode,
                node.clock.now_us())
    table.add(peer, maps)
    node._admin("peer.add", f"{peer.id} at {base} ({mode})")
    return peer


def remove(node: Node, ref: str) -> Peer:
    table = PeerTable(node.store)
    peer = table.get(ref)
    if peer is None:
        raise NotFound(f"no peer {ref!r} (give its node id or URL)")
    table.remove(peer.id)
    node._admin("peer.remove", f"{peer.id} at {peer.url}")
    return peer


def linked(node: Node, peer: Peer) -> list[tuple[Collection, str]]:
    """The collections ``peer`` is linked through now, with the partner's ref of each."""
    explicit = PeerTable(node.store).maps(peer.id)
    collections = node.store.list_collections()
    if explicit:
        return [(c, explicit[c.pk]) for c in collections if c.pk in explicit]
    me = node.operating_org().id
    mine = node.store.memberships(me)
    theirs = node.store.memberships(peer.org_id)
    shared = mine & theirs
    return [(c, c.alias or c.id) for c in collections
            if c.community_pk is not None and c.community_pk in shared]
