"""Webhooks delivered by the served node to a real local HTTP receiver: signed, in
sequence order, filtered by the policy, retried after a failure, resumed from the
durable cursor after a restart; and the CLI that manages them."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import World, indicator, reopen
from tests.stream.conftest import free_port, serve
from thiqa.cli import main
from thiqa.errors import BadRequest
from thiqa.node import Node
from thiqa.stream import webhooks
from thiqa.stream.model import Webhook
from thiqa.stream.sqlite import event_log
from thiqa.stream.wire import verify


class Receiver:
    """A loopback HTTP server that answers with the queued statuses (then 200) and keeps
    every request it accepted with 2xx."""

    def __init__(self) -> None:
        self.answers: queue.Queue[int] = queue.Queue()
        self.accepted: list[tuple[dict[str, str], bytes]] = []
        self.refused = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    status = outer.answers.get_nowait()
                except queue.Empty:
                    status = 200
                if status < 300:
                    outer.accepted.append(({k.lower(): v for k, v in self.headers.items()}, body))
                else:
                    outer.refused += 1
                self.send_response(status)
                self.send_header("Content-Length", "11")
                self.end_headers()
                self.wfile.write(b"not now :-(" if status >= 300 else b"thanks!    ")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict[str, Any]]:
        return [e for _, body in self.accepted for e in json.loads(body)["events"]]

    def wait_for(self, n: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.events()) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.events()


def settled(world: World, hook_id: str, delivered: int, timeout: float = 10.0) -> Webhook:
    """The webhook once the node recorded ``delivered`` deliveries (it records a delivery
    after the receiver's answer, so just after the receiver has it)."""
    log = event_log(world.node.store)
    deadline = time.monotonic() + timeout
    while True:
        hook = log.get_webhook(hook_id)
        assert hook is not None
        if hook.delivered >= delivered or time.monotonic() > deadline:
            return hook
        time.sleep(0.05)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def test_delivery_is_signed_ordered_filtered_and_retried(world: World,
                                                        receiver: Receiver) -> None:
    node = world.node
    log = event_log(node.store)
    hook = webhooks.add(node, log, "Agency B", receiver.url, secret="s3cret")
    receiver.answers.put(500)  # the first attempt fails
    live = serve(world)
    try:
        live.post("a_analyst", "shared", [indicator(n, tlp="green") for n in range(3)]
                  + [indicator(3, tlp="red")])
        live.post("a_analyst", "private", [indicator(4, tlp="clear")])
        live.post("a_analyst", "shared", [indicator(5, tlp="amber")])
        got = receiver.wait_for(4)
        assert receiver.refused >= 1
        # B's view: shared, below RED; in order; nothing of private.
        assert [e["id"] for e in got] == [indicator(n)["id"] for n in (0, 1, 2, 5)]
        assert [e["seq"] for e in got] == sorted(e["seq"] for e in got)
        for headers, body in receiver.accepted:
            assert verify("s3cret", body, headers["x-thiqa-signature"])
            assert not verify("other", body, headers["x-thiqa-signature"])
            assert headers["x-thiqa-webhook"] == hook.id
        stored = settled(world, hook.id, 4)
        assert stored.delivered == 4 and stored.cursor == got[-1]["seq"]
        assert stored.last_error == "the receiver answered HTTP 500: not now :-("
        assert stored.failures == 0 and stored.last_success_us is not None
    finally:
        live.stop()


def test_the_cursor_survives_a_restart(world: World, receiver: Receiver) -> None:
    hook = webhooks.add(world.node, event_log(world.node.store), "Agency B", receiver.url)
    live = serve(world)
    try:
        live.post("a_analyst", "shared", [indicator(n, tlp="green") for n in range(3)])
        assert len(receiver.wait_for(3)) == 3
        assert settled(world, hook.id, 3).delivered == 3
    finally:
        live.stop()
    # Written while no server runs (as `thiqa load` would), then delivered on restart.
    store = reopen(world.node.store)
    node = Node(world.node.settings, store, world.node.clock)
    principal = node.authenticate(f"Bearer {world.keys['a_analyst']}")
    node.add_objects(principal, "shared", [indicator(n, tlp="green") for n in range(3, 6)])
    again = serve(World(node, world.keys, world.shared, world.private, world.dropbox))
    try:
        got = receiver.wait_for(6)
        assert [e["id"] for e in got] == [indicator(n)["id"] for n in range(6)]
        time.sleep(0.3)
        assert len(receiver.events()) == 6  # nothing delivered twice
        stored = settled(World(node, world.keys, world.shared, world.private, world.dropbox),
                         hook.id, 6)
        assert stored.delivered == 6
    finally:
        again.stop()
        store.close()


def test_an_unreachable_receiver_is_reported_in_plain_words(world: World) -> None:
    log = event_log(world.node.store)
    port = free_port()  # nothing listens there
    hook = webhooks.add(world.node, log, "Agency B", f"http://127.0.0.1:{port}/x")
    live = serve(world)
    try:
        live.post("a_analyst", "shared", [indicator(1, tlp="green")])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            stored = log.get_webhook(hook.id)
            if stored is not None and stored.failures >= 2:
                break
            time.sleep(0.1)
        assert stored is not None and stored.failures >= 2  # retried
        assert stored.last_error is not None
        assert stored.last_error.startswith(f"could not connect to 127.0.0.1:{port}")
        assert stored.cursor == hook.cursor and stored.delivered == 0
    finally:
        live.stop()


def test_urls_beyond_loopback_need_https(world: World) -> None:
    log = event_log(world.node.store)
    with pytest.raises(BadRequest, match="https"):
        webhooks.add(world.node, log, "Agency B", "http://receiver.example/hook")
    with pytest.raises(BadRequest, match="URL"):
        webhooks.add(world.node, log, "Agency B", "ftp://127.0.0.1/")
    webhooks.add(world.node, log, "Agency B", "https://receiver.example/hook")


def test_cli_add_list_remove(tmp_path: Path) -> None:
    run = CliRunner()
    data = ["--data", str(tmp_path / "node")]

    def ok(*args: str) -> Any:
        r = run.invoke(main, [*args, *data, "--json"])
        assert r.exit_code == 0, r.output
        return json.loads(r.output)

    ok("init")
    added = ok("webhook", "add", "http://127.0.0.1:9/hook", "--org", "local",
               "--collection", "default")
    assert added["secret"] and added["backlog"] == 0 and added["last_success"] is None
    [listed] = ok("webhook", "list")
    assert listed["id"] == added["id"] and "secret" not in listed
    text = run.invoke(main, ["webhook", "list", *data])
    assert "backlog 0, last success never" in text.output
    assert ok("webhook", "remove", added["id"])["removed"] is True
    assert ok("webhook", "list") == []
    r = run.invoke(main, ["webhook", "remove", added["id"], *data])
    assert r.exit_code == 1 and "no webhook" in r.output
