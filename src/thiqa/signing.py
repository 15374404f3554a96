"""The node's Ed25519 identity key, and signatures over RFC 8785 canonical JSON.

Every record a node signs (today: release grants; with federation: object versions and
provenance hops) is serialised canonically first, so that any party re-serialising
the same JSON value gets the same bytes and can verify the signature:

- RFC 8785 (JSON Canonicalization Scheme) §3.2.3: object members sorted by their
  names' UTF-16 code units; no whitespace; strings escaped minimally (§3.2.2.2);
- numbers (§3.2.2.3) as ECMAScript's Number.prototype.toString formats the IEEE 754
  double: integers within ±2^53 as written, other numbers (and larger integers, which
  I-JSON cannot carry exactly) by their shortest round-trip digits.

:func:`canonical` takes orjson's sorted serialisation, which is byte for byte the RFC
8785 form unless the value holds a number that is not an integer within ±2^53 or a
character outside the Basic Multilingual Plane (where UTF-16 order of member names
may differ from code point order); those rare values go through the reference
implementation here (:func:`canonical_reference`, ~30 µs for an indicator against
~0.3 µs). A property test holds the two to the same bytes.

The key lives in ``node.key`` in the data directory (PKCS#8 PEM, mode 0600), created
on first use. Its public half, base64, is what partners pin.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from thiqa.errors import ConfigError

KEY_FILE = "node.key"
_MAX_INT = 2**53


_FAST = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER | orjson.OPT_PASSTHROUGH_DATETIME \
    | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
_ASTRAL = re.compile(rb"[\xf0-\xf4]")


def _has_float(value: Any) -> bool:
    """Whether a float is anywhere in ``value``: orjson writes floats differently from
    RFC 8785 §3.2.2.3, so those values go to the reference. A walk over the parsed value
    (about 1 µs for an indicator) rather than a scan of its JSON text for number tokens,
    which costs several times more because timestamps look like numbers."""
    if type(value) is float:
        return True
    stack = [value] if type(value) in (dict, list) else []
    while stack:
        node = stack.pop()
        for v in node.values() if type(node) is dict else node:
            kind = type(v)
            if kind is float:
                return True
            if kind is dict or kind is list:
                stack.append(v)
    return False


def canonical(value: Any) -> bytes:
    """The RFC 8785 serialisation of a JSON value built of dict, list, str, int, float,
    bool and None; raises ValueError on anything else. NaN and infinities, which no
    JSON text carries, are for values parsed from JSON never there (orjson would write
    them as null; :func:`canonical_reference` refuses them)."""
    if _has_float(value):
        return canonical_reference(value)
    try:
        out = orjson.dumps(value, option=_FAST)
    except orjson.JSONEncodeError:
        return canonical_reference(value)
    if not out.isascii() and _ASTRAL.search(out):
        return canonical_reference(value)
    return out


def canonical_reference(value: Any) -> bytes:
    """:func:`canonical`, written out after RFC 8785 §3.2 (slow; the reference)."""
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
    elif type(value) is int:
        out.append(str(value) if -_MAX_INT < value < _MAX_INT else _number(float(value)))
    elif type(value) is float:
        out.append(_number(value))
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


def _number(x: float) -> str:
    """ECMAScript Number::toString(x) (ECMA-262 §6.1.6.1.20), as RFC 8785 §3.2.2.3 asks."""
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError("NaN and infinities have no JSON form")
    if x == 0:
        return "0"
    if x < 0:
        return "-" + _number(-x)
    # repr gives the shortest digits that round-trip, as ECMAScript requires.
    _, digits_t, exp = Decimal(repr(x)).as_tuple()
    digits = "".join(map(str, digits_t)).rstrip("0") or "0"
    assert isinstance(exp, int)
    k = len(digits)
    n = exp + len(digits_t)  # the value is 0.digits × 10^n
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    e = n - 1
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"


def fingerprint(public: str) -> str:
    """``sha256:<hex>`` of a base64 Ed25519 public key's raw 32 bytes: how a key is named
    in signatures, the trust store and the CLI."""
    return "sha256:" + hashlib.sha256(base64.b64decode(public, validate=True)).hexdigest()


class NodeKey:
    """The node's signing key."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        raw = private.public_key().public_bytes(serialization.Encoding.Raw,
                                                serialization.PublicFormat.Raw)
        self.public = base64.b64encode(raw).decode()
        self.fingerprint = fingerprint(self.public)

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

    def pem(self) -> bytes:
        """The private key as PKCS#8 PEM (what ``node.key`` holds)."""
        return self._private.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())

    @classmethod
    def generate(cls) -> NodeKey:
        return cls(Ed25519PrivateKey.generate())


def verify(public: str, record: Any, signature: str) -> bool:
    """True when ``signature`` is ``public``'s signature of ``canonical(record)``."""
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public, validate=True))
        key.verify(base64.b64decode(signature, validate=True), canonical(record))
    except (InvalidSignature, ValueError):
        return False
    return True
