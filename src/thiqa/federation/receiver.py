"""The receiving process: catch-up deliveries verified, validated and stored beside
``thiqa serve``, the way ``thiqa load`` reads and validates in a second process.

A catch-up stores thousands of versions a second, and every one of them goes through
Python steps that cannot be batched away: its JSON parsed, the originator's signature
and the chain checked (:mod:`thiqa.federation.verify`), validated, judged by the
re-sharing gate and written (:func:`thiqa.federation.receive.receive`). In the process
that serves TAXII, also runs the correlation indexer and talks HTTP to the partner, that
is one core at most. So catch-up hands the partner's fetch answers, **as the bytes that
arrived** (never parsed in the serving process), to this process, which opens the same
store and runs the very same gate (:meth:`thiqa.node.Node.receive`) on them: the serving
process pages and fetches the next pages meanwhile, and indexes what was stored.

Nothing about the result differs: the same verification, policy and write path, in one
transaction per delivery, committed before the answer comes back — the link saves its
position only then (a ``kill -9`` of either process loses nothing and stores nothing
twice: the batch is fetched again, and what is held is never stored again). The process
ends when its standard input closes (its parent stopped, or was killed).

Deliveries are pipelined: the parent may send the next delivery before the answer to
the one before (:meth:`Receiver.send`, then :meth:`Receiver.answer`), and a thread of
the child reads it meanwhile, so the child goes from one delivery to the next without
waiting for the parent to save its position and hand over the next few megabytes.
Answers come back in the order the deliveries were sent.

A node runs ``catchup_processes`` of them (:class:`Receivers`, 2 by default) and hands
the deliveries to each in turn: the store has one writer at a time, but most of a
delivery's work is before its transaction, so one process parses and verifies while
the other writes. On SQLite they take turns writing with a lock of their own
(``big_writes``), so the next starts as the last commits, and leave the WAL's
checkpoints to a thread. Deliveries of one catch-up hold different pages of the
partner's manifest; whatever the order they are stored in, the link saves its
position in manifest order, each only once every delivery before it is stored.

Protocol (frames on the pipes: an 8-byte length and a pickle; only between thiqa and
the child it started, never from a peer): first the store's locator and the node's
settings; then each ``("receive", peer, collection, [answer bytes, …])`` is answered,
in order, by ``("ok", stored, rejected)`` (outcome tuples), ``("malformed", reason)``
or ``("error", error class name, description)``.
"""

from __future__ import annotations

import contextlib
import pickle
import queue
import struct
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

import orjson

from thiqa import errors, memory
from thiqa.federation.receive import Received
from thiqa.settings import Settings
from thiqa.store.model import Outcome

if TYPE_CHECKING:
    from thiqa.node import Node
    from thiqa.store import Store

_LEN = struct.Struct("<Q")


def locator(store: Store) -> tuple[str, str] | None:
    """How another process opens ``store``: ("sqlite", path) or ("postgres", url); None
    for a store it cannot open (then deliveries are received in this process)."""
    from thiqa.store.sqlite import SQLiteStore

    if isinstance(store, SQLiteStore):
        return "sqlite", str(store.path)
    url = getattr(store, "url", None)
    if type(store).__name__ == "PostgresStore" and isinstance(url, str):
        return "postgres", url
    return None


def _send(out: IO[bytes], msg: tuple[Any, ...]) -> None:
    data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_LEN.pack(len(data)) + data)
    out.flush()


def _read(pipe: IO[bytes]) -> tuple[Any, ...] | None:
    head = pipe.read(_LEN.size)
    if len(head) < _LEN.size:
        return None
    (n,) = _LEN.unpack(head)
    data = pipe.read(n)
    if len(data) < n:
        return None
    msg: tuple[Any, ...] = pickle.loads(data)  # our own parent's or child's frames only
    return msg


class ReceiverError(Exception):
    """The receiving process failed or stopped; the delivery was not acknowledged."""


@dataclass(eq=False)
class _Child:
    """One started receiving process and what it was sent and has answered."""

    proc: subprocess.Popen[bytes]
    sent: int = 0
    read: int = 0
    answers: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    gone: str = ""  # why no more answers come from it, once it failed or was stopped


class Receiver:
    """A receiving process for one node, started on first use, restarted after it died.

    :meth:`send` hands a delivery over and returns its ticket; :meth:`answer` waits for
    the answer to a ticket. Any thread may send or wait: answers are matched to their
    tickets whatever the order of the waits. A ticket belongs to the process it was
    sent to: once that process is gone, what it had not answered never will be.
    """

    def __init__(self, node: Node) -> None:
        self.node = node
        self.where = locator(node.store)
        self._child: _Child | None = None
        self._lock = threading.Lock()  # the process and the sends
        self._reading = threading.Lock()  # the answers

    @property
    def available(self) -> bool:
        return self.where is not None

    @property
    def pid(self) -> int | None:
        child = self._child
        return None if child is None else child.proc.pid

    def _started(self) -> _Child:
        child = self._child
        if child is not None and child.proc.poll() is None:
            return child
        if child is not None:
            self._stop("stopped")
        proc = subprocess.Popen([sys.executable, "-m", "thiqa.federation.receiver"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        child = self._child = _Child(proc)
        assert proc.stdin is not None
        _send(proc.stdin, (self.where, self.node.settings))
        return child

    def send(self, peer: str, ref: str, answers: list[bytes]) -> tuple[_Child, int]:
        """Hand the fetch ``answers`` over for storing; the ticket for :meth:`answer`.
        Raises ReceiverError (the process failed: nothing acknowledged)."""
        with self._lock:
            try:
                child = self._started()
                assert child.proc.stdin is not None
                _send(child.proc.stdin, ("receive", peer, ref, answers))
            except (OSError, ValueError) as exc:
                self._stop(f"failed: {exc}")
                raise ReceiverError(f"the receiving process failed: {exc}") from exc
            child.sent += 1
            return child, child.sent

    def answer(self, ticket: tuple[_Child, int]) -> Received:
        """What :meth:`Node.receive` returned for the delivery of ``ticket``; raises
        ReceiverError (its process failed or was stopped first: nothing acknowledged),
        ValueError (an answer is malformed) or the gate's own ThiqaError."""
        child, n = ticket
        with self._reading:
            while n not in child.answers:
                if child.gone:
                    raise ReceiverError(f"the receiving process {child.gone}; the delivery "
                                        "will be fetched again")
                assert child.proc.stdout is not None
                try:
                    got, why = _read(child.proc.stdout), ""
                except (OSError, ValueError) as exc:
                    got, why = None, f"failed: {exc}"
                if got is None:
                    with self._lock:
                        if self._child is child:
                            code = self._stop(why)
                            why = why or f"stopped (exit code {code})"
                        child.gone = child.gone or why or "stopped"
                    continue
                child.read += 1
                child.answers[child.read] = got
            msg = child.answers.pop(n)
        if msg[0] == "ok":
            return Received([Outcome(*o) for o in msg[1]], [Outcome(*o) for o in msg[2]])
        if msg[0] == "malformed":
            raise ValueError(msg[1])
        kind = getattr(errors, str(msg[1]), None)
        if isinstance(kind, type) and issubclass(kind, errors.ThiqaError):
            raise kind(msg[2])
        raise ReceiverError(f"the receiving process failed: {msg[1]}: {msg[2]}")

    def receive(self, peer: str, ref: str, answers: list[bytes]) -> Received:
        """:meth:`send`, then :meth:`answer`."""
        return self.answer(self.send(peer, ref, answers))

    def _stop(self, why: str) -> int | None:
        child, self._child = self._child, None
        if child is None:
            return None
        child.gone = child.gone or why
        proc = child.proc
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        try:
            return proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(30)

    def close(self) -> None:
        """Stop the process: it sees its input close and ends after the delivery under
        way, if any, is committed."""
        with self._lock:
            self._stop("was stopped")


Ticket = tuple["Receiver", tuple[_Child, int]]


class Receivers:
    """The node's receiving processes (``catchup_processes``): deliveries go to each in
    turn, so that while one writes its transaction the next verifies and validates
    (the store takes their writes one at a time: write turns on SQLite, the write lock
    on PostgreSQL). Each is started at its first delivery."""

    def __init__(self, node: Node, size: int) -> None:
        self.all = [Receiver(node) for _ in range(max(1, size))]
        self._turn = 0
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self.all[0].available

    def __len__(self) -> int:
        return len(self.all)

    def send(self, peer: str, ref: str, answers: list[bytes]) -> Ticket:
        """:meth:`Receiver.send` to the next process in turn."""
        with self._lock:
            receiver = self.all[self._turn % len(self.all)]
            self._turn += 1
        return receiver, receiver.send(peer, ref, answers)

    def answer(self, ticket: Ticket) -> Received:
        receiver, inner = ticket
        return receiver.answer(inner)

    def close(self) -> None:
        for receiver in self.all:
            receiver.close()


def objects_of(answers: list[bytes]) -> list[Any]:
    """The objects of fetch answers (``{"objects": […], …}``), or ValueError."""
    out: list[Any] = []
    for raw in answers:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ValueError("the partner's answer is not JSON") from None
        objects = body.get("objects") if isinstance(body, dict) else None
        if not isinstance(objects, list):
            raise ValueError("malformed answer")
        out.extend(objects)
    return out


def _open(where: tuple[str, str], settings: Settings) -> Node:
    from thiqa.node import Node
    from thiqa.store.sqlite import SQLiteStore

    kind, at = where
    if kind == "sqlite":
        from pathlib import Path

        # Several receiving processes write big transactions side by side.
        return Node(settings, SQLiteStore(Path(at), big_writes=True))
    from thiqa.store.postgres import PostgresStore

    return Node(settings, PostgresStore(at))


def _serve(inp: IO[bytes], out: IO[bytes]) -> None:
    first = _read(inp)
    if first is None:
        return
    node = _open(*first)
    # The next delivery is read while this one is stored: the parent's write of it
    # never waits for us. At most one waits read, so memory stays bounded.
    ahead: queue.Queue[tuple[Any, ...] | None] = queue.Queue(1)
    threading.Thread(target=_read_ahead, args=(inp, ahead), daemon=True).start()
    try:
        while (msg := _next(ahead)) is not None:
            _, peer, ref, answers = msg
            try:
                got = node.receive(peer, ref, objects_of(answers))
            except ValueError as exc:
                _send(out, ("malformed", str(exc)))
            except errors.ThiqaError as exc:
                _send(out, ("error", type(exc).__name__, exc.description))
            except Exception as exc:  # the link must hear of it, whatever it was
                _send(out, ("error", type(exc).__name__, str(exc)))
            else:
                _send(out, ("ok", _fields(got.stored), _fields(got.rejected)))
            del msg, answers  # freed before waiting for the next, not after
    finally:
        node.store.close()


def _read_ahead(inp: IO[bytes], ahead: queue.Queue[tuple[Any, ...] | None]) -> None:
    try:
        while (msg := _read(inp)) is not None:
            ahead.put(msg)
    except (OSError, ValueError):
        pass
    ahead.put(None)


def _next(ahead: queue.Queue[tuple[Any, ...] | None], idle_s: float = 1.0
          ) -> tuple[Any, ...] | None:
    """The next delivery (None: the input closed). When none has come for ``idle_s``
    (the end of a catch-up, a pause in it), hand back what the deliveries freed first."""
    try:
        return ahead.get(timeout=idle_s)
    except queue.Empty:
        memory.trim()
        return ahead.get()


def _fields(outcomes: list[Outcome]) -> list[tuple[str, str, bool, str | None]]:
    return [(o.id, o.version, o.ok, o.message) for o in outcomes]


if __name__ == "__main__":
    from thiqa.bulk import _few_collections

    memory.limit()
    try:
        with _few_collections():
            _serve(sys.stdin.buffer, sys.stdout.buffer)
    except (KeyboardInterrupt, BrokenPipeError):
        sys.exit(1)
