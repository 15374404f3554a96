"""API keys: minted once, stored as a hash, presented as Bearer or HTTP Basic.

A key reads ``thiqa_<key id>_<secret>``. Only the SHA-256 of the whole key is stored:
the secret has 256 bits of entropy, so a slow password hash would add nothing but
latency on every request. HTTP Basic (TAXII 2.1 §1.6.9) carries the key as the
password; the user name is ignored, so any TAXII client can authenticate.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from dataclasses import dataclass

from thiqa.errors import Unauthenticated
from thiqa.store import Store
from thiqa.store.model import ApiKey, Org

PREFIX = "thiqa_"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a key and the organisation it belongs to."""

    key: ApiKey
    org: Org

    @property
    def role(self) -> str:
        return self.key.role

    @property
    def is_admin(self) -> bool:
        return self.key.role == "admin"


def mint() -> tuple[str, str]:
    """A new (key id, full key)."""
    key_id = secrets.token_hex(6)
    return key_id, f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def credential(authorization: str | None) -> str:
    """The API key carried by an Authorization header (Bearer or Basic)."""
    if not authorization:
        raise Unauthenticated("send an API key as 'Authorization: Bearer <key>' or as the "
                              "password of HTTP Basic authentication")
    scheme, _, value = authorization.strip().partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer" and value:
        return value
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated("malformed HTTP Basic credentials") from None
        _, sep, password = decoded.partition(":")
        if sep and password:
            return password
        raise Unauthenticated("HTTP Basic credentials must carry the API key as the password")
    raise Unauthenticated("unsupported authorization scheme; use Bearer or Basic")


def authenticate(store: Store, authorization: str | None) -> Principal:
    key = credential(authorization)
    record = store.key_by_hash(hash_key(key)) if key.startswith(PREFIX) else None
    if record is None or record.revoked_us is not None:
        # One message for unknown and revoked keys: a caller learns nothing about which.
        raise Unauthenticated("the API key is not valid")
    org = store.get_org(record.org_id)
    if org is None:
        raise Unauthenticated("the API key is not valid")
    return Principal(record, org)
