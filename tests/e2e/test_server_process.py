"""What only a real process shows: restarts, a killed server, and the CLI working on the
database of a running node (DESIGN: stateless ``next``, durable acknowledged writes,
``thiqa load`` beside ``thiqa serve``, keys revoked at once)."""

from __future__ import annotations

import itertools
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from tests.e2e.conftest import (
    CLI_TIMEOUT_S,
    ICS,
    ServerProcess,
    clean_env,
    free_port,
    ics_objects,
    start_server,
    thiqa,
)


def default_collection(server: ServerProcess, first: dict[str, Any]) -> Collection:
    return Collection(f"{server.base}/api/collections/{first['collection']['id']}/",
                      user="admin", password=first["api_key"]["key"])


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess,
                                                                        dict[str, Any]]]:
    """A node fresh from ``thiqa init`` (default settings), served; its init output."""
    data = tmp_path_factory.mktemp("process") / "node"
    first = thiqa(data, "init")
    server = start_server(data, first["api_key"]["key"])
    try:
        yield server, first
    finally:
        server.stop()
    assert "Traceback" not in server.output(), server.output()


def test_next_token_and_acknowledged_writes_survive_a_killed_server(tmp_path: Path) -> None:
    data = tmp_path / "node"
    first = thiqa(data, "init")
    key = first["api_key"]["key"]
    posted = ics_objects("x-mitre-detection-strategy")[:30]
    server = start_server(data, key)
    try:
        status = default_collection(server, first).add_objects({"objects": posted})
        assert status.success_count == 30
        page1 = default_collection(server, first).get_objects(limit=10)
        assert page1["more"] is True and page1["next"]
    finally:
        server.stop(signal.SIGKILL)  # no shutdown at all: only what was committed remains
    server = start_server(data, key)
    try:
        coll = default_collection(server, first)
        # The token was issued by the killed process; it encodes a position and is signed
        # with the node's stored secret, so the new process goes on from there.
        page2 = coll.get_objects(limit=10, next=page1["next"])
        page3 = coll.get_objects(limit=10, next=page2["next"])
        assert (page2["more"], page3.get("more", False)) == (True, False)
        got = [o for p in (page1, page2, page3) for o in p["objects"]]
        assert len(got) == 30 and {o["id"]: o for o in got} == {o["id"]: o for o in posted}
    finally:
        code = server.stop(signal.SIGTERM)
    assert code in (0, -signal.SIGTERM), server.output()  # stopped, not killed
    with socket.socket() as s:  # nothing listens on its port any more
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        s.bind(("127.0.0.1", server.port))


def test_thiqa_load_beside_a_running_server(
        running: tuple[ServerProcess, dict[str, Any]]) -> None:
    server, first = running
    summary = thiqa(server.data, "load", str(ICS), "--collection", "default")
    assert (summary["read"], summary["stored"], summary["rejected"]) == (1826, 1826, 0)
    coll = default_collection(server, first)
    pages = list(itertools.islice(as_pages(coll.get_objects, per_request=1000), 3))
    assert [len(p["objects"]) for p in pages] == [1000, 826]
    got = {o["id"]: o for p in pages for o in p["objects"]}
    assert got == {o["id"]: o for o in ics_objects()}  # every object, JSON-equal to the file


def test_admin_verbs_take_effect_on_the_running_server(
        running: tuple[ServerProcess, dict[str, Any]]) -> None:
    server, first = running
    thiqa(server.data, "org", "add", "Agency C")
    minted = thiqa(server.data, "key", "create", "--org", "Agency C", "--role", "reader")
    root = ApiRoot(f"{server.base}/api/", user="c", password=minted["key"])
    assert root.collections == []  # a new key works at once; no grant yet: nothing listed
    thiqa(server.data, "collection", "grant", "default", "Agency C", "--read")
    root.refresh_collections()
    assert [(c.id, c.can_read, c.can_write) for c in root.collections] == [
        (first["collection"]["id"], True, False)]
    thiqa(server.data, "key", "revoke", minted["id"])
    with pytest.raises(requests.HTTPError) as refused:
        Server(f"{server.base}/taxii2/", user="c", password=minted["key"]).refresh()
    assert refused.value.response.status_code == 401  # revoked at once, no cache


def test_serve_refuses_to_listen_beyond_loopback_without_tls(tmp_path: Path) -> None:
    # Beyond loopback serve uses the node's own certificate (tests/federation/test_tls.py);
    # plain HTTP there is refused.
    r = subprocess.run(
        [sys.executable, "-m", "thiqa", "serve", "--data", str(tmp_path / "node"), "--host",
         "0.0.0.0", "--port", str(free_port()), "--tls", "off"],
        capture_output=True, text=True, env=clean_env(), timeout=CLI_TIMEOUT_S, check=False)
    assert r.returncode == 1
    assert r.stderr.startswith("error: ") and "TLS" in r.stderr
