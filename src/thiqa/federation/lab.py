"""A federation of real ``thiqa serve`` processes on loopback, in temporary data
directories: what ``thiqa demo``, the peering tests and bench/bench_federation.py run.

Each node is provisioned the way operators would do it (the same functions the CLI
verbs call): initialised with its own organisation; every node pins every other
node's identity document (``thiqa trust pin``); communities and agreements are created
under the same names on every node that is a member (so their collections get the
same alias on each, which is how peering maps them); each node mints an analyst API
key for each partner's organisation and adds the partner as a peer with that key
(``thiqa peer add``). Then each node is served by ``python -m thiqa serve`` (with
``--db`` for a node given a database URL: PostgreSQL nodes beside SQLite ones).
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from thiqa import bootstrap
from thiqa.federation import keys, peers, tls
from thiqa.federation import trust as trust_store
from thiqa.federation.peers import PeerTable
from thiqa.node import Node
from thiqa.settings import Settings
from thiqa.store import Store, open_store
from thiqa.store.model import ALL, EVERYTHING, ObjectQuery

TAXII = "application/taxii+json;version=2.1"
START_S = 30.0
# Served with short heartbeats and polls: the links notice a dead partner fast.
SERVE_ENV = {"THIQA_STREAM_HEARTBEAT": "2", "THIQA_STREAM_POLL_MS": "100",
             "THIQA_LOG_LEVEL": "warning", "THIQA_SHUTDOWN_GRACE": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LabNode:
    name: str
    data: Path
    port: int
    org_id: str = ""
    node_id: str = ""
    key: str = ""  # an analyst key of the node's own organisation
    proc: subprocess.Popen[bytes] | None = None
    # Served over HTTPS with the node's own certificate; peers then talk mutual TLS.
    tls: bool = False
    db: str = ""  # the node's database URL (``--db``); empty: SQLite in its data directory
    # Settings of its own for ``thiqa serve`` (THIQA_* variables), e.g. catchup_process.
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def verify(self) -> ssl.SSLContext | bool:
        """How the lab's own calls check the node: its certificate as the only anchor."""
        if not self.tls:
            return True
        ctx = ssl.create_default_context(cafile=str(tls.own_paths(self.data)[0]))
        ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        return ctx

    @property
    def log(self) -> Path:
        return self.data / "serve.log"

    def open(self) -> Node:
        """The node in-process (only while its server is stopped, for provisioning)."""
        return Node(Settings(data=str(self.data), org_name=f"Agency {self.name.upper()}",
                            db=self.db), self.store())

    def store(self) -> Store:
        return open_store(self.db, str(self.data))

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("THIQA_")}
        env.update(SERVE_ENV)
        if self.tls:
            # Peers present their certificates (refused unless pinned); the lab's own
            # calls present none, which "optional" lets through to the API key check.
            env.update({"THIQA_TLS": "on", "THIQA_TLS_CLIENT_AUTH": "optional"})
        env.update(self.env)
        out = self.log.open("ab")
        db = ["--db", self.db] if self.db else []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "thiqa", "serve", "--data", str(self.data), "--port",
             str(self.port), *db], stdout=out, stderr=subprocess.STDOUT, env=env)
        out.close()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"node {self.name} exited: {self.output()[-2000:]}")
            try:
                r = httpx.get(self.url + "/taxii2/", timeout=2.0, headers=self.headers(),
                              verify=self.verify())
                if r.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"node {self.name} did not start in {START_S} s")

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)
        self.proc = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() \
            else ""

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "Accept": TAXII}

    def publish(self, alias: str, objects: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """POST objects into a collection as the node's own analyst (TAXII 2.1 §5.5)."""
        r = httpx.post(f"{self.url}/api/collections/{alias}/objects/",
                       content=orjson.dumps({"objects": list(objects)}), timeout=60.0,
                       headers={**self.headers(), "Content-Type": TAXII}, verify=self.verify())
        r.raise_for_status()
        out: dict[str, Any] = r.json()
        return out

    def retract(self, object_id: str) -> None:
        r = httpx.post(f"{self.url}/api/retractions/", content=orjson.dumps({"id": object_id}),
                       headers={**self.headers(), "Content-Type": "application/json"},
                       timeout=30.0, verify=self.verify())
        r.raise_for_status()

    def held(self, alias: str) -> list[tuple[str, str]]:
        """Every (id, version) the collection holds, read straight from the database
        (works whether or not the server runs)."""
        store = self.store()
        try:
            c = store.get_collection(alias)
            if c is None:
                return []
            out: list[tuple[str, str]] = []
            after = None
            while True:
                page = store.query(ObjectQuery(c.pk, versions=ALL, after=after, limit=10_000,
                                               visibility=EVERYTHING), bodies=False)
                out.extend((r.id, r.version) for r in page.records)
                if not page.more:
                    return out
                after = page.cursor
        finally:
            store.close()


@dataclass(frozen=True)
class Group:
    """A community (or, with two members, an agreement) created on each member node."""

    name: str
    members: tuple[str, ...]
    tlp: str | None = None

    @property
    def agreement(self) -> bool:
        return len(self.members) == 2


@dataclass
class Lab:
    root: Path
    names: tuple[str, ...] = ("a", "b", "c")
    nodes: dict[str, LabNode] = field(default_factory=dict)
    # (host, guest) -> the API key minted at node host for guest's organisation
    minted: dict[tuple[str, str], str] = field(default_factory=dict)
    tls: bool = False  # every node over HTTPS, peers on mutual TLS
    # node name -> database URL (a PostgreSQL node); the others keep SQLite
    db: dict[str, str] = field(default_factory=dict)
    # node name -> THIQA_* settings of that node's server
    env: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.nodes = {n: LabNode(n, self.root / n, free_port(), tls=self.tls,
                                 db=self.db.get(n, ""), env=dict(self.env.get(n, {})))
                      for n in self.names}

    def __getitem__(self, name: str) -> LabNode:
        return self.nodes[name]

    def provision(self, groups: Iterable[Group],
                  links: Iterable[tuple[str, str, str]]) -> None:
        """Initialise every node, pin every other, create ``groups``, and for each
        (node, partner, mode) of ``links`` add the partner as a peer of the node."""
        groups = list(groups)
        docs: dict[str, dict[str, Any]] = {}
        for ln in self.nodes.values():
            node = ln.open()
            try:
                first = bootstrap.initialise(node)
                if ln.tls:  # before the identity document, which carries its pin
                    tls.create(ln.data, datetime.now(UTC), common_name=f"thiqa {ln.name}")
                ln.org_id = first.org.id
                ln.node_id = keys.node_id(node)
                _, ln.key = node.create_key(first.org.id, "analyst", "lab")
                docs[ln.name] = keys.identity(node)
            finally:
                node.store.close()
        minted = self.minted
        for ln in self.nodes.values():
            node = ln.open()
            try:
                for other, doc in docs.items():
                    if other != ln.name:
                        trust_store.pin(node, doc)
                for g in groups:
                    if ln.name not in g.members:
                        continue
                    orgs = [self.nodes[m].org_id for m in g.members]
                    defaults = node.defaults_named(g.tlp, None)
                    if g.agreement:
                        node.create_agreement(orgs[0], orgs[1], name=g.name,
                                              defaults=defaults)
                    else:
                        node.create_community(g.name, members=orgs, defaults=defaults)
                for other in docs:
                    if other != ln.name:
                        _, minted[(ln.name, other)] = node.create_key(
                            self.nodes[other].org_id, "analyst", f"peer {other}")
            finally:
                node.store.close()
        for name, partner, mode in links:
            node = self.nodes[name].open()
            try:
                peers.add(node, self.nodes[partner].url, docs[partner],
                          minted[(partner, name)], mode=mode)
            finally:
                node.store.close()

    def start(self, names: Iterable[str] | None = None) -> None:
        chosen = [self.nodes[n] for n in (names or self.names)]
        for ln in chosen:
            ln.start()
        for ln in chosen:
            ln.wait_ready()

    def stop(self) -> None:
        for ln in self.nodes.values():
            ln.stop()

    def wait_linked(self, timeout_s: float = 30.0) -> bool:
        """Wait until every link of every running node is live (connected, no failure
        pending), read from the nodes' databases."""
        def live() -> bool:
            for ln in self.nodes.values():
                if ln.proc is None:
                    continue
                node = ln.open()
                try:
                    table = PeerTable(node.store)
                    expected = sum(len(peers.linked(node, p)) * len(p.directions())
                                   for p in table.all())
                    states = [s for p in table.all() for s in table.links(p.id)]
                finally:
                    node.store.close()
                if len(states) < expected or any(
                        s.failures or s.synced_us is None or s.cursor is None
                        for s in states):
                    return False
            return True
        return wait_for(live, timeout_s, 0.1)


def wait_for(check: Callable[[], bool], timeout_s: float, every_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(every_s)


class Watcher:
    """Follows a node's node-wide stream (as the node's own analyst) in a thread and
    notes when each (collection alias, object id) first arrived (time.monotonic)."""

    def __init__(self, ln: LabNode, aliases: dict[str, str]) -> None:
        self.ln = ln
        self.aliases = aliases  # collection id -> alias on that node
        self.seen: dict[tuple[str, str], float] = {}
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Watcher:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError(f"the stream of node {self.ln.name} did not open")
        return self

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.ln.key}", "Accept": "text/event-stream"}
        with httpx.stream("GET", self.ln.url + "/api/stream/", headers=headers,
                          timeout=httpx.Timeout(10.0, read=None), verify=self.ln.verify()) as r:
            self._ready.set()
            for line in r.iter_lines():
                if self._stop.is_set():
                    return
                if line.startswith("data: {"):
                    now = time.monotonic()
                    try:
                        ev = orjson.loads(line[6:])
                    except orjson.JSONDecodeError:  # a body sent over several data: lines
                        continue
                    if ev.get("kind") != "version":
                        continue
                    key = (self.aliases.get(ev["collection"], ev["collection"]), ev["id"])
                    with self._lock:
                        self.seen.setdefault(key, now)

    def arrived(self, alias: str, object_id: str) -> float | None:
        with self._lock:
            return self.seen.get((alias, object_id))

    def stop(self) -> None:
        self._stop.set()


def aliases(ln: LabNode) -> dict[str, str]:
    """Collection id -> alias on a running node (as its analyst sees them)."""
    r = httpx.get(ln.url + "/api/collections/", headers=ln.headers(), timeout=10.0,
                  verify=ln.verify())
    r.raise_for_status()
    return {c["id"]: c.get("alias") or c["id"] for c in r.json().get("collections", [])}
