"""Signed tombstones: an originator's withdrawal of a version, verified wherever it goes.

When a version this node originated (signed here, :mod:`thiqa.federation.sign`) leaves
a collection — TAXII ``DELETE``, ``thiqa retract``, scope narrowing — the node signs a
tombstone with its node key before the entries go (:func:`sign_withdrawal`)::

    {"type": "thiqa-tombstone", "object": "indicator--…", "version": "2024-…Z",
     "what": "retract" | "delete", "collections": null | [{"id", "alias"}, …],
     "node": "node--…", "org": "identity--…", "key": "sha256:…", "time": "…Z",
     "value": "<base64 Ed25519 over the canonical record: every field above>",
     "hops": [{"node", "org", "key", "forwarded", "prev", "value"}, …]}

``collections`` is the scope withdrawn from (the originator's collections, by id and
alias), null for "from everywhere". ``hops`` are the forwarding nodes' signed hops,
exactly as on versions (:mod:`thiqa.federation.extension`); the first links to the
signed record with its ``value``.

A receiver (:class:`Checker`, :func:`receive`) applies a tombstone only when it is well
formed, names the version the event named, is signed by the key pinned for the node and
organisation it names (not revoked, valid at ``time``, :class:`~thiqa.federation.verify
.Verifier`'s key rules), every hop verifies, and the delivering node signed last. It
then withdraws only copies **received** from that originator (same organisation, same
originating node, signed no later than the tombstone), from the collections the scope
names (by alias, or by the link's remote collection when the originator itself
delivered it), or from every collection for an unscoped retraction. A tombstone that
fails is refused, recorded in the audit log (``federation.reject``) and shown by ``thiqa
peer status``; it changes nothing. Verified tombstones are kept (table ``tombstones``,
migration 0012): a relay serves them on with its hop, and a withdrawn version that
arrives later from a partner that has not heard of the withdrawal is not stored
(:func:`withdrawn`).

A node's own ``delete`` of a copy it received is not a tombstone: nothing is signed, it
withdraws that node's copy only, and its partners keep theirs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from thiqa import audit
from thiqa.federation import keys
from thiqa.federation.client import Partner, checked, collection_path
from thiqa.federation.extension import hop_record, link
from thiqa.federation.peers import sql_for
from thiqa.federation.verify import Refused, Verifier, _fields, _time, _verify
from thiqa.signing import canonical
from thiqa.store.model import (
    EVERYTHING,
    Collection,
    ObjectQuery,
    Record,
    Versions,
    Visibility,
)
from thiqa.timestamps import format_us, parse_us, version_key

if TYPE_CHECKING:
    from thiqa.federation.verify import Verdict
    from thiqa.node import Node
    from thiqa.stream.model import Event, EventLog

TYPE = "thiqa-tombstone"
RECORD_FIELDS = ("type", "object", "version", "what", "collections", "node", "org", "key",
                 "time")
WHAT = ("delete", "retract")
ASK_MOST = 1000   # events named in one request for their tombstones
_CHUNK = 400
PEER_KEY = "peer:"  # audit key id prefix, as in thiqa.federation.receive

Scope = tuple[tuple[str, str | None], ...]  # (collection id, alias) on the originator


@dataclass(frozen=True, slots=True)
class Tombstone:
    """A verified tombstone (or one this node signed)."""

    object_id: str
    version: str
    vkey: str
    what: str
    scope: Scope | None
    node_id: str
    org: str
    time_us: int
    body: dict[str, Any]  # the wire form: record, value, hops

    @property
    def digest(self) -> str:
        return link(_signed(self.body))

    def covers(self, c: Collection, remote: str | None = None) -> bool:
        """Whether the scope names ``c`` (by id or alias), or the partner's collection
        ``remote`` a link maps ``c`` to."""
        if self.scope is None:
            return True
        names = {x for pair in self.scope for x in pair if x}
        return c.id in names or (c.alias is not None and c.alias in names) or \
            (remote is not None and remote in names)


@dataclass(slots=True)
class Applied:
    """What became of the tombstones of one delivery."""

    withdrawn: int = 0
    accepted: int = 0
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # id, version, why

    @property
    def reason(self) -> str:
        return self.refused[0][2] if self.refused else ""


# -- storage (table tombstones, migration 0012) -----------------------------------------
class TombstoneTable:
    def __init__(self, store: object) -> None:
        self._q = sql_for(store)
        self.store: Any = store  # SQLiteStore or PostgresStore: _tx and _read

    def add(self, stones: Iterable[Tombstone], peer: str, now_us: int) -> None:
        rows = [(t.digest, t.object_id, t.vkey, t.what, t.org, t.node_id, t.time_us, peer,
                 now_us, canonical(t.body)) for t in stones]
        if rows:
            with self.store._tx() as cx:
                cx.executemany(self._q("INSERT INTO tombstones VALUES (?, ?, ?, ?, ?, ?, ?, "
                                       "?, ?, ?) ON CONFLICT (digest) DO NOTHING"), rows)

    def of(self, object_ids: Iterable[str]) -> list[tuple[Tombstone, str]]:
        """The tombstones kept for ``object_ids``, each with the peer it came from."""
        out: list[tuple[Tombstone, str]] = []
        ids = sorted(set(object_ids))
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            for peer, body in self.store._read(self._q(
                    f"SELECT peer, body FROM tombstones WHERE object_id IN ({marks}) "
                    "ORDER BY time_us, digest"), chunk):
                out.append((_parsed(orjson.loads(bytes(body))), str(peer)))
        return out


# -- the originator: signing --------------------------------------------------------------
def sign_withdrawal(node: Node, targets: Sequence[Collection], object_id: str,
                    versions: Versions, spec_versions: tuple[str, ...],
                    visibility: Visibility, what: str,
                    scope: Sequence[Collection] | None) -> int:
    """Sign and keep a tombstone for each version of ``object_id`` this node originated
    that is about to leave ``targets`` (the same selection the removal will make).
    Called before the removal, so a relay never sees the event without its tombstone.
    Returns the number of tombstones signed."""
    store = node.store
    records: list[Record] = []
    for c in targets:
        page = store.query(ObjectQuery(c.pk, ids=(object_id,), versions=versions,
                                       spec_versions=spec_versions, visibility=visibility,
                                       limit=10_000), bodies=False)
        records.extend(page.records)
    if not records:
        return 0
    prov = store.provenance([r.seq for r in records])
    own: dict[tuple[str, str], Record] = {}
    for r in records:
        p = prov.get(r.seq)
        if p is not None and p.batch_pk is not None:
            own.setdefault((version_key(r.version), r.originator), r)
    if not own:
        return 0
    key = node.node_key()
    me = keys.node_id(node)
    now = format_us(node.clock.now_us())
    where = None if scope is None else sorted(
        [{"id": c.id, "alias": c.alias} for c in scope], key=lambda x: str(x["id"]))
    stones = []
    for (_, org), r in sorted(own.items()):
        record = {"type": TYPE, "object": object_id, "version": r.version, "what": what,
                  "collections": where, "node": me, "org": org, "key": key.fingerprint,
                  "time": now}
        stones.append(_parsed({**record, "value": key.sign(record), "hops": []}))
    TombstoneTable(store).add(stones, "", node.clock.now_us())
    return len(stones)


# -- the receiver: verification ------------------------------------------------------------
class Checker:
    """Verifies tombstones delivered by one peer, with the trust store as of now."""

    def __init__(self, node: Node, peer: str) -> None:
        self.peer = peer
        self.verifier = Verifier(node.store.trusted_key, peer, node.clock.now_us())

    def parse(self, raw: Any, object_id: str, version: str) -> Tombstone:
        """The tombstone ``raw`` for (``object_id``, ``version``), well formed and naming
        that version, not verified yet; Refused."""
        if raw is None:
            raise Refused("unsigned: no tombstone signed by the originator came with it")
        if not isinstance(raw, dict) or set(raw) != {*RECORD_FIELDS, "value", "hops"}:
            raise Refused("malformed tombstone: it must have exactly "
                          f"{', '.join((*RECORD_FIELDS, 'value', 'hops'))}")
        if raw["type"] != TYPE or raw["what"] not in WHAT:
            raise Refused(f"malformed tombstone: type must be {TYPE!r}, what delete or "
                          "retract")
        _fields({k: raw[k] for k in ("node", "org", "key")}, ("node", "org", "key"),
                "tombstone")
        if not isinstance(raw["hops"], list):
            raise Refused("malformed tombstone: hops must be a list")
        try:
            t = _parsed(raw)
            link(_signed(raw))
        except (KeyError, TypeError, ValueError) as exc:
            raise Refused(f"malformed tombstone: {exc}") from None
        try:
            asked = version_key(version)
        except ValueError:
            asked = version
        if t.object_id != object_id or t.vkey != asked:
            raise Refused(f"the tombstone withdraws {t.object_id} version {t.version}, not "
                          f"{object_id} version {version}: a tombstone replayed for "
                          "another object")
        return t

    def verify(self, t: Tombstone) -> None:
        """Refused unless ``t`` (from :meth:`parse`) is signed by the key pinned for its
        originator, every hop verifies and the delivering node signed last."""
        raw = t.body
        v = self.verifier
        key = v._key(raw, t.time_us, "tombstone")
        if not _verify(key.public_key, _record(raw), raw["value"]):
            raise Refused(f"forged tombstone: its signature does not verify with key "
                          f"{key.fingerprint} of {key.node_id}")
        v.chain(_signed(raw), raw["hops"], "tombstone")


def receive(node: Node, peer: str, collection: Collection,
            entries: Sequence[tuple[str, str, Any]], remote: str | None = None) -> Applied:
    """Verify and apply the tombstones of one delivery: (object id, version, tombstone)
    each, into ``collection`` (pulled over a link to the partner's ``remote``, or pushed
    there). Refusals are recorded in the audit log; nothing refused changes anything."""
    checker = Checker(node, peer)
    out = Applied()
    good: list[Tombstone] = []
    table = TombstoneTable(node.store)
    known = {t.digest for t, _ in table.of(e[0] for e in entries)}
    me = keys.node_id(node)
    again: list[Tombstone] = []  # verified when first kept: applied again, not counted
    for object_id, version, raw in entries:
        try:
            t = checker.parse(raw, object_id, version)
            if me in _chain(t):
                continue  # this node's own, or back the way it came: applied here
            if t.digest in known:
                again.append(t)
                continue
            checker.verify(t)
            good.append(t)
            known.add(t.digest)
        except Refused as exc:
            out.refused.append((object_id, version,
                                f"tombstone of {object_id}: {exc}"[:500]))
    table.add(good, peer, node.clock.now_us())  # kept first: a relay serves it on
    collections = node.store.list_collections()
    for t in [*good, *again]:
        direct = remote if t.node_id == peer else None
        targets = [c for c in collections if t.covers(c, direct if c.pk == collection.pk
                                                      else None)]
        out.withdrawn += _withdraw(node, t, targets)
    out.accepted = len(good)
    now = node.clock.now_us()
    events = []
    if good:
        events.append(audit.Event(now, "", PEER_KEY + peer, "federation.withdraw", "ok",
                                  collection.id, tuple(dict.fromkeys(t.object_id for t in good)),
                                  f"{len(good)} tombstones from {peer} verified, "
                                  f"{out.withdrawn} entries withdrawn"))
    for object_id, _, why in out.refused:
        events.append(audit.Event(now, "", PEER_KEY + peer, "federation.reject", "denied",
                                  collection.id, (object_id,), f"from {peer} refused: {why}"
                                  [:1000]))
    if events:
        node._record(*events)
    return out


def _chain(t: Tombstone) -> set[str]:
    """The nodes that signed ``t``: its originator and every hop."""
    return {t.node_id, *(str(h.get("node")) for h in t.body["hops"] if isinstance(h, dict))}


def _withdraw(node: Node, t: Tombstone, targets: Sequence[Collection]) -> int:
    """Remove the copies of ``t``'s version received from its originator (same
    organisation and node, signed no later than ``t``) from ``targets``."""
    store = node.store
    removed = 0
    for c in targets:
        page = store.query(ObjectQuery(c.pk, ids=(t.object_id,),
                                       versions=Versions(keys=(t.vkey,)), limit=10,
                                       visibility=EVERYTHING), bodies=False)
        mine = [r for r in page.records if r.originator == t.org]
        if not mine:
            continue
        prov = store.provenance([r.seq for r in mine])
        for r in mine:
            p = prov.get(r.seq)
            if p is None or p.received is None or not _older(p.received, t):
                continue  # this node's own version, or one signed after the tombstone
            removed += store.delete_versions(c.pk, t.object_id, Versions(keys=(t.vkey,)), (),
                                             Visibility(originator=t.org), reason=t.what)
    return removed


def _older(received: bytes, t: Tombstone) -> bool:
    """Whether a received copy (its provenance extension) is ``t``'s originator's and
    was signed no later than ``t``."""
    try:
        sig = orjson.loads(received)["signature"]
        return bool(sig["node"] == t.node_id and sig["org"] == t.org
                    and parse_us(sig["signed"]) <= t.time_us)
    except (KeyError, TypeError, ValueError, orjson.JSONDecodeError):
        return False


def withdrawn(node: Node, collection: Collection, verdicts: Sequence[Verdict]) -> set[int]:
    """The indexes of accepted ``verdicts`` whose version a kept tombstone withdrew from
    ``collection`` already: they arrived after their withdrawal and are not stored."""
    ids = {v.object_id for v in verdicts if v.ok}
    if not ids:
        return set()
    stones: dict[tuple[str, str], list[Tombstone]] = {}
    for t, _ in TombstoneTable(node.store).of(ids):
        if t.covers(collection):
            stones.setdefault((t.object_id, t.vkey), []).append(t)
    if not stones:
        return set()
    out: set[int] = set()
    for i, v in enumerate(verdicts):
        if not v.ok or v.content is None:
            continue
        try:
            vkey = version_key(str(v.content.get("modified") or v.content.get("created")))
        except ValueError:
            continue
        if any(_older(v.provenance, t) for t in stones.get((v.object_id, vkey), ())):
            out.add(i)
    return out


# -- serving them: the endpoint, push and pull ---------------------------------------------
def _forwarded(node: Node, t: Tombstone, peer: str) -> dict[str, Any]:
    """``t`` as sent on: a tombstone signed here as is, a received one with this node's
    hop linked to the last element of its chain."""
    if not peer:
        return t.body
    key = node.node_key()
    chain = t.body["hops"]
    hop: dict[str, Any] = {"node": keys.node_id(node), "org": node.operating_org().id,
                           "key": key.fingerprint,
                           "forwarded": format_us(node.clock.now_us()),
                           "prev": link(chain[-1] if chain else _signed(t.body))}
    hop["value"] = key.sign(hop_record(hop))
    return {**t.body, "hops": [*chain, hop]}


def outgoing(node: Node, collection: Collection, events: Sequence[Event], to: str = ""
             ) -> list[dict[str, Any]]:
    """The signed tombstones of the removal ``events`` of ``collection`` (already read
    through the recipient's policy), each as ``{"kind", "id", "version", "seq",
    "tombstone"}``. A removal with no tombstone here (a plain delete of a received copy)
    is not sent on: it withdrew this node's copy only. Nor is one whose chain passes
    through node ``to`` already (it goes nowhere back the way it came)."""
    removals = [ev for ev in events if ev.kind in WHAT and ev.version]
    if not removals:
        return []
    kept: dict[tuple[str, str], list[tuple[Tombstone, str]]] = {}
    for t, peer in TombstoneTable(node.store).of(ev.object_id for ev in removals):
        if t.covers(collection) and to not in _chain(t):
            kept.setdefault((t.object_id, t.vkey), []).append((t, peer))
    out: list[dict[str, Any]] = []
    for ev in removals:
        try:
            vkey = version_key(ev.version)
        except ValueError:
            continue
        for t, peer in kept.pop((ev.object_id, vkey), []):  # each once per batch
            out.append({"kind": ev.kind, "id": ev.object_id, "version": ev.version,
                        "seq": ev.seq, "tombstone": _forwarded(node, t, peer)})
    return out


def served(node: Node, log: EventLog, who: Any, ref: str, seqs: Sequence[int]
           ) -> list[dict[str, Any]]:
    """For ``POST …/federation/tombstones/``: the signed tombstones of the removal
    events ``seqs`` of collection ``ref`` that ``who`` may see in its stream (the
    stream's one read policy: the events no other consumer would be told of stay
    unknown)."""
    from thiqa.stream.feed import Feed

    collection = node.readable(who, ref)
    feed = Feed(node, log, lambda: who, ref, "peer tombstones")
    _, window, _ = feed.window()
    events: list[Event] = []
    for seq in sorted(set(seqs)):
        found = log.after(seq - 1, window, 1)
        if found and found[0].seq == seq and found[0].kind in WHAT:
            events.append(found[0])
    return outgoing(node, collection, events)


async def pull(node: Node, partner: Partner, peer: str, remote: str,
               collection: Collection, removals: Sequence[tuple[int, str, str]]) -> Applied:
    """Ask the partner for the tombstones of its removal events ``removals`` (seq, id,
    version) on its collection ``remote``, and apply those that verify."""
    from starlette.concurrency import run_in_threadpool

    named = {seq: (oid, version) for seq, oid, version in removals}
    got: list[tuple[str, str, Any]] = []
    seqs = sorted(named)
    for start in range(0, len(seqs), ASK_MOST):
        r = await partner.client.post(collection_path(remote, "federation/tombstones/"),
                                      content=orjson.dumps({"events": seqs[start :
                                                                           start + ASK_MOST]}),
                                      headers={"Content-Type": "application/json"})
        checked(r, f"tombstones of {remote}")
        answer = r.json().get("tombstones")
        for entry in answer if isinstance(answer, list) else []:
            seq = entry.get("seq") if isinstance(entry, dict) else None
            if not isinstance(seq, int) or seq not in named:
                continue  # not one this node asked for: ignored, it changes nothing
            oid, version = named[seq]
            got.append((oid, version, entry.get("tombstone")))
    if not got:
        return Applied()  # plain deletes of the partner's own copies: nothing to do
    return await run_in_threadpool(receive, node, peer, collection, got, remote)


def pushed(raw: Any) -> list[tuple[str, str, Any]]:
    """The tombstones of a push body's ``removed``; ValueError when malformed."""
    if not isinstance(raw, list):
        raise ValueError("removed must be a list")
    out: list[tuple[str, str, Any]] = []
    for r in raw:
        if not (isinstance(r, dict) and r.get("kind") in WHAT
                and isinstance(r.get("id"), str) and isinstance(r.get("version"), str)):
            raise ValueError("each removed entry is {\"kind\": \"delete\"|\"retract\", "
                             "\"id\", \"version\", \"tombstone\"}")
        out.append((r["id"], r["version"], r.get("tombstone")))
    return out


# -- the record --------------------------------------------------------------------------
def _record(raw: dict[str, Any]) -> dict[str, Any]:
    """What the originator's key signs: every field but the signature and the hops."""
    return {k: raw[k] for k in RECORD_FIELDS}


def _signed(raw: dict[str, Any]) -> dict[str, Any]:
    """The record with its signature: what the first hop links to, and the digest."""
    return {**_record(raw), "value": raw["value"]}


def _parsed(raw: dict[str, Any]) -> Tombstone:
    object_id, version, scope = raw["object"], raw["version"], raw["collections"]
    if not isinstance(object_id, str) or "--" not in object_id or \
            not isinstance(version, str):
        raise ValueError("object must be a STIX id and version a timestamp")
    where: Scope | None = None
    if scope is not None:
        if not isinstance(scope, list) or not all(
                isinstance(c, dict) and set(c) == {"id", "alias"} and isinstance(c["id"], str)
                and (c["alias"] is None or isinstance(c["alias"], str)) for c in scope):
            raise ValueError("collections must be null or a list of {\"id\", \"alias\"}")
        where = tuple((c["id"], c["alias"]) for c in scope)
    return Tombstone(object_id, version, version_key(version), str(raw["what"]), where,
                     str(raw["node"]), str(raw["org"]), _at(raw["time"]), raw)


def _at(raw: Any) -> int:
    try:
        return _time(raw, "tombstone.time")
    except Refused as exc:
        raise ValueError(str(exc)) from None


__all__ = ["Applied", "Checker", "Tombstone", "TombstoneTable", "outgoing", "pull",
           "pushed", "receive", "served", "sign_withdrawal", "withdrawn"]
