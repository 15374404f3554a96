"""Opaque, stateless ``next`` tokens (TAXII 2.1 §3.4 ``next``, §3.5).

A token is the position after a page, (date_added, seq), with an HMAC under the
node's secret over the position and the collection, so it is valid in any process and
after a restart, cannot be forged or moved to another collection, and carries no
access rights: every request that presents one is authorised afresh.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct

from thiqa.errors import InvalidFilter
from thiqa.store.model import Cursor

_LAYOUT = struct.Struct(">QQ")
_MAC_BYTES = 12


def _mac(secret: bytes, collection_id: str, payload: bytes) -> bytes:
    return hmac.new(secret, collection_id.encode() + payload, hashlib.sha256).digest()[:_MAC_BYTES]


def encode(cursor: Cursor, secret: bytes, collection_id: str) -> str:
    payload = _LAYOUT.pack(cursor.date_added, cursor.seq)
    token = payload + _mac(secret, collection_id, payload)
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def decode(token: str, secret: bytes, collection_id: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    payload, mac = raw[: _LAYOUT.size], raw[_LAYOUT.size :]
    if len(payload) != _LAYOUT.size or not hmac.compare_digest(
            mac, _mac(secret, collection_id, payload)):
        raise InvalidFilter(f"'next' value {token!r} was not issued by this server for this "
                            "collection")
    date_added, seq = _LAYOUT.unpack(payload)
    return Cursor(date_added, seq)
