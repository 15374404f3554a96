"""The stream of a real ``thiqa serve`` process on loopback, read with a real HTTP client
while objects are posted, while ``thiqa load`` writes from another process, and across
a restart of the server (resume with Last-Event-ID: no gap, no duplicate)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import TAXII, indicator
from tests.e2e.conftest import CLI_TIMEOUT_S, clean_env, start_server, thiqa
from tests.stream.sse import Reader


def test_live_stream_of_a_served_node(tmp_path: Path) -> None:
    data = tmp_path / "node"
    first = thiqa(data, "init")
    key, coll = first["api_key"]["key"], first["collection"]["id"]
    flags = ("--stream-heartbeat", "1", "--stream-poll-ms", "100", "--shutdown-grace", "1")
    server = start_server(data, key, *flags)
    sse = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream"}
    post = {"Authorization": f"Bearer {key}", "Accept": TAXII, "Content-Type": TAXII}
    try:
        stream = Reader(f"{server.base}/api/collections/{coll}/stream/", sse)
        assert stream.wait_open() == 200
        r = httpx.post(f"{server.base}/api/collections/{coll}/objects/", headers=post,
                       json={"objects": [indicator(n, tlp="green") for n in range(20)]})
        assert r.status_code == 202
        # Another process writes into the node: the poll fallback delivers it.
        bundle = tmp_path / "more.json"
        bundle.write_text(json.dumps({"type": "bundle", "id": "bundle--00000000-0000-4000-"
                                      "8000-000000000001", "objects": [
                                          indicator(n, tlp="green") for n in range(20, 30)]}))
        load = subprocess.run([sys.executable, "-m", "thiqa", "load", str(bundle), "--data",
                               str(data), "--no-index"], capture_output=True, text=True,
                              env=clean_env(), timeout=CLI_TIMEOUT_S, check=False)
        assert load.returncode == 0, load.stderr
        frames = stream.take(30, timeout=15)
        assert [f.json["id"] for f in frames] == [indicator(n)["id"] for n in range(30)]
        seqs = [int(f.id or 0) for f in frames]
        assert seqs == sorted(set(seqs))
        stream.close()
    finally:
        server.stop()
    assert "Traceback" not in server.output(), server.output()
    # Restart, publish, and resume from the last id received before the restart.
    server = start_server(data, key, *flags)
    try:
        r = httpx.post(f"{server.base}/api/collections/{coll}/objects/", headers=post,
                       json={"objects": [indicator(n, tlp="green") for n in range(30, 35)]})
        assert r.status_code == 202
        resumed = Reader(f"{server.base}/api/stream/", {**sse, "Last-Event-ID": str(seqs[-1])})
        assert resumed.wait_open() == 200
        after = resumed.take(5, timeout=15)
        assert [f.json["id"] for f in after] == [indicator(n)["id"] for n in range(30, 35)]
        assert resumed.take(1, timeout=0.5) == []  # no duplicate of what came before
        assert int(after[0].id or 0) > seqs[-1]
    finally:
        server.stop()  # with the stream still open: it is ended, not logged as an error
    [end] = resumed.take(1, timeout=5)
    assert end.event == "end" and "shutting down" in end.json["reason"]
    assert "Traceback" not in server.output(), server.output()
