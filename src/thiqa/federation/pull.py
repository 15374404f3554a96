"""Pull: catch up with a partner's collection over TAXII, then follow its live stream.

For one link (peer, local collection, the partner's collection):

1. **Catch-up** (first run, or when the partner's log no longer knows our position):
   note the head of the partner's event log, then page its TAXII manifest
   (``match[version]=all``, ``added_after``); for each page, ask only for the versions
   this collection lacks (:func:`thiqa.federation.sync.lacking`) and store them through
   the verification gate — in the node's receiving processes when it has them
   (:mod:`thiqa.federation.receiver`), which gets the fetch answers as they arrived.
   The manifest is paged ahead while fetching, and fetched ahead while storing; the
   receiving processes are handed the next deliveries before they answer the last. The
   page position is saved after the pages are stored, in order (a restart resumes
   the catch-up); at the end the stream position becomes the noted head.
2. **Follow**: ``GET /api/collections/{id}/stream/`` with ``Last-Event-ID``. Events are
   taken in batches (whatever has arrived, up to ``stream_batch``); for each batch the
   lacking versions are fetched with their provenance and stored, the tombstones
   applied, and only then is the position saved. A node killed in between fetches the
   batch again and stores nothing twice (a version held is never stored again).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import orjson
from starlette.concurrency import run_in_threadpool

from thiqa.federation import sync, tombstones
from thiqa.federation.client import Partner, SyncError, checked, collection_path, sse_events
from thiqa.federation.peers import LinkState, Peer, PeerTable
from thiqa.federation.receiver import ReceiverError, Receivers, Ticket
from thiqa.node import Node
from thiqa.store.model import Collection
from thiqa.timestamps import format_us, parse_us

MANIFEST_PAGE = 1000
PIPELINE = 3  # catch-up pages fetched ahead of those being stored
IN_FLIGHT = 2  # catch-up deliveries handed to each receiving process, not yet answered


class CatchUps:
    """How many links are catching up now: the node's observable indexer waits for them
    (:class:`thiqa.correlate.api.IndexerTask`)."""

    def __init__(self) -> None:
        self.running = 0

    def __bool__(self) -> bool:
        return self.running > 0

    @contextlib.contextmanager
    def one(self) -> Iterator[None]:
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1


@dataclass(slots=True)
class _Fetched:
    """One page of catch-up: the fetched objects (or, for the receiving process, the
    fetch answers as they arrived) and the page's position."""

    objects: list[Any] = field(default_factory=list)
    answers: list[bytes] = field(default_factory=list)
    last: int | None = None


@dataclass(slots=True)
class Stored:
    stored: int = 0
    rejected: int = 0
    withdrawn: int = 0
    reason: str = ""


class PullLink:
    def __init__(self, node: Node, table: PeerTable, peer: Peer, collection: Collection,
                 remote: str, partner: Partner, wrote: Any,
                 receiver: Receivers | None = None, catchups: CatchUps | None = None) -> None:
        self.node = node
        self.catchups = catchups if catchups is not None else CatchUps()
        # Catch-up deliveries are stored by the receiving process when there is one.
        self.receiver = receiver if receiver is not None and receiver.available else None
        self.table = table
        self.peer = peer
        self.collection = collection
        self.remote = remote
        self.partner = partner
        self.wrote = wrote  # wakes this node's streams after a write
        self.state = table.link(peer.id, collection.pk, "pull", remote)

    async def run(self) -> None:
        """Catch up if needed, then follow until the stream ends (raises SyncError)."""
        self.state = await run_in_threadpool(self.table.link, self.peer.id,
                                             self.collection.pk, "pull", self.remote)
        info = await self.partner.info(self.remote)
        if info.get("node") != self.peer.id:
            raise SyncError(f"the node at {self.partner.where} is {info.get('node')}, not the "
                            f"pinned peer {self.peer.id}")
        if self.state.cursor is not None and self.state.cursor > info["head"]:
            # The partner was restored from an older backup: its log restarted below us.
            await self._save(replace(self.state, cursor=None, catchup_head=None,
                                     catchup_after=None))
        if self.state.cursor is None:
            with self.catchups.one():
                await self.catch_up(int(info["head"]))
        await self.follow()

    async def catch_up(self, head: int) -> None:
        s = self.state
        if s.catchup_head is None:
            s = replace(s, catchup_head=head, catchup_after=None)
            await self._save(s)
        # The next pages are asked for (manifest, then the lacking versions) while this
        # one is stored: the partner's work and the network overlap with ours. At most
        # PIPELINE pages wait, so memory stays bounded whatever the collection's size.
        pages: asyncio.Queue[_Fetched | BaseException | None] = asyncio.Queue(PIPELINE)
        producer = asyncio.create_task(self._pages(s.catchup_after, pages))
        # Deliveries handed to the receiving processes, not yet answered (oldest first):
        # they go on with the next while this process saves the position of the last.
        sent: deque[tuple[asyncio.Task[Stored], int | None]] = deque()
        # In this process: none ahead.
        ahead = IN_FLIGHT * len(self.receiver) - 1 if self.receiver is not None else 0
        try:
            done = False
            while not done:
                # The pages already waiting are stored together: one transaction, one
                # audit record and one saved position for them all.
                batch = [await pages.get()]
                while len(batch) < PIPELINE and not pages.empty() \
                        and isinstance(batch[-1], _Fetched):
                    batch.append(pages.get_nowait())
                if not isinstance(batch[-1], _Fetched):
                    end = batch.pop()
                    if isinstance(end, BaseException):
                        raise end
                    done = True
                fetched = [p for p in batch if isinstance(p, _Fetched)]
                if fetched:
                    last = next((p.last for p in reversed(fetched) if p.last is not None),
                                None)
                    sent.append((await self._handed([o for p in fetched for o in p.objects],
                                                    [a for p in fetched for a in p.answers]),
                                 last))
                while sent and (done or len(sent) > ahead):
                    task, last = sent.popleft()
                    got = await task
                    after = last if last is not None else s.catchup_after
                    s = self._counted(replace(s, catchup_after=after), got)
                    await self._save(s)  # only once the pages are stored (kill -9 safe)
        finally:
            producer.cancel()
            for task, _ in sent:
                task.cancel()
            for t in [producer, *(task for task, _ in sent)]:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
        s = replace(s, cursor=s.catchup_head, catchup_head=None, catchup_after=None,
                    synced_us=self.node.clock.now_us(), failures=0)
        await self._save(s)

    async def _pages(self, after_us: int | None,
                     out: asyncio.Queue[_Fetched | BaseException | None]) -> None:
        """Page the partner's manifest from ``after_us``; put each page's lacking
        versions, fetched, on ``out`` in order; None at the end, or the failure. The
        manifest is paged ahead (up to PIPELINE pages) while the lacking versions of
        the pages before are fetched: the partner answers both at once."""
        listed: asyncio.Queue[tuple[list[tuple[str, str]], int | None] | None] = \
            asyncio.Queue(PIPELINE)

        async def pager(after_us: int | None) -> None:
            while True:
                after = None if after_us is None else format_us(after_us)
                items, more = await self.partner.manifest(self.remote, after, MANIFEST_PAGE)
                pairs = [(str(m.get("id", "")), str(m.get("version", ""))) for m in items]
                last = parse_us(str(items[-1].get("date_added"))) if items else None
                after_us = last if last is not None else after_us
                await listed.put((pairs, last))
                if not more or not items:
                    break
            await listed.put(None)

        paging = asyncio.create_task(pager(after_us))
        try:
            while True:
                if paging.done():
                    paging.result()  # raises the pager's failure
                    got = await listed.get()  # it ended: what it listed is queued
                else:
                    next_page = asyncio.create_task(listed.get())
                    await asyncio.wait([next_page, paging],
                                       return_when=asyncio.FIRST_COMPLETED)
                    if not next_page.done():
                        next_page.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await next_page
                        continue
                    got = next_page.result()
                if got is None:
                    break
                pairs, last = got
                page = await self._fetch(pairs, raw=self.receiver is not None)
                page.last = last
                await out.put(page)
            await out.put(None)
        except Exception as exc:  # handed to the consumer, which raises it
            await out.put(exc)
        finally:
            paging.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await paging

    async def follow(self) -> None:
        assert self.state.cursor is not None
        heartbeat = self.node.settings.stream_heartbeat
        headers = {"Accept": "text/event-stream", "Last-Event-ID": str(self.state.cursor)}
        queue: asyncio.Queue[tuple[str, str, str] | None] = asyncio.Queue()
        async with self.partner.client.stream(
                "GET", collection_path(self.remote, "stream/"), headers=headers,
                timeout=httpx.Timeout(10.0, read=3 * heartbeat + 5)) as r:
            if r.status_code != 200:
                await r.aread()
                checked(r, f"stream of {self.remote}")
            now = self.node.clock.now_us()  # connected: the link is live again
            await self._save(replace(self.state, failures=0, synced_us=now,
                                     last_success_us=now))

            async def read() -> None:
                try:
                    async for frame in sse_events(r.aiter_lines()):
                        await queue.put(frame)
                finally:
                    await queue.put(None)

            reader = asyncio.create_task(read())
            try:
                await self._consume(queue, reader)
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader

    async def _consume(self, queue: asyncio.Queue[tuple[str, str, str] | None],
                       reader: asyncio.Task[None]) -> None:
        most = self.node.settings.stream_batch
        while True:
            frames = [await queue.get()]
            while len(frames) < most and not queue.empty():
                frames.append(queue.get_nowait())
            ended = frames[-1] is None
            events: list[dict[str, Any]] = []
            for f in frames:
                if f is None:
                    break
                ident, kind, data = f
                if kind == "end":
                    reason = orjson.loads(data).get("reason", "") if data else ""
                    raise SyncError(f"the partner ended the stream of {self.remote}: {reason}")
                if ident and kind in ("version", "delete", "retract"):
                    events.append(orjson.loads(data))
            if events:
                await self._apply(events)
            elif queue.empty() and not ended:
                self.state = replace(self.state, synced_us=self.node.clock.now_us())
            if ended:
                if reader.done() and reader.exception() is not None:
                    raise reader.exception()  # type: ignore[misc]
                raise SyncError(f"the stream of {self.remote} closed")

    async def _apply(self, events: list[dict[str, Any]]) -> None:
        pairs = [(str(e["id"]), str(e["version"])) for e in events if e["kind"] == "version"]
        removals = [(int(e["seq"]), str(e["id"]), str(e["version"]))
                    for e in events if e["kind"] != "version"]
        got = await self._store(pairs, removals)
        s = self._counted(replace(self.state, cursor=int(events[-1]["seq"])), got)
        await self._save(s)

    async def _store(self, pairs: list[tuple[str, str]],
                     removals: list[tuple[int, str, str]]) -> Stored:
        """Fetch the lacking versions of ``pairs``, store them, and apply the signed
        tombstones of the removal events ``removals`` (seq, id, version)."""
        page = await self._fetch(pairs)
        got = await self._received(page.objects)
        if removals:
            done = await tombstones.pull(self.node, self.partner, self.peer.id, self.remote,
                                         self.collection, removals)
            got.withdrawn = done.withdrawn
            got.rejected += len(done.refused)
            got.reason = got.reason or done.reason
            if got.withdrawn:
                self.wrote()
        return got

    async def _fetch(self, pairs: list[tuple[str, str]], *, raw: bool = False) -> _Fetched:
        """The versions of ``pairs`` this collection lacks, fetched from the partner
        (``raw``: the answers kept as bytes, for the receiving process)."""
        missing = await run_in_threadpool(sync.lacking, self.node, self.collection.pk, pairs)
        wanted = [pairs[i] for i in missing]
        page = _Fetched()
        for start in range(0, len(wanted), sync.FETCH_MOST):
            chunk = wanted[start : start + sync.FETCH_MOST]
            if raw:
                page.answers.append(await self.partner.fetch_raw(self.remote, chunk))
            else:
                page.objects.extend((await self.partner.fetch(self.remote, chunk))["objects"])
        return page

    async def _received(self, objects: list[Any], answers: list[bytes] | None = None
                        ) -> Stored:
        """Store fetched ``objects`` (and the objects of the fetch ``answers``, in the
        receiving process) through the verification gate."""
        return await (await self._handed(objects, answers))

    async def _handed(self, objects: list[Any], answers: list[bytes] | None = None
                      ) -> asyncio.Task[Stored]:
        """:meth:`_received` as a task, once the ``answers`` are handed to a receiving
        process (the caller awaits the tasks in the order they were handed over)."""
        ticket = None
        if answers:
            assert self.receiver is not None
            try:
                ticket = await run_in_threadpool(self.receiver.send, self.peer.id,
                                                 self.collection.id, answers)
            except ReceiverError as exc:
                raise SyncError(str(exc)) from None
        return asyncio.create_task(self._stored(objects, ticket))

    async def _stored(self, objects: list[Any], ticket: Ticket | None) -> Stored:
        got = Stored()
        if ticket is not None:
            assert self.receiver is not None
            try:
                result = await run_in_threadpool(self.receiver.answer, ticket)
            except ValueError as exc:
                raise SyncError(f"fetching from {self.remote}: {exc}") from None
            except ReceiverError as exc:
                raise SyncError(str(exc)) from None
            got.stored += len(result.stored)
            got.rejected += len(result.rejected)
            if result.rejected:
                got.reason = result.rejected[0].message or ""
        if objects:
            result = await run_in_threadpool(self.node.receive, self.peer.id,
                                             self.collection.id, objects)
            got.stored += len(result.stored)
            got.rejected += len(result.rejected)
            if result.rejected:
                got.reason = got.reason or result.rejected[0].message or ""
        if got.stored:
            self.wrote()
        return got

    def _counted(self, s: LinkState, got: Stored) -> LinkState:
        now = self.node.clock.now_us()
        s = replace(s, transferred=s.transferred + got.stored,
                    rejected=s.rejected + got.rejected, withdrawn=s.withdrawn + got.withdrawn,
                    last_success_us=now, failures=0)
        if got.rejected:
            s = replace(s, last_error=f"{got.rejected} versions refused on receipt, e.g.: "
                        f"{got.reason}"[:500], last_error_us=now)
        return s

    async def _save(self, s: LinkState) -> None:
        self.state = s
        await run_in_threadpool(self.table.save, s)
