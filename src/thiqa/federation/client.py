"""Talking to a partner node: its endpoints, its errors in plain words, its SSE frames.

Every failure on a peer link becomes a :class:`SyncError` whose message says what
happened in words an operator can act on ("could not connect to 127.0.0.1:8472 (is the
partner's node running?)", "the partner refused the API key: …"); ``thiqa peer status``
shows it as the link's last error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from thiqa.errors import ThiqaError

TAXII = "application/taxii+json;version=2.1"


class SyncError(Exception):
    """A peer link failed; the message is for the operator."""


_WHAT = {401: "the partner refused the API key", 403: "the partner does not allow it",
         404: "the partner has no such collection for this node's organisation",
         413: "the partner found the request too large"}


def describe(exc: Exception, where: str) -> str:
    if isinstance(exc, SyncError):
        return str(exc)
    if isinstance(exc, ThiqaError):  # refused by this node (a push the policy stops)
        return f"this node refuses the link: {exc.description}"
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect to {where} (is the partner's node running?): {exc}"
    if isinstance(exc, httpx.TimeoutException):
        return f"{where} did not answer in time ({type(exc).__name__})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"{where} closed the connection: {exc}"
    if isinstance(exc, httpx.HTTPError):
        return f"talking to {where} failed: {type(exc).__name__}: {exc}"
    return f"{type(exc).__name__}: {exc}"


def _refusal(r: httpx.Response, what: str) -> SyncError:
    detail = ""
    try:
        body = orjson.loads(r.content)
        if isinstance(body, dict):
            detail = str(body.get("description") or body.get("title") or "")
    except orjson.JSONDecodeError:
        detail = r.text.strip()[:200]
    head = _WHAT.get(r.status_code, f"the partner answered HTTP {r.status_code}")
    return SyncError(f"{what}: {head}" + (f": {detail}" if detail else ""))


def checked(r: httpx.Response, what: str) -> Any:
    """The JSON of a 2xx answer, else SyncError."""
    if not 200 <= r.status_code < 300:
        raise _refusal(r, what)
    try:
        return orjson.loads(r.content)
    except orjson.JSONDecodeError:
        raise SyncError(f"{what}: the partner's answer is not JSON") from None


def collection_path(remote: str, tail: str) -> str:
    return f"/api/collections/{quote(remote, safe='')}/{tail}"


class Partner:
    """The partner's endpoints over one client."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.where = client.base_url.netloc.decode()

    async def info(self, remote: str, after: int | None = None) -> dict[str, Any]:
        params = {} if after is None else {"after": str(after)}
        r = await self.client.get(collection_path(remote, "federation/"), params=params)
        out = checked(r, f"collection {remote}")
        if not isinstance(out, dict) or not isinstance(out.get("head"), int):
            raise SyncError(f"collection {remote}: the partner is not a thiqa node that "
                            "peers (no federation endpoint)")
        return out

    async def manifest(self, remote: str, added_after: str | None,
                       limit: int) -> tuple[list[dict[str, Any]], bool]:
        params = {"match[version]": "all", "limit": str(limit)}
        if added_after is not None:
            params["added_after"] = added_after
        r = await self.client.get(collection_path(remote, "manifest/"), params=params,
                                  headers={"Accept": TAXII})
        body = checked(r, f"catch-up of {remote}")
        objects = body.get("objects", []) if isinstance(body, dict) else []
        return objects, bool(body.get("more")) if isinstance(body, dict) else False

    async def fetch(self, remote: str, pairs: list[tuple[str, str]]) -> dict[str, Any]:
        r = await self.client.post(collection_path(remote, "federation/fetch/"),
                                   content=orjson.dumps({"versions": pairs}),
                                   headers={"Content-Type": "application/json"})
        out = checked(r, f"fetching from {remote}")
        if not isinstance(out, dict) or not isinstance(out.get("objects"), list):
            raise SyncError(f"fetching from {remote}: malformed answer")
        return out

    async def fetch_raw(self, remote: str, pairs: list[tuple[str, str]]) -> bytes:
        """The answer of a fetch as it arrived (a 2xx; its JSON is read by whoever
        stores it: :mod:`thiqa.federation.receiver`)."""
        r = await self.client.post(collection_path(remote, "federation/fetch/"),
                                   content=orjson.dumps({"versions": pairs}),
                                   headers={"Content-Type": "application/json"})
        if not 200 <= r.status_code < 300:
            raise _refusal(r, f"fetching from {remote}")
        return r.content

    async def push(self, remote: str, body: dict[str, Any]) -> dict[str, Any]:
        r = await self.client.post(collection_path(remote, "federation/objects/"),
                                   content=orjson.dumps(body),
                                   headers={"Content-Type": "application/json"})
        out = checked(r, f"pushing to {remote}")
        return out if isinstance(out, dict) else {}


async def sse_events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, str, str]]:
    """(id, event, data) of each SSE frame; heartbeats as ("", "heartbeat", "")."""
    ident, event, data = "", "", list[str]()
    async for line in lines:
        if not line:
            if data or event:
                yield ident, event or "message", "\n".join(data)
            ident, event, data = "", "", list[str]()
        elif line.startswith(":"):
            yield "", "heartbeat", ""
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "id":
                ident = value
            elif name == "event":
                event = value
            elif name == "data":
                data.append(value)
