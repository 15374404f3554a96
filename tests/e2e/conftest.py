"""End-to-end fixtures: a real ``thiqa serve`` process on loopback, built with the CLI.

The session node is provisioned the way an operator builds one: ``thiqa init``, ``org
add``, ``key create`` and ``collection create``, each its own process with ``--json``.
It is then served by ``python -m thiqa serve`` on a free port. Every wait is bounded;
the server is stopped at the end of the session, or at once if its start fails.

The session node (page size 100, so a few hundred objects take several pages):

    key         org       collections it sees: (can_read, can_write)
    admin       Agency A  every collection: (True, True)
    a_analyst   Agency A  default, attack, scratch, shared, dropbox: (True, True)
    b_analyst   Agency B  shared: (True, False); dropbox: (False, True)
    b_reader    Agency B  shared: (True, False)

``attack`` receives the ATT&CK sample once (test_taxii2_client); ``default`` belongs to
the stix2 tests; ``scratch`` (Agency A's alone) takes the versioning and deletion tests,
each on objects of its own.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from tests.conftest import DATA, TAXII

STIX = "application/stix+json;version=2.1"
ICS = DATA / "attack" / "ics-attack-18.1.stix21.json"

PAGE_SIZE = 100
MAX_CONTENT_LENGTH = 2_000_000  # the ATT&CK sample (1.35 MB) fits; the whole ICS file does not
TITLE = "thiqa e2e node"
CONTACT = "soc@agency-a.example"

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
CLI_TIMEOUT_S = 60.0


# -- the CLI -------------------------------------------------------------------------------
def clean_env() -> dict[str, str]:
    """The caller's environment without THIQA_* settings: only the flags we pass count."""
    return {k: v for k, v in os.environ.items() if not k.startswith("THIQA_")}


def _command(data: Path, args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "thiqa", *args, "--data", str(data), "--json"]


def thiqa(data: Path, *args: str) -> Any:
    """Run one ``thiqa`` verb with ``--json``; its parsed output."""
    r = subprocess.run(_command(data, args), capture_output=True, text=True, env=clean_env(),
                       timeout=CLI_TIMEOUT_S, check=False)
    assert r.returncode == 0, f"thiqa {' '.join(args)} exited {r.returncode}: {r.stderr}"
    return json.loads(r.stdout)


def thiqa_all(data: Path, commands: Sequence[Sequence[str]]) -> list[Any]:
    """Run independent ``thiqa`` verbs side by side (SQLite serialises their writes)."""
    procs = [subprocess.Popen(_command(data, c), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=clean_env()) for c in commands]
    try:
        out = []
        for args, p in zip(commands, procs, strict=True):
            stdout, stderr = p.communicate(timeout=CLI_TIMEOUT_S)
            assert p.returncode == 0, f"thiqa {' '.join(args)} exited {p.returncode}: {stderr}"
            out.append(json.loads(stdout))
        return out
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


# -- the server process --------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    """One ``thiqa serve`` process; its output goes to a log file, shown when it fails."""

    data: Path
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Signal the server and wait for it to exit (killed if it will not); its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT_S)
        return self.proc.returncode

    def wait_ready(self, key: str) -> bool:
        """Wait (bounded) until discovery answers 200 to ``key``; False if the process
        exits or the time runs out first."""
        headers = {"Authorization": f"Bearer {key}", "Accept": TAXII}
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                r = httpx.get(f"{self.base}/taxii2/", headers=headers, timeout=2.0)
            except httpx.TransportError:
                time.sleep(0.05)
                continue
            return r.status_code == 200
        return False


def launch(data: Path, *flags: str) -> ServerProcess:
    """Start ``thiqa serve`` on a free loopback port, without waiting for it."""
    port = free_port()
    log = data.parent / f"serve-{data.name}-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "thiqa", "serve", "--data", str(data), "--port", str(port),
             "--log-level", "warning", *flags],
            stdout=out, stderr=subprocess.STDOUT, env=clean_env())
    return ServerProcess(data, port, proc, log)


def start_server(data: Path, key: str, *flags: str,
                 launched: ServerProcess | None = None) -> ServerProcess:
    """A ``thiqa serve`` process whose discovery answers ``key`` (``launched``, or a new one).

    A port taken by someone else between choosing and binding it is retried on another.
    """
    server = launched or launch(data, *flags)
    for attempt in range(3):
        if attempt:
            server = launch(data, *flags)
        if server.wait_ready(key):
            return server
        server.stop(signal.SIGKILL)
        if "address already in use" not in server.output().lower():
            break
    raise AssertionError(f"thiqa serve did not start:\n{server.output()}")


# -- the session node ----------------------------------------------------------------------
@dataclass(frozen=True)
class Node:
    server: ServerProcess
    keys: dict[str, str]         # who -> API key
    key_ids: dict[str, str]      # who -> public key id
    collections: dict[str, str]  # alias -> collection id

    @property
    def base(self) -> str:
        return self.server.base

    @property
    def discovery_url(self) -> str:
        return f"{self.base}/taxii2/"

    @property
    def api_root_url(self) -> str:
        return f"{self.base}/api/"

    def collection_url(self, alias: str) -> str:
        return f"{self.base}/api/collections/{self.collections[alias]}/"

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}", "Accept": TAXII}


def provision(data: Path, first: dict[str, Any]) -> tuple[dict[str, str], dict[str, str],
                                                         dict[str, str]]:
    """Add the session node's organisation, keys and collections with the CLI, beside the
    running server, after ``thiqa init`` printed ``first``: (keys, key ids, collections)."""
    only_a = ["--read", "Agency A", "--write", "Agency A"]
    # Two waves of independent verbs (the second needs Agency B).
    waves = [
        {"org B": ["org", "add", "Agency B"],
         "a_analyst": ["key", "create", "--org", "Agency A", "--role", "analyst"],
         "attack": ["collection", "create", "Attack", "--alias", "attack", *only_a],
         "scratch": ["collection", "create", "Scratch", "--alias", "scratch", *only_a]},
        {"b_analyst": ["key", "create", "--org", "Agency B", "--role", "analyst"],
         "b_reader": ["key", "create", "--org", "Agency B", "--role", "reader"],
         "shared": ["collection", "create", "Shared", "--alias", "shared",
                    "--read", "Agency A", "--read", "Agency B", "--write", "Agency A"],
         "dropbox": ["collection", "create", "Dropbox", "--alias", "dropbox",
                     "--read", "Agency A", "--write", "Agency A", "--write", "Agency B"]},
    ]
    keys = {"admin": first["api_key"]["key"]}
    key_ids = {"admin": first["api_key"]["id"]}
    collections = {"default": first["collection"]["id"]}
    for wave in waves:
        for name, out in zip(wave, thiqa_all(data, list(wave.values())), strict=True):
            if wave[name][0] == "key":
                keys[name], key_ids[name] = out["key"], out["id"]
            elif wave[name][0] == "collection":
                collections[name] = out["id"]
    return keys, key_ids, collections


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    data = tmp_path_factory.mktemp("e2e") / "node"
    first = thiqa(data, "init", "--org-name", "Agency A")
    flags = ("--page-size", str(PAGE_SIZE), "--max-content-length", str(MAX_CONTENT_LENGTH),
             "--title", TITLE, "--contact", CONTACT)
    # The server starts while the CLI adds the rest: admin verbs act on a running node.
    server = launch(data, *flags)
    try:
        keys, key_ids, collections = provision(data, first)
        server = start_server(data, keys["admin"], *flags, launched=server)
        yield Node(server, keys, key_ids, collections)
    finally:
        crashed = server.proc.poll() is not None
        server.stop()
    log = server.output()
    assert not crashed, f"thiqa serve died during the tests:\n{log}"
    # Every refusal is a ThiqaError (never logged); a logged traceback is a 500.
    assert "Traceback" not in log, f"thiqa serve logged an unexpected error:\n{log}"


# -- clients -------------------------------------------------------------------------------
class BearerAuth(requests.auth.AuthBase):
    """``Authorization: Bearer KEY`` for taxii2-client's ``auth=`` (it speaks Basic itself)."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.key}"
        return r


# -- real data -----------------------------------------------------------------------------
@functools.cache
def _ics_bytes() -> bytes:
    return ICS.read_bytes()


@functools.cache
def _ics() -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(_ics_bytes())["objects"])


def ics_raw() -> bytes:
    """The MITRE ATT&CK for ICS 18.1 bundle as published (3.5 MB, 1,826 objects)."""
    return _ics_bytes()


def ics_objects(kind: str | None = None) -> list[dict[str, Any]]:
    """The objects of the ICS bundle (of one type if given), in file order, as fresh copies
    that callers may change."""
    return [copy.deepcopy(o) for o in _ics() if kind is None or o["type"] == kind]


def pick(kind: str, n: int = 0) -> dict[str, Any]:
    """The ``n``-th object of type ``kind`` in the ICS bundle (a fresh copy)."""
    return copy.deepcopy([o for o in _ics() if o["type"] == kind][n])


def ics_sample() -> list[dict[str, Any]]:
    """553 real objects: all 453 non-relationship objects of ATT&CK for ICS (15 types,
    custom x-mitre-* types among them, 50 with non-ASCII text) and its first 100
    relationships."""
    nodes = [copy.deepcopy(o) for o in _ics() if o["type"] != "relationship"]
    return nodes + ics_objects("relationship")[:100]


def version_of(obj: dict[str, Any]) -> str:
    """The TAXII version of a STIX object: ``modified``, else ``created`` (§3.4.1)."""
    version: str = obj.get("modified") or obj["created"]
    return version
