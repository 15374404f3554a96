"""Matching on a real ``thiqa serve``: its background indexer picks up a TAXII write at
once, and a ``thiqa load`` beside it is matched too; shutdown stays clean."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.conftest import TAXII, indicator
from tests.e2e.conftest import start_server, thiqa


def test_serve_indexes_writes_and_matches(tmp_path: Path) -> None:
    data = tmp_path / "node"
    first = thiqa(data, "init")
    key, coll = first["api_key"]["key"], first["collection"]["id"]
    server = start_server(data, key)
    auth = {"Authorization": f"Bearer {key}"}
    try:
        r = httpx.post(f"{server.base}/api/collections/{coll}/objects/",
                       headers={**auth, "Accept": TAXII, "Content-Type": TAXII},
                       json={"objects": [indicator(1, value="6.6.6.6")]}, timeout=10)
        assert r.status_code == 202
        deadline, got = time.monotonic() + 10, {}
        while time.monotonic() < deadline:
            got = httpx.post(f"{server.base}/api/match/", headers=auth,
                             json={"values": ["6.6.6.6", "evil[.]example"]}, timeout=10).json()
            if got["matched"]:
                break
            time.sleep(0.1)
        assert got["matched"] == 1 and got["results"][0]["matches"][0]["id"] == \
            indicator(1)["id"]
    finally:
        code = server.stop()
    assert code in (0, -15), server.output()
    assert "Traceback" not in server.output(), server.output()
