"""Stream fixtures: the shared test world (tests/conftest.py) on a real clock, served by
uvicorn in a thread on a loopback port, so SSE is read over real HTTP (an in-process
ASGI transport collects a whole response before returning it, which a stream never
finishes)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from tests.conftest import TAXII, World
from thiqa.clock import Clock
from thiqa.settings import Settings
from thiqa.taxii import create_app

HEARTBEAT_S = 1


@pytest.fixture
def clock() -> Clock:  # type: ignore[override]
    # Real time: webhook retries wait for it to pass.
    return Clock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data=str(tmp_path), page_size=100, max_content_length=1_048_576,
                    stream_heartbeat=HEARTBEAT_S, stream_poll_ms=100, stream_batch=50,
                    webhook_timeout=2, webhook_retry_max=2, shutdown_grace=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Live:
    """A uvicorn server in a thread serving the world's node."""

    world: World
    port: int
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def post(self, who: str, collection: str, objects: list[dict[str, object]]) -> httpx.Response:
        headers = {**self.world.auth(who), "Content-Type": TAXII}
        r = httpx.post(self.url(f"/api/collections/{collection}/objects/"), headers=headers,
                       json={"objects": objects}, timeout=10)
        assert r.status_code == 202, r.text
        return r

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        assert not self.thread.is_alive(), "uvicorn did not stop"


def serve(world: World) -> Live:
    app = create_app(world.node.settings, world.node.store, world.node.clock)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            timeout_graceful_shutdown=1, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    return Live(world, port, server, thread)


@pytest.fixture
def live(world: World) -> Iterator[Live]:
    running = serve(world)
    yield running
    running.stop()


def sse_headers(world: World, who: str, last: int | None = None) -> dict[str, str]:
    h = {"Authorization": f"Bearer {world.keys[who]}", "Accept": "text/event-stream"}
    if last is not None:
        h["Last-Event-ID"] = str(last)
    return h
