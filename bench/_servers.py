"""The two TAXII servers under test, each as a real process on a loopback port.

- thiqa: ``thiqa init --json`` (for the admin key), then ``thiqa serve``.
- medallion 3.0.0 (the OASIS reference server) with its memory backend: a config
  file names the backend, one user and the page size; the backend's data file holds
  discovery, one API root and its collections. Everything lives in the process's memory.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

import _procs

ACCEPT = "application/taxii+json;version=2.1"
# Both servers advertise the same limits, so the same envelopes are legal on both.
MAX_CONTENT_LENGTH = 200 * 1024 * 1024
PAGE_SIZE = 1000
MEDALLION_USER = ("bench", "bench-password")


@dataclass
class Server:
    """A running TAXII server and how to talk to it."""

    name: str
    proc: subprocess.Popen[bytes]
    root: str            # API root URL, ending with /
    auth: httpx.Auth

    def collection_url(self, collection: str) -> str:
        return f"{self.root}collections/{collection}/objects/"

    def client(self, timeout: float = 600.0) -> httpx.Client:
        # trust_env=False: no proxy from the environment; every request stays on loopback.
        return httpx.Client(auth=self.auth, timeout=timeout, trust_env=False,
                            headers={"Accept": ACCEPT})


class _Bearer(httpx.Auth):
    def __init__(self, key: str) -> None:
        self.header = f"Bearer {key}"

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        request.headers["Authorization"] = self.header
        yield request


def init_thiqa(data: Path, db: str = "") -> str:
    """Initialise a thiqa data directory (and its ``db``, if any); return its admin API key."""
    done = _procs.run(_procs.python("-m", "thiqa", "init", "--data", str(data), "--db", db,
                                    "--json"), timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"thiqa init failed: {done.stderr.decode(errors='replace')}")
    key: str = orjson.loads(done.stdout)["api_key"]["key"]
    return key


@contextmanager
def thiqa(data: Path, key: str, log: Path, db: str = "") -> Iterator[Server]:
    """``thiqa serve`` on an initialised data directory (and its ``db``), stopped on exit."""
    port = _procs.free_port()
    argv = _procs.python("-m", "thiqa", "serve", "--data", str(data), "--db", db,
                         "--host", "127.0.0.1",
                         "--port", str(port), "--log-level", "warning",
                         "--page-size", str(PAGE_SIZE),
                         "--max-content-length", str(MAX_CONTENT_LENGTH))
    proc = _procs.start(argv, port=port, log=log, timeout=60)
    try:
        yield Server("thiqa", proc, f"http://127.0.0.1:{port}/api/", _Bearer(key))
    finally:
        _procs.stop(proc)


def _medallion_data(port: int, collections: Sequence[str]) -> dict[str, object]:
    root = f"http://127.0.0.1:{port}/api/"
    return {
        "/discovery": {"title": "medallion (bench)", "description": "memory backend",
                       "default": root, "api_roots": [root]},
        "api": {
            "information": {"title": "bench", "description": "bench",
                            "versions": [ACCEPT], "max_content_length": MAX_CONTENT_LENGTH},
            "status": [],
            "collections": [
                {"id": cid, "title": cid, "description": "", "can_read": True,
                 "can_write": True, "media_types": ["application/stix+json;version=2.1"],
                 "objects": [], "manifest": []}
                for cid in collections
            ],
        },
    }


@contextmanager
def medallion(workdir: Path, collections: Sequence[str], log: Path) -> Iterator[Server]:
    """medallion with its memory backend and the given (empty) collections."""
    port = _procs.free_port()
    data = workdir / "medallion-data.json"
    config = workdir / "medallion-config.json"
    data.write_text(json.dumps(_medallion_data(port, collections)))
    config.write_text(json.dumps({
        "backend": {"module": "medallion.backends.memory_backend",
                    "module_class": "MemoryBackend", "filename": str(data)},
        "users": {MEDALLION_USER[0]: MEDALLION_USER[1]},
        "taxii": {"max_page_size": PAGE_SIZE},
    }))
    argv = _procs.python("-c", "from medallion.scripts.run import main; main()",
                         str(config), "--host", "127.0.0.1", "--port", str(port),
                         "--log-level", "WARN")
    proc = _procs.start(argv, port=port, log=log, timeout=60, cwd=workdir)
    try:
        yield Server("medallion", proc, f"http://127.0.0.1:{port}/api/",
                     httpx.BasicAuth(*MEDALLION_USER))
    finally:
        _procs.stop(proc)
