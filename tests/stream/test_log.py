"""The event log below HTTP: one node sequence over versions, tombstones and alerts,
paged replay, and per-consumer filtering through the read policy."""

from __future__ import annotations

import orjson
import pytest

from tests.conftest import World, indicator
from thiqa.errors import BadRequest, NotFound, Unauthenticated
from thiqa.handling import EXTENSION_ID, Tlp
from thiqa.store.model import ALL
from thiqa.stream.feed import Feed
from thiqa.stream.model import Audience, Event
from thiqa.stream.sqlite import event_log


def feed(world: World, who: str, ref: str | None = None, after: int = 0) -> Feed:
    node = world.node
    f = Feed(node, event_log(node.store), lambda: node.authenticate(
        f"Bearer {world.keys[who]}"), ref, "test")
    f.start(after)
    return f


def drain(f: Feed, limit: int = 1000) -> list[Event]:
    out: list[Event] = []
    while True:
        batch = f.next(limit)
        out.extend(batch.events)
        if not batch.events:
            return out


def publish(world: World, who: str, ref: str, *objs: dict[str, object]) -> None:
    principal = world.node.authenticate(f"Bearer {world.keys[who]}")
    status = world.node.add_objects(principal, ref, list(objs))
    assert not status.failures, status.failures


def test_versions_tombstones_and_alerts_share_one_increasing_sequence(world: World) -> None:
    node, log = world.node, event_log(world.node.store)
    assert log.head() == 0
    publish(world, "a_analyst", "shared", indicator(1, tlp="green"), indicator(2, tlp="green"))
    admin = node.authenticate(f"Bearer {world.keys['admin']}")
    node.delete(admin, "shared", indicator(1)["id"], ALL, ())  # type: ignore[arg-type]
    publish(world, "a_analyst", "shared", indicator(3, tlp="green"))
    a = node.authenticate(f"Bearer {world.keys['a_analyst']}")
    node.retract(a, str(indicator(2)["id"]))
    alert_seq = log.append_alert(b'{"match":"10.0.0.1"}', Audience(
        a.org.id, Tlp.AMBER, collection_pk=world.shared.pk), node.clock.now_us())
    publish(world, "a_analyst", "shared", indicator(4, tlp="green"))

    events = drain(feed(world, "admin"))
    kinds = [(e.kind, e.object_id[-1:]) for e in events]
    # A replay no longer holds the versions removed since (they are gone from the node),
    # only their tombstones, in the place of the removal.
    assert kinds == [("delete", "1"), ("version", "3"), ("retract", "2"), ("alert", ""),
                     ("version", "4")]
    seqs = [e.seq for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert seqs[0] == 3  # after the two versions (seqs 1 and 2)
    assert alert_seq == events[3].seq and log.head() == seqs[-1]
    assert events[0].version == "2024-01-01T00:00:00.000Z" and events[0].body is None
    assert orjson.loads(events[1].body or b"")["id"] == indicator(3)["id"]


def test_replay_pages_through_the_log_with_no_gap_and_no_duplicate(world: World) -> None:
    publish(world, "a_analyst", "shared", *[indicator(n, tlp="clear") for n in range(120)])
    admin = world.node.authenticate(f"Bearer {world.keys['admin']}")
    for n in range(0, 120, 7):  # tombstones interleaved with versions
        world.node.delete(admin, "shared", str(indicator(n)["id"]), ALL, ())
    whole = drain(feed(world, "admin"), limit=10_000)
    paged = feed(world, "admin")
    pages = []
    while batch := paged.next(13).events:
        assert len(batch) <= 13
        pages.append(batch)
    assert [e.seq for p in pages for e in p] == [e.seq for e in whole]
    # 102 versions still held, 18 tombstones (their versions are gone from the log).
    assert len(whole) == 120 and sum(e.kind == "delete" for e in whole) == 18
    # Resuming from any position gives exactly the rest.
    middle = whole[57].seq
    assert [e.seq for e in drain(feed(world, "admin", after=middle))] == [
        e.seq for e in whole[58:]]


def test_start_without_position_is_now_and_a_future_position_is_refused(world: World) -> None:
    publish(world, "a_analyst", "shared", indicator(1, tlp="green"))
    f = Feed(world.node, event_log(world.node.store),
             lambda: world.node.authenticate(f"Bearer {world.keys['admin']}"), None, "t")
    f.start(None)
    assert f.next(10).events == []
    publish(world, "a_analyst", "shared", indicator(2, tlp="green"))
    assert [e.object_id for e in f.next(10).events] == [indicator(2)["id"]]
    with pytest.raises(BadRequest, match="ahead"):
        f.start(10_000)


def seen(world: World, who: str, ref: str | None = None) -> list[tuple[str, str]]:
    return [(e.kind, e.object_id) for e in drain(feed(world, who, ref))]


def test_each_consumer_receives_only_what_it_may_read(world: World) -> None:
    node = world.node
    b = node.org("Agency B")
    green, amber, red = (indicator(1, tlp="green"), indicator(2, tlp="amber"),
                         indicator(4, tlp="red"))
    publish(world, "a_analyst", "shared", green, amber, red)
    publish(world, "a_analyst", "private", indicator(5, tlp="clear"))
    a = node.authenticate(f"Bearer {world.keys['a_analyst']}")
    node.retract(a, str(red["id"]))                       # a tombstone of a RED version
    node.retract(a, str(indicator(5)["id"]))              # a tombstone in private
    log = event_log(node.store)
    log.append_alert(b"{}", Audience(b.id, Tlp.RED, (b.id,)), node.clock.now_us())
    log.append_alert(b"{}", Audience(a.org.id, Tlp.RED, collection_pk=world.private.pk),
                     node.clock.now_us())
    g, am, r, p = (str(o["id"]) for o in (green, amber, red, indicator(5)))
    # B reads shared (not private): GREEN and AMBER, never the RED version nor its
    # tombstone, nothing of private, and the alert addressed to it.
    assert seen(world, "b_reader") == [("version", g), ("version", am), ("alert", "")]
    # A (originator) sees its RED version and both tombstones, and its private alert.
    assert seen(world, "a_reader") == [("version", g), ("version", am), ("retract", r),
                                       ("retract", p), ("alert", "")]
    # One collection's stream: that collection's events only (no node-wide alert).
    assert seen(world, "b_reader", "shared") == [("version", g), ("version", am)]
    assert seen(world, "a_reader", "private") == [("retract", p), ("alert", "")]
    # The admin sees everything.
    assert len(seen(world, "admin")) == 6


def test_red_reaches_its_named_recipients(world: World) -> None:
    b = world.node.org("Agency B")
    red = indicator(1, tlp="red")
    red["extensions"] = {EXTENSION_ID: {"extension_type": "property-extension",
                                        "recipients": [b.id]}}
    b_feed, a_feed = feed(world, "b_reader"), feed(world, "a_reader")
    publish(world, "a_analyst", "shared", red)
    a = world.node.authenticate(f"Bearer {world.keys['a_analyst']}")
    assert [(e.kind, e.object_id) for e in drain(b_feed)] == [("version", red["id"])]
    world.node.retract(a, str(red["id"]))
    assert [(e.kind, e.object_id) for e in drain(b_feed)] == [("retract", red["id"])]
    # The originator too (read only now: the version is gone, its tombstone is not).
    assert [(e.kind, e.object_id) for e in drain(a_feed)] == [("retract", red["id"])]
    # An organisation that is neither originator nor recipient sees neither.
    c = world.node.create_org("Agency C")
    world.node.grant("shared", c.id, read=True, write=False)
    c_key = world.node.create_key(c.id, "reader")[1]
    world.keys["c_reader"] = c_key
    assert seen(world, "c_reader") == []


def test_losing_access_ends_the_feed_and_a_revoked_key_too(world: World) -> None:
    f = feed(world, "b_reader", "shared")
    world.node.grant("shared", "Agency B", read=False, write=False)
    with pytest.raises(NotFound):
        f.next(10)
    g = feed(world, "a_reader")
    key_id = world.node.authenticate(f"Bearer {world.keys['a_reader']}").key.id
    world.node.revoke_key(key_id)
    with pytest.raises(Unauthenticated):
        g.next(10)


@pytest.mark.parametrize("ref", [None, "private"])
def test_a_public_collection_streams_its_clear_part_to_outsiders(world: World,
                                                                  ref: str | None) -> None:
    """Open publication reaches the stream as it reaches TAXII: only CLEAR versions, and
    only their tombstones, for an organisation outside the collection's scope."""
    world.node.set_public("private", True)
    c = world.node.create_org("Agency C")
    world.keys["c_reader"] = world.node.create_key(c.id, "reader")[1]
    f = feed(world, "c_reader", ref)
    publish(world, "a_analyst", "private", indicator(1, tlp="clear"), indicator(2, tlp="green"),
            indicator(3, tlp="amber"), indicator(4))
    assert [(e.kind, e.object_id) for e in drain(f)] == [("version", indicator(1)["id"])]
    admin = world.node.authenticate(f"Bearer {world.keys['admin']}")
    for n in (1, 2):
        world.node.delete(admin, "private", str(indicator(n)["id"]), ALL, ())
    assert [(e.kind, e.object_id) for e in drain(f)] == [("delete", indicator(1)["id"])]
