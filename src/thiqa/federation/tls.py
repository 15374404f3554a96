"""Transport security between nodes: the node's TLS certificate, pinned peer
certificates, and mutual TLS on both ends of a connection (docs/federation.md,
"Transport").

Each node has a self-signed certificate (``tls/node.crt`` and ``tls/node.key`` in the
data directory, ECDSA P-256, made by ``thiqa init`` or ``thiqa tls create``) unless the
operator names another with ``tls_cert``/``tls_key``. It is named by its fingerprint,
``sha256:`` + the hex SHA-256 of its DER encoding, which travels in the node's identity
document beside the Ed25519 key, with the certificate itself. A partner pins both at
once (``thiqa trust pin``); the certificate is kept in the store's metadata under its
fingerprint.

Why pinned certificates are loaded as the CA set. A self-signed certificate cannot be
verified by a CA chain, and Python's ``ssl`` module has no verification callback: a
server that asks for a client certificate (``CERT_OPTIONAL`` or ``CERT_REQUIRED``)
aborts the handshake when the one presented does not verify against its CA set, so a
later check of the fingerprint (in the ASGI app) never sees an unknown certificate. A
self-signed certificate is its own issuer, so with ``VERIFY_X509_PARTIAL_CHAIN`` the
set of pinned certificates *is* the CA set that accepts exactly them (OpenSSL still
checks validity dates and the key usage). On the client side the same holds for the
one server certificate pinned for the peer: the API key is never sent to a server
that has not proven it holds that certificate's private key, which a check after
the handshake could not promise.

Pins change while a server runs (``thiqa trust pin`` / ``revoke`` beside it): the
server's context has an SNI callback (OpenSSL calls it on every ClientHello, with or
without a server name) that reads the active pins and, when they changed, swaps in a
context built with the new CA set; a revoked partner's next connection is refused.
Session tickets are off so that every connection presents and verifies a certificate.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import re
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from thiqa.errors import BadRequest, ConfigError, ThiqaError
from thiqa.settings import Settings
from thiqa.store import Store

if TYPE_CHECKING:
    from thiqa.node import Node

log = logging.getLogger("thiqa.tls")

TLS_DIR = "tls"
CERT_FILE = "node.crt"
KEY_FILE = "node.key"
DEFAULT_HOSTS = ("localhost",)
DEFAULT_IPS = ("127.0.0.1", "::1")
DEFAULT_DAYS = 730
MAX_DAYS = 3650
CLIENT_AUTH = ("off", "optional", "required")
_PEER_META = "tls.peer."  # + fingerprint: a pinned partner's certificate (PEM)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DNS = re.compile(r"(?=.{1,253}$)(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*"
                  r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


# -- certificates ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Certificate:
    """A certificate as thiqa shows it: fingerprint, validity, names, PEM."""

    fingerprint: str
    not_before: datetime
    not_after: datetime
    hosts: tuple[str, ...]
    ips: tuple[str, ...]
    pem: str

    def info(self, now: datetime) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "not_before": _iso(self.not_before),
                "not_after": _iso(self.not_after), "hosts": list(self.hosts),
                "ips": list(self.ips), "expired": now >= self.not_after,
                "not_yet_valid": now < self.not_before}


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fingerprint_of(der: bytes) -> str:
    """``sha256:<hex>`` of a certificate's DER encoding."""
    return "sha256:" + hashlib.sha256(der).hexdigest()


def normalise_fingerprint(text: str) -> str:
    """A certificate fingerprint as thiqa writes it, from ``sha256:<hex>`` or the
    colon-separated form ``openssl x509 -fingerprint -sha256`` prints."""
    raw = text.strip().lower()
    for prefix in ("sha256:", "sha256 fingerprint=", "sha256="):
        if raw.startswith(prefix):
            raw = raw[len(prefix):]
            break
    raw = raw.replace(":", "")
    if not _HEX64.fullmatch(raw):
        raise BadRequest(f"{text!r} is not a SHA-256 certificate fingerprint "
                         "(sha256: and 64 hex digits)")
    return "sha256:" + raw


def parse_certificate(pem: str | bytes, source: str = "certificate") -> Certificate:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        cert = x509.load_pem_x509_certificate(data)
    except ValueError:
        raise BadRequest(f"{source} is not a PEM X.509 certificate") from None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        hosts = tuple(san.get_values_for_type(x509.DNSName))
        ips = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        hosts, ips = (), ()
    return Certificate(fingerprint_of(cert.public_bytes(serialization.Encoding.DER)),
                       cert.not_valid_before_utc, cert.not_valid_after_utc, hosts, ips,
                       cert.public_bytes(serialization.Encoding.PEM).decode())


def load_certificate(path: Path) -> Certificate:
    try:
        return parse_certificate(path.read_bytes(), str(path))
    except FileNotFoundError:
        raise ConfigError(f"no TLS certificate at {path}: make one with `thiqa tls create`"
                          ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the TLS certificate {path}: {exc}") from exc
    except BadRequest as exc:
        raise ConfigError(exc.description) from None


def own_paths(data_dir: str | Path) -> tuple[Path, Path]:
    """The node's own certificate and key files in its data directory."""
    d = Path(data_dir) / TLS_DIR
    return d / CERT_FILE, d / KEY_FILE


def served_paths(settings: Settings) -> tuple[Path, Path]:
    """The certificate and key this node serves and presents to peers: ``tls_cert`` /
    ``tls_key`` when set, else its own."""
    if settings.tls_cert:
        return Path(settings.tls_cert), Path(settings.tls_key)
    return own_paths(settings.data)


def served_certificate(settings: Settings) -> Certificate | None:
    """The certificate this node serves, or None when it has none yet."""
    cert, _ = served_paths(settings)
    if not settings.tls_cert and not cert.exists():
        return None
    return load_certificate(cert)


def _names(hosts: Iterable[str], ips: Iterable[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        h = host.strip().lower().rstrip(".")
        if not _DNS.fullmatch(h):
            raise BadRequest(f"{host!r} is not a DNS host name (use --ip for addresses)")
        names.append(x509.DNSName(h))
    for ip in ips:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(ip.strip())))
        except ValueError:
            raise BadRequest(f"{ip!r} is not an IP address") from None
    if not names:
        raise BadRequest("a certificate needs at least one host name or IP address")
    return names


def create(data_dir: str | Path, now: datetime, *, common_name: str,
           hosts: Iterable[str] = DEFAULT_HOSTS, ips: Iterable[str] = DEFAULT_IPS,
           days: int = DEFAULT_DAYS, force: bool = False) -> Certificate:
    """Make the node's self-signed certificate and key (files mode 0600). An existing
    one is replaced only with ``force``; its partners must then pin the new one."""
    if not 0 < days <= MAX_DAYS:
        raise BadRequest(f"days must be between 1 and {MAX_DAYS}, got {days}")
    names = _names(hosts, ips)
    cert_path, key_path = own_paths(data_dir)
    if not force and (cert_path.exists() or key_path.exists()):
        raise BadRequest(f"{cert_path} exists: --force replaces it (partners must then "
                         "pin the new fingerprint)")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64] or "thiqa"),
                         x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "thiqa node")])
    usage = x509.KeyUsage(digital_signature=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False,
                          key_agreement=False, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False)
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            # An hour back: a partner's clock a little behind must not refuse it.
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            # One certificate serves HTTPS and authenticates this node as a client.
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write_private(key_path, key_pem)
    _write_private(cert_path, cert_pem)
    return parse_certificate(cert_pem)


def _write_private(path: Path, data: bytes) -> None:
    """Write ``path`` (mode 0600) atomically: a reader sees the old file or the new."""
    tmp = path.with_name(path.name + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# -- pinned peer certificates -----------------------------------------------------------------
def pin_material(doc: dict[str, Any], tls_fingerprint: str | None,
                 tls_certificate: str | None) -> tuple[str | None, str | None]:
    """The TLS fingerprint and certificate to pin with a partner's key, from its identity
    document and the operator's options; every fingerprint given must name the
    certificate. Raises BadRequest on a mismatch or a malformed value."""
    fps: list[str] = []
    for source, value in (("--tls-fingerprint", tls_fingerprint),
                          ("the identity document's tls_fingerprint",
                           doc.get("tls_fingerprint"))):
        if value is None:
            continue
        if not isinstance(value, str):
            raise BadRequest(f"{source} must be a string")
        fps.append(normalise_fingerprint(value))
    pem = tls_certificate if tls_certificate is not None else doc.get("tls_certificate")
    if pem is not None and not isinstance(pem, str):
        raise BadRequest("the identity document's tls_certificate must be a PEM string")
    cert = parse_certificate(pem, "the TLS certificate") if pem is not None else None
    if cert is not None:
        for fp in fps:
            if fp != cert.fingerprint:
                raise BadRequest(f"the TLS fingerprint {fp} does not match the certificate "
                                 f"(its fingerprint is {cert.fingerprint})")
        return cert.fingerprint, cert.pem
    if len(set(fps)) > 1:
        raise BadRequest(f"--tls-fingerprint {fps[0]} differs from the identity document's "
                         f"{fps[1]}")
    return (fps[0] if fps else None), None


def remember(store: Store, pem: str) -> str:
    """Keep a partner's certificate under its fingerprint; returns the fingerprint."""
    cert = parse_certificate(pem)
    store.set_meta(_PEER_META + cert.fingerprint, cert.pem)
    return cert.fingerprint


def pinned_certificates(store: Store) -> dict[str, str | None]:
    """Every TLS fingerprint pinned with a partner's current key (not revoked, not
    rotated away), with its certificate when this node has it."""
    fps = {k.tls_fingerprint for k in store.trusted_keys()
           if k.tls_fingerprint and k.revoked_us is None and k.valid_until_us is None}
    return {fp: store.get_meta(_PEER_META + fp) for fp in sorted(fps)}


# -- the server ---------------------------------------------------------------------------------
def serves_tls(settings: Settings) -> bool:
    """Whether ``thiqa serve`` speaks HTTPS; raises ConfigError where it may not serve."""
    mode = settings.tls
    if mode == "off":
        if not settings.is_loopback:
            raise ConfigError(f"serving on {settings.host} (beyond loopback) needs TLS: "
                              "tls = off is for loopback only")
        return False
    if mode == "on" or settings.tls_cert:
        return True
    # auto: HTTPS beyond loopback, plain HTTP on loopback (local use and tests).
    return not settings.is_loopback


class ServerTLS:
    """The SSL context of ``thiqa serve``: this node's certificate, and client
    certificates accepted only when pinned (``tls_client_auth``: off, optional,
    required). See the module docstring for why pins are the CA set."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.cert, self.key = served_paths(settings)
        self.client_auth = settings.tls_client_auth
        self.store = store
        # A clear error now rather than at the first handshake.
        self.fingerprint = load_certificate(self.cert).fingerprint
        self._pins: dict[str, str | None] | None = None
        self._current = self._build({})

    def _build(self, pins: dict[str, str | None]) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.options |= ssl.OP_NO_TICKET
        ctx.num_tickets = 0
        try:
            ctx.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot use the TLS certificate {self.cert} with the key "
                              f"{self.key}: {exc}") from exc
        if self.client_auth != "off":
            ctx.verify_mode = (ssl.CERT_REQUIRED if self.client_auth == "required"
                               else ssl.CERT_OPTIONAL)
            ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
            certs = "".join(pem for pem in pins.values() if pem)
            if certs:
                ctx.load_verify_locations(cadata=certs)
        return ctx

    def current(self) -> ssl.SSLContext:
        """The context for a connection now: rebuilt when the pins changed."""
        if self.client_auth != "off":
            pins = pinned_certificates(self.store)
            if pins != self._pins:
                self._current = self._build(pins)
                self._pins = pins
                missing = [fp for fp, pem in pins.items() if pem is None]
                if missing:
                    log.warning("no certificate is known for the pinned TLS fingerprint(s) "
                                "%s: those peers cannot connect with mutual TLS until their "
                                "identity document (with its certificate) is pinned",
                                ", ".join(missing))
        return self._current

    def _on_hello(self, conn: ssl.SSLObject, server_name: str | None,
                  ctx: ssl.SSLContext) -> int | None:
        try:
            conn.context = self.current()
        except ThiqaError as exc:
            # Fail closed: without the current pins, no handshake.
            log.error("TLS handshake refused: %s", exc.description)
            return ssl.ALERT_DESCRIPTION_INTERNAL_ERROR
        return None

    def context(self) -> ssl.SSLContext:
        """The listening context, for uvicorn's ``ssl_context_factory``."""
        base = self._build({})
        base.sni_callback = self._on_hello
        self.current()
        return base


# -- the client ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TLSTrust:
    """What a node needs to call a peer over mutual TLS: the certificate and key it
    presents (the one it serves) and the certificates of its pinned partners."""

    cert: Path
    key: Path
    store: Store

    @classmethod
    def of(cls, node: Node) -> TLSTrust:
        cert, key = served_paths(node.settings)
        return cls(cert, key, node.store)

    def certificate(self, fingerprint: str) -> str:
        fp = normalise_fingerprint(fingerprint)
        pins = pinned_certificates(self.store)
        if fp not in pins:
            raise ConfigError(f"the TLS fingerprint {fp} is not pinned with any current "
                              "partner key here (thiqa trust list)")
        pem = pins[fp]
        if pem is None:
            raise ConfigError(f"the certificate for the TLS fingerprint {fp} is not known "
                              "here: pin the partner's identity document (thiqa key show "
                              "--json, which carries it) or give --tls-certificate FILE")
        return pem


def client_context(trust: TLSTrust, peer_fingerprint: str) -> ssl.SSLContext:
    """A client context that presents this node's certificate and accepts only the
    server holding the pinned certificate ``peer_fingerprint`` (not a CA, not a host
    name: the peer's certificate is the one trust anchor)."""
    pem = trust.certificate(peer_fingerprint)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False  # the pin names the server, whatever address it is at
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    ctx.load_verify_locations(cadata=pem)
    try:
        ctx.load_cert_chain(trust.cert, trust.key)
    except FileNotFoundError:
        raise ConfigError(f"this node has no TLS certificate at {trust.cert}: make one "
                          "with `thiqa tls create`") from None
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot use the TLS certificate {trust.cert} with the key "
                          f"{trust.key}: {exc}") from exc
    return ctx


__all__ = ["CLIENT_AUTH", "Certificate", "ServerTLS", "TLSTrust", "client_context", "create",
           "fingerprint_of", "load_certificate", "normalise_fingerprint", "parse_certificate",
           "pin_material", "pinned_certificates", "remember", "served_certificate",
           "served_paths", "serves_tls"]
