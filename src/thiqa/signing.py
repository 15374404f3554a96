"""The node's Ed25519 identity key, and signatures over RFC 8785 canonical JSON.

Every record a node signs (today: release grants; with federation: object versions and
provenance hops) is serialised canonically first, so that any party re-serialising
the same JSON value gets the same bytes and can verify the signature:

- RFC 8785 (JSON Canonicalization Scheme) §3.2.3: object members sorted by their
  names' UTF-16 code units; no whitespace; strings escaped minimally (§3.2.2.2);
- numbers: only integers within ±2^53 are accepted here (§3.2.2.3 would format others
  as ECMAScript does; no signed record of thiqa carries a float).

The key lives in ``node.key`` in the data directory (PKCS#8 PEM, mode 0600), created
on first use. Its public half, base64, is what partners pin.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from thiqa.errors import ConfigError

KEY_FILE = "node.key"
_MAX_INT = 2**53


def canonical(value: Any) -> bytes:
    """The RFC 8785 serialisation of a JSON value built of dict, list, str, int, bool
    and None; raises ValueError on anything else."""
    out: list[str] = []
    _write(value, out)
    return "".join(out).encode("utf-8")


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
            "\t": "\\t"}


def _string(s: str) -> str:
    parts = ['"']
    for ch in s:
        if ch in _ESCAPES:
            parts.append(_ESCAPES[ch])
        elif ch < " ":
            parts.append(f"\\u{ord(ch):04x}")
        else:
            parts.append(ch)
    parts.append('"')
    return "".join(parts)


def _write(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if not -_MAX_INT < value < _MAX_INT:
            raise ValueError(f"integer {value} is outside the range JSON numbers keep exactly")
        out.append(str(value))
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    elif isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise ValueError("object member names must be strings")
        out.append("{")
        for i, key in enumerate(sorted(value, key=lambda k: k.encode("utf-16-be"))):
            if i:
                out.append(",")
            out.append(_string(key))
            out.append(":")
            _write(value[key], out)
        out.append("}")
    else:
        raise ValueError(f"{type(value).__name__} has no canonical JSON form here")


class NodeKey:
    """The node's signing key."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        raw = private.public_key().public_bytes(serialization.Encoding.Raw,
                                                serialization.PublicFormat.Raw)
        self.public = base64.b64encode(raw).decode()

    @classmethod
    def load_or_create(cls, data_dir: Path) -> NodeKey:
        path = Path(data_dir) / KEY_FILE
        try:
            pem = path.read_bytes()
        except FileNotFoundError:
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
            path.parent.mkdir(parents=True, exist_ok=True)
            # O_EXCL: two processes creating it at once keep one key, never a mix.
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return cls.load_or_create(data_dir)
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
            return cls(key)
        private = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ConfigError(f"{path} does not hold an Ed25519 private key")
        return cls(private)

    def sign(self, record: Any) -> str:
        """Base64 Ed25519 signature of ``canonical(record)``."""
        return base64.b64encode(self._private.sign(canonical(record))).decode()


def verify(public: str, record: Any, signature: str) -> bool:
    """True when ``signature`` is ``public``'s signature of ``canonical(record)``."""
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public, validate=True))
        key.verify(base64.b64decode(signature, validate=True), canonical(record))
    except (InvalidSignature, ValueError):
        return False
    return True
