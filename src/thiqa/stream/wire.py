"""The wire format of the event log (docs/stream.md): one JSON object per event, framed
as a Server-Sent Event (``id:`` = seq, ``event:`` = kind) or batched into a signed
webhook payload.

A version event embeds the stored object byte for byte under ``object``; a stored body
may span lines (``thiqa load`` keeps a file's bytes), and an SSE ``data:`` field ends
at a line break, so such a body is sent as several ``data:`` lines, which every SSE
client joins back with ``\\n`` (JSON strings cannot hold raw line breaks, so only
whitespace is touched).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence

import orjson

from thiqa.stream.model import Event
from thiqa.timestamps import format_us

HEARTBEAT = b": heartbeat\n\n"
SIGNATURE_HEADER = "X-Thiqa-Signature"


def event_json(ev: Event, collections: Mapping[int, str]) -> bytes:
    """One event as JSON (collection pk → public collection id)."""
    head: dict[str, object] = {
        "seq": ev.seq,
        "kind": ev.kind,
        "collection": None if ev.collection_pk is None else collections.get(ev.collection_pk),
    }
    if ev.kind == "alert":
        head["time"] = format_us(ev.time_us)
        return _with(head, "alert", ev.body or b"{}")
    head.update(id=ev.object_id, type=ev.type, version=ev.version,
                spec_version=ev.spec_version)
    if ev.kind == "version":
        head["date_added"] = format_us(ev.time_us)
        return _with(head, "object", ev.body or b"{}")
    head["time"] = format_us(ev.time_us)
    return orjson.dumps(head)


def _with(head: dict[str, object], name: str, raw: bytes) -> bytes:
    return orjson.dumps(head)[:-1] + b',"' + name.encode() + b'":' + raw + b"}"


def sse_frame(ev: Event, data: bytes) -> bytes:
    if b"\n" in data or b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\ndata: ")
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (ev.seq, ev.kind.encode(), data)


def end_frame(reason: str) -> bytes:
    """The last frame of a stream the server ends (no ``id:``: it is not in the log)."""
    return b"event: end\ndata: " + orjson.dumps({"reason": reason}) + b"\n\n"


def webhook_body(hook_id: str, events: Sequence[bytes]) -> bytes:
    return (b'{"webhook":' + orjson.dumps(hook_id) + b',"events":[' + b",".join(events)
            + b"]}")


def signature(secret: str, body: bytes) -> str:
    """The ``X-Thiqa-Signature`` value: ``sha256=`` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does (constant-time comparison)."""
    return hmac.compare_digest(signature(secret, body), header)
