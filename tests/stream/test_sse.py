"""The SSE endpoints over real HTTP (uvicorn on loopback): live delivery, resume with
Last-Event-ID (header or query parameter) with no gap and no duplicate, also across a
server restart; tombstones; heartbeats; a revoked key ends the stream; errors before the
stream opens are TAXII error messages."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import TAXII, World, indicator, reopen
from tests.stream.conftest import HEARTBEAT_S, Live, serve, sse_headers
from tests.stream.sse import Reader
from thiqa.node import Node


def open_stream(live: Live, who: str, path: str = "/api/stream/",
                last: int | None = None) -> Reader:
    r = Reader(live.url(path), sse_headers(live.world, who, last))
    assert r.wait_open() == 200, r.body
    assert r.content_type.startswith("text/event-stream")
    return r


def test_posted_objects_arrive_in_order_with_the_node_sequence_as_id(live: Live) -> None:
    stream = open_stream(live, "b_reader")
    per_collection = open_stream(live, "a_reader", "/api/collections/private/stream/")
    try:
        live.post("a_analyst", "shared", [indicator(n, tlp="green") for n in range(5)])
        live.post("a_analyst", "private", [indicator(9, tlp="green")])
        frames = stream.take(5)
        assert [f.event for f in frames] == ["version"] * 5
        assert [f.json["id"] for f in frames] == [indicator(n)["id"] for n in range(5)]
        assert [int(f.id or 0) for f in frames] == [f.json["seq"] for f in frames]
        assert [f.json["seq"] for f in frames] == sorted(f.json["seq"] for f in frames)
        first = frames[0].json
        assert first["collection"] == live.world.shared.id
        assert first["object"] == indicator(0, tlp="green")
        assert first["version"] == "2024-01-01T00:00:00.000Z" and first["type"] == "indicator"
        assert stream.take(1, timeout=0.5) == []  # B never sees private
        [mine] = per_collection.take(1)
        assert mine.json["id"] == indicator(9)["id"]
    finally:
        stream.close()
        per_collection.close()


def test_resume_with_last_event_id_has_no_gap_and_no_duplicate(live: Live) -> None:
    live.post("a_analyst", "shared", [indicator(n, tlp="green") for n in range(120)])
    everything = open_stream(live, "b_reader", last=0)  # replay pages (stream_batch 50)
    try:
        frames = everything.take(120)
        assert len(frames) == 120
        seqs = [int(f.id or 0) for f in frames]
        assert seqs == sorted(set(seqs))
    finally:
        everything.close()
    cut = seqs[69]
    for how in ("header", "query"):
        if how == "header":
            resumed = open_stream(live, "b_reader", last=cut)
        else:
            resumed = open_stream(live, "b_reader", f"/api/stream/?last_event_id={cut}")
        try:
            live.post("a_analyst", "shared", [indicator(200 + len(how), tlp="green")])
            got = [int(f.id or 0) for f in resumed.take(51)]
            assert got[:50] == seqs[70:]
            assert len(got) == 51 and got[50] > seqs[-1]
        finally:
            resumed.close()


def test_resume_across_a_server_restart(world: World) -> None:
    first = serve(world)
    stream = open_stream(first, "b_reader", last=0)
    try:
        first.post("a_analyst", "shared", [indicator(n, tlp="green") for n in range(10)])
        got = stream.take(10)
        assert len(got) == 10
    finally:
        stream.close()
        first.stop()  # the app closes the store when it stops
    store = reopen(world.node.store)
    world2 = World(Node(world.node.settings, store, world.node.clock), world.keys,
                   world.shared, world.private, world.dropbox)
    second = serve(world2)
    try:
        second.post("a_analyst", "shared", [indicator(n, tlp="green") for n in range(10, 15)])
        resumed = open_stream(second, "b_reader", last=int(got[-1].id or 0))
        try:
            after = resumed.take(5)
            assert [f.json["id"] for f in after] == [indicator(n)["id"] for n in range(10, 15)]
            assert resumed.take(1, timeout=0.3) == []
        finally:
            resumed.close()
    finally:
        second.stop()
        store.close()


def test_deletion_and_retraction_arrive_as_tombstones(live: Live) -> None:
    live.post("a_analyst", "shared", [indicator(1, tlp="green"), indicator(2, tlp="red")])
    stream = open_stream(live, "b_reader")
    originator = open_stream(live, "a_reader")
    try:
        admin = live.world.auth("admin")
        oid = indicator(1)["id"]
        r = httpx.delete(live.url(f"/api/collections/shared/objects/{oid}/"), headers=admin)
        assert r.status_code == 200, r.text
        r = httpx.post(live.url("/api/retractions/"), json={"id": indicator(2)["id"]},
                       headers={**live.world.auth("a_analyst"), "Content-Type": TAXII})
        assert r.status_code == 200, r.text
        [gone] = stream.take(1)
        assert gone.event == "delete" and gone.json["id"] == oid
        assert gone.json["version"] == "2024-01-01T00:00:00.000Z" and "object" not in gone.json
        # B could never see the RED (unnamed) version: it is not told it left either.
        assert stream.take(1, timeout=0.5) == []
        assert [f.event for f in originator.take(2)] == ["delete", "retract"]
    finally:
        stream.close()
        originator.close()


def test_heartbeats_keep_an_idle_stream_alive(live: Live) -> None:
    stream = open_stream(live, "b_reader")
    try:
        beat = stream.comments.get(timeout=HEARTBEAT_S * 3)
        assert beat == "heartbeat"
        assert stream.frames.empty()
    finally:
        stream.close()


def test_a_revoked_key_ends_the_stream(live: Live) -> None:
    stream = open_stream(live, "b_reader")
    key_id = live.world.node.authenticate(f"Bearer {live.world.keys['b_reader']}").key.id
    live.world.node.revoke_key(key_id)
    [end] = stream.take(1, timeout=HEARTBEAT_S * 3)
    assert end.event == "end" and end.id is None
    assert "not valid" in end.json["reason"]
    assert stream.done.wait(5)


def test_removed_access_ends_a_collection_stream(live: Live) -> None:
    stream = open_stream(live, "b_reader", "/api/collections/shared/stream/")
    live.world.node.grant("shared", "Agency B", read=False, write=False)
    live.post("a_analyst", "shared", [indicator(1, tlp="green")])
    [end] = stream.take(1, timeout=HEARTBEAT_S * 3)
    assert end.event == "end"
    assert stream.done.wait(5)


@pytest.mark.parametrize(("path", "headers", "status"), [
    ("/api/stream/", {}, 401),
    ("/api/stream/", {"Last-Event-ID": "seven"}, 400),
    ("/api/stream/?last_event_id=-1", {}, 400),
    ("/api/stream/", {"Last-Event-ID": "999999"}, 400),
    ("/api/stream/", {"Accept": "application/json"}, 406),
    ("/api/collections/private/stream/", {}, 404),
    ("/api/collections/nope/stream/", {}, 404),
])
def test_errors_before_the_stream_are_taxii_error_messages(live: Live, path: str,
                                                          headers: dict[str, str],
                                                          status: int) -> None:
    h = {"Authorization": f"Bearer {live.world.keys['b_reader']}"} if status != 401 else {}
    r = httpx.get(live.url(path), headers={**h, **headers}, timeout=10)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/taxii+json")
    body = r.json()
    assert body["http_status"] == str(status) and body["title"]
