"""The receiving process (thiqa.federation.receiver) and the encoded fetch answers
(thiqa.federation.export.Encoded): the same gate and the same bytes as in-process."""

from __future__ import annotations

import contextlib
import copy
import os
import queue
import signal
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import indicator
from tests.federation.conftest import Peer, befriend
from tests.federation.test_federation import outgoing, publish, stored
from thiqa import memory
from thiqa.errors import Forbidden, NotFound
from thiqa.federation import receiver, sync
from thiqa.federation.export import Encoded, Trees
from thiqa.federation.receiver import Receiver, ReceiverError, Receivers, locator


def _answer(objects: list[dict[str, Any]]) -> bytes:
    return orjson.dumps({"objects": objects, "unsigned": []})


def test_the_receiving_process_runs_the_same_gate(peers: dict[str, Peer]) -> None:
    a, b = peers["a"], peers["b"]
    into = befriend(b, a)
    publish(a, *(indicator(n, tlp="green") for n in range(1, 6)))
    sent = outgoing(a)
    tampered = copy.deepcopy(sent[0])
    tampered["pattern"] = "[ipv4-addr:value = '198.51.100.99']"
    receiver = Receiver(b.node)
    assert receiver.available and locator(b.node.store) is not None
    try:
        # Two answers, as a catch-up hands over several pages at once.
        got = receiver.receive(a.id, into, [_answer(sent[:3]), _answer([*sent[3:], tampered])])
        assert len(got.stored) == 5
        assert [o.message for o in got.rejected] == [
            "tampered: the content does not match the originator's signature"]
        assert sorted(stored(b, into)) == sorted((o["id"], a.org) for o in sent)
        # Idempotent: delivered again, held already, stored nothing twice.
        again = receiver.receive(a.id, into, [_answer(sent)])
        assert len(again.stored) == 5 and not again.rejected
        assert len(stored(b, into)) == 5
    finally:
        receiver.close()


def test_refusals_come_back_as_the_gate_raises_them(peers: dict[str, Peer]) -> None:
    a, b, c = peers["a"], peers["b"], peers["c"]
    into = befriend(b, a)
    publish(a, indicator(7, tlp="green"))
    sent = outgoing(a)
    receiver = Receiver(b.node)
    try:
        with pytest.raises(ValueError, match="not JSON"):
            receiver.receive(a.id, into, [b"{not json"])
        with pytest.raises(ValueError, match="malformed"):
            receiver.receive(a.id, into, [b'{"objects": 3}'])
        with pytest.raises(Forbidden, match="not a peer"):
            receiver.receive(c.id, into, [_answer(sent)])
        with pytest.raises(NotFound):
            receiver.receive(a.id, "no-such-collection", [_answer(sent)])
        # The process survived every refusal.
        assert len(receiver.receive(a.id, into, [_answer(sent)]).stored) == 1
    finally:
        receiver.close()


def test_a_killed_receiving_process_is_started_again(peers: dict[str, Peer]) -> None:
    a, b = peers["a"], peers["b"]
    into = befriend(b, a)
    publish(a, indicator(8, tlp="green"), indicator(9, tlp="green"))
    sent = outgoing(a)
    receiver = Receiver(b.node)
    try:
        assert len(receiver.receive(a.id, into, [_answer(sent[:1])]).stored) == 1
        first = receiver.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        stat = Path(f"/proc/{first}/stat")
        deadline = time.monotonic() + 10
        # Dead, not yet reaped: its main thread a zombie and its reading thread gone too.
        while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z" \
                or len(os.listdir(f"/proc/{first}/task")) > 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert len(receiver.receive(a.id, into, [_answer(sent)]).stored) == 2
        assert receiver.pid not in (None, first)
        assert len(stored(b, into)) == 2
    finally:
        receiver.close()
    assert receiver.pid is None


def test_encoded_answers_are_what_fetch_exports(peers: dict[str, Peer]) -> None:
    a, b, h = peers["a"], peers["b"], peers["h"]
    into = befriend(b, a)
    publish(a, *(indicator(n, tlp="green") for n in range(20, 26)))
    sent = outgoing(a)
    assert len(b.node.receive(a.id, into, sent).stored) == 6
    pairs = [sync.pair(o["id"], o["modified"]) for o in sent]
    who = a.node.operator_for(a.org)
    trees, encoded = Trees(), Encoded(most=4)
    objects, unsigned = sync.fetch(a.node, who, "outbox", pairs, trees)
    answer = sync.fetch_answer(a.node, who, "outbox", pairs, trees, encoded)
    assert orjson.loads(answer) == {"objects": objects, "unsigned": unsigned}
    # The second peer's fetch is served from the kept encodings (bounded: 4 of 6).
    assert sum(encoded.get(r) is not None for r in range(1, 100)) == 4
    assert sync.fetch_answer(a.node, who, "outbox", pairs, trees, encoded) == answer
    # A forwarded version carries a hop signed per fetch: never kept.
    befriend(h, b)
    fwd = sync.fetch_answer(b.node, b.node.operator_for(b.org), into, pairs, None, Encoded())
    hops = [o["extensions"] for o in orjson.loads(fwd)["objects"]]
    assert len(hops) == 6
    kept = Encoded()
    sync.fetch_answer(b.node, b.node.operator_for(b.org), into, pairs, None, kept)
    assert all(kept.get(r) is None for r in range(1, 200))


def test_the_receiving_process_trims_when_no_delivery_comes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    trims: list[bool] = []
    monkeypatch.setattr(memory, "trim", lambda: trims.append(True) or True)
    ahead: queue.Queue[tuple[Any, ...] | None] = queue.Queue(1)
    ahead.put(("receive",))  # the next delivery was read already: no trim
    assert receiver._next(ahead, idle_s=0.05) == ("receive",)
    assert trims == []
    threading.Timer(0.3, ahead.put, [None]).start()
    assert receiver._next(ahead, idle_s=0.05) is None  # nothing came for a while
    assert trims == [True]


def test_deliveries_are_pipelined_and_answered_by_ticket(peers: dict[str, Peer]) -> None:
    a, b = peers["a"], peers["b"]
    into = befriend(b, a)
    publish(a, *(indicator(n, tlp="green") for n in range(30, 36)))
    sent = outgoing(a)
    receiver = Receiver(b.node)
    try:
        # Three handed over before any answer; waited for out of order.
        first = receiver.send(a.id, into, [_answer(sent[:2])])
        second = receiver.send(a.id, into, [b"{not json"])
        third = receiver.send(a.id, into, [_answer(sent[2:])])
        assert len(receiver.answer(third).stored) == 4
        with pytest.raises(ValueError, match="not JSON"):
            receiver.answer(second)
        assert len(receiver.answer(first).stored) == 2
        assert len(stored(b, into)) == 6
    finally:
        receiver.close()


def test_tickets_of_a_killed_process_fail_and_nothing_is_lost(peers: dict[str, Peer]) -> None:
    a, b = peers["a"], peers["b"]
    into = befriend(b, a)
    publish(a, indicator(40, tlp="green"), indicator(41, tlp="green"))
    sent = outgoing(a)
    receiver = Receiver(b.node)
    try:
        ticket = receiver.send(a.id, into, [_answer(sent[:1])])
        pid = receiver.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # before or after it stored the delivery
        with contextlib.suppress(ReceiverError):  # not acknowledged: fetched again
            receiver.answer(ticket)
        got = receiver.receive(a.id, into, [_answer(sent)])
        assert sorted(o.id for o in got.stored) == sorted(o["id"] for o in sent)
        assert receiver.pid not in (None, pid)
        # The dead process's tickets get no answer from the new one.
        with pytest.raises(ReceiverError, match="fetched again"):
            receiver.answer(ticket)
        assert len(stored(b, into)) == 2
    finally:
        receiver.close()


def test_deliveries_go_to_each_receiving_process_in_turn(peers: dict[str, Peer]) -> None:
    a, b = peers["a"], peers["b"]
    into = befriend(b, a)
    publish(a, *(indicator(n, tlp="green") for n in range(50, 58)))
    sent = outgoing(a)
    pool = Receivers(b.node, 2)
    try:
        tickets = [pool.send(a.id, into, [_answer(sent[i : i + 2])]) for i in range(0, 8, 2)]
        assert len({r.pid for r in pool.all}) == 2 and None not in {r.pid for r in pool.all}
        assert [t[0] for t in tickets] == [pool.all[0], pool.all[1]] * 2
        # Both wrote, one at a time (their write turns): every version once.
        assert [len(pool.answer(t).stored) for t in reversed(tickets)] == [2, 2, 2, 2]
        assert len(stored(b, into)) == 8
        again = [pool.send(a.id, into, [_answer(sent)]) for _ in range(2)]
        assert [len(pool.answer(t).stored) for t in again] == [8, 8]
        assert len(stored(b, into)) == 8
    finally:
        pool.close()
    assert {r.pid for r in pool.all} == {None}
