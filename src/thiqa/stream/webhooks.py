"""Webhooks: the event log pushed to a URL, per organisation (and optionally one
collection), through the same policy as the stream.

Delivery is at least once and in sequence order: the worker POSTs the next batch of
events after the webhook's durable cursor, and moves the cursor only once the receiver
answered 2xx; a restart resumes from the cursor. A failure (no connection, timeout,
non-2xx) is recorded in plain words and retried after 1 s, 2 s, 4 s, … up to
``webhook_retry_max``. Receivers deduplicate by ``seq``.

Each payload is signed: ``X-Thiqa-Signature: sha256=<hex HMAC-SHA256 of the body with
the webhook's secret>``.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from starlette.concurrency import run_in_threadpool

from thiqa import __version__
from thiqa.auth import Principal
from thiqa.errors import BadRequest, NotFound, ThiqaError
from thiqa.node import Node
from thiqa.store.model import ApiKey
from thiqa.stream.bus import EventBus
from thiqa.stream.feed import Feed
from thiqa.stream.model import EventLog, Webhook
from thiqa.stream.wire import SIGNATURE_HEADER, signature, webhook_body

log = logging.getLogger("thiqa.stream")
BACKLOG_MOST = 100_000  # a backlog is counted up to this (then shown as "100000+")
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest(f"a webhook URL must be an http:// or https:// URL, not {url!r}")
    loopback = parts.hostname in _LOOPBACK or parts.hostname.startswith("127.")
    if parts.scheme == "http" and not loopback:
        raise BadRequest("a webhook beyond loopback must use https:// (the payloads carry "
                         "shared intelligence)")


def principal(node: Node, hook: Webhook) -> Principal:
    """The webhook reads as its organisation would (a reader key: reading is all it does)."""
    return Principal(ApiKey(f"webhook:{hook.id}", hook.org_id, "reader", "webhook",
                            hook.created_us), node.org(hook.org_id))


def feed(node: Node, events: EventLog, hook: Webhook) -> Feed:
    ref = None
    if hook.collection_pk is not None:
        ref = next((c.id for c in node.store.list_collections() if c.pk == hook.collection_pk),
                   f"#{hook.collection_pk}")
    f = Feed(node, events, lambda: principal(node, hook), ref, f"webhook {hook.id}")
    f.cursor = hook.cursor
    return f


def add(node: Node, events: EventLog, org_ref: str, url: str, *,
        collection_ref: str | None = None, secret: str | None = None) -> Webhook:
    """Register a webhook; it receives events from the current head on."""
    _check_url(url)
    org = node.org(org_ref)
    collection_pk = None
    if collection_ref is not None:
        collection = node.store.get_collection(collection_ref)
        if collection is None:
            raise NotFound(f"no collection {collection_ref!r}")
        collection_pk = collection.pk
    hook = Webhook(f"wh-{secrets.token_hex(6)}", org.id, collection_pk, url,
                   secret or secrets.token_urlsafe(32), node.clock.now_us(), events.head())
    feed(node, events, hook).window()  # the organisation must be able to read it now
    events.add_webhook(hook)
    node._admin("webhook.add", f"{hook.id} for {org.id} to {url}")
    return hook


def remove(node: Node, events: EventLog, hook_id: str) -> None:
    if not events.remove_webhook(hook_id):
        raise NotFound(f"no webhook {hook_id!r}")
    node._admin("webhook.remove", hook_id)


@dataclass(frozen=True, slots=True)
class HookStatus:
    hook: Webhook
    backlog: int | None  # None: the organisation may no longer read what it names
    problem: str | None


def status(node: Node, events: EventLog, hook: Webhook) -> HookStatus:
    try:
        return HookStatus(hook, feed(node, events, hook).backlog(BACKLOG_MOST), None)
    except ThiqaError as exc:
        return HookStatus(hook, None, exc.description)


def backoff_s(failures: int, most: int) -> float:
    """Seconds before the next attempt after ``failures`` consecutive failures."""
    return float(min(most, 2 ** max(0, failures - 1)))


def describe(exc: Exception, url: str, timeout: int) -> str:
    """A delivery failure in plain words."""
    where = urlsplit(url).netloc
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect to {where}: {exc or 'connection refused'}"
    if isinstance(exc, httpx.TimeoutException):
        return f"{where} did not answer within {timeout} s"
    return f"delivery to {where} failed: {type(exc).__name__}: {exc}"


class WebhookWorker:
    """Delivers every due webhook's next batch; sleeps until the bus wakes it, the next
    retry is due or ``idle_s`` passes. Stopped by a flag."""

    def __init__(self, node: Node, events: EventLog, bus: EventBus) -> None:
        self.node = node
        self.events = events
        self.bus = bus
        self.settings = node.settings
        self.stopping = False

    async def run(self) -> None:
        waiter = self.bus.subscribe()
        headers = {"User-Agent": f"thiqa/{__version__}", "Content-Type": "application/json"}
        try:
            async with httpx.AsyncClient(timeout=self.settings.webhook_timeout,
                                         headers=headers) as client:
                while not self.stopping:
                    waiter.clear()
                    try:
                        busy, next_due = await self._round(client)
                    except Exception:  # a failed round must not end delivery for good
                        log.exception("webhook delivery round failed")
                        busy, next_due = False, None
                    if busy or self.stopping:
                        continue
                    wait = float(self.settings.stream_heartbeat)
                    if next_due is not None:
                        wait = min(wait, max(0.0, (next_due - self.node.clock.now_us()) / 1e6))
                    await waiter.wait(wait)
        finally:
            waiter.close()

    def stop(self) -> None:
        self.stopping = True
        self.bus.publish()

    async def _round(self, client: httpx.AsyncClient) -> tuple[bool, int | None]:
        """One pass over the webhooks: (whether some batch was full, next retry in µs)."""
        busy, next_due = False, None
        for hook in await run_in_threadpool(self.events.webhooks):
            if self.stopping:
                break
            now_us = self.node.clock.now_us()
            if hook.next_attempt_us > now_us:
                due = hook.next_attempt_us
                next_due = due if next_due is None else min(next_due, due)
                continue
            full = await self.deliver(client, hook)
            busy = busy or full
        return busy, next_due

    async def deliver(self, client: httpx.AsyncClient, hook: Webhook) -> bool:
        """Deliver the next batch; whether it was full (more is waiting)."""
        f = feed(self.node, self.events, hook)
        try:
            batch = await run_in_threadpool(f.next, self.settings.stream_batch)
        except ThiqaError as exc:
            await self._failed(hook, f"cannot read for this webhook: {exc.description}")
            return False
        if not batch.events:
            return False
        body = webhook_body(hook.id, batch.json)
        last = batch.events[-1].seq
        try:
            r = await client.post(hook.url, content=body, headers={
                SIGNATURE_HEADER: signature(hook.secret, body), "X-Thiqa-Webhook": hook.id,
                "X-Thiqa-Last-Seq": str(last)})
        except httpx.HTTPError as exc:
            await self._failed(hook, describe(exc, hook.url, self.settings.webhook_timeout))
            return False
        if not 200 <= r.status_code < 300:
            text = r.text.strip().replace("\n", " ")[:200]
            await self._failed(hook, f"the receiver answered HTTP {r.status_code}"
                                     + (f": {text}" if text else ""))
            return False
        await run_in_threadpool(self.events.webhook_delivered, hook.id, last,
                                len(batch.events), self.node.clock.now_us())
        return batch.full

    async def _failed(self, hook: Webhook, error: str) -> None:
        now = self.node.clock.now_us()
        delay = backoff_s(hook.failures + 1, self.settings.webhook_retry_max)
        log.warning("webhook %s: %s; retrying in %.0f s", hook.id, error, delay)
        await run_in_threadpool(self.events.webhook_failed, hook.id, error, now,
                                now + int(delay * 1e6))
