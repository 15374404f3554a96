"""HTTP clients for calling a peer node: mutual TLS with pinned certificates beyond
loopback, plain HTTP on loopback only (docs/federation.md, "Transport").

:func:`httpx_client` and :func:`httpx_async_client` take the peer's URL and the TLS
fingerprint pinned for it and return an ``httpx`` client whose base URL is the peer's;
any keyword argument (``headers``, ``timeout``, ``auth`` …) goes to httpx. Refused,
with :class:`~thiqa.errors.ConfigError` before anything is sent:

- ``http://`` to an address beyond loopback (the API key would travel in clear);
- ``https://`` without a fingerprint, or with one not pinned here, or whose
  certificate this node does not hold.

:func:`explain` turns what such a client raises into plain words for the operator
(``thiqa peer status``): a server certificate that does not match the pin, this
node's certificate refused by the peer, a peer that does not speak TLS.
"""

from __future__ import annotations

import ipaddress
import ssl
from typing import Any

import httpx

from thiqa.errors import ConfigError
from thiqa.federation.tls import TLSTrust, client_context


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 with or without brackets) is this
    machine's loopback."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_url(peer_url: str, fingerprint: str | None) -> httpx.URL:
    """The peer URL, if the transport it names is allowed (see the module docstring)."""
    try:
        url = httpx.URL(peer_url)
    except httpx.InvalidURL as exc:
        raise ConfigError(f"{peer_url!r} is not a URL: {exc}") from None
    if url.scheme == "http":
        if not is_loopback(url.host):
            raise ConfigError(
                f"plain HTTP to {url.host} is refused: beyond loopback peers talk HTTPS with "
                "mutual TLS (use an https:// URL and pin the peer's TLS fingerprint)")
        return url
    if url.scheme != "https" or not url.host:
        raise ConfigError(f"{peer_url!r}: a peer URL is https://HOST[:PORT]/… (or "
                          "http:// on loopback)")
    if not fingerprint:
        raise ConfigError(f"{peer_url}: HTTPS to a peer needs the TLS fingerprint pinned "
                          "for it (thiqa trust pin … --tls-fingerprint)")
    return url


def _verify(url: httpx.URL, trust: TLSTrust | None, fingerprint: str | None) -> Any:
    if url.scheme == "http":
        return True  # unused: no TLS on loopback HTTP
    if trust is None or fingerprint is None:
        raise ConfigError("HTTPS to a peer needs this node's TLS trust (TLSTrust.of(node))")
    return client_context(trust, fingerprint)


def httpx_client(peer_url: str, fingerprint: str | None, *, trust: TLSTrust | None,
                 **kwargs: Any) -> httpx.Client:
    """A synchronous client for the peer at ``peer_url`` (its base URL)."""
    url = check_url(peer_url, fingerprint)
    return httpx.Client(base_url=url, verify=_verify(url, trust, fingerprint), **kwargs)


def httpx_async_client(peer_url: str, fingerprint: str | None, *, trust: TLSTrust | None,
                       **kwargs: Any) -> httpx.AsyncClient:
    """An asynchronous client for the peer at ``peer_url`` (its base URL)."""
    url = check_url(peer_url, fingerprint)
    return httpx.AsyncClient(base_url=url, verify=_verify(url, trust, fingerprint),
                             **kwargs)


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and e not in seen:
        seen.append(e)
        e = e.__cause__ or e.__context__
    return seen


_REFUSED = ("the peer refused this node's TLS certificate (it is not pinned there, or was "
            "revoked): the peer's operator must pin this node's identity document (thiqa "
            "key show --json), which carries the certificate")


def explain(exc: BaseException) -> str:
    """What went wrong in a call to a peer, in plain words."""
    chain = _causes(exc)
    text = " ".join(str(e) for e in chain).upper()
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain) or \
            "CERTIFICATE_VERIFY_FAILED" in text:
        return ("the peer's TLS certificate is not the one pinned for it: another server "
                "answers at that address, or the peer made a new certificate (pin its new "
                "identity document once you have checked it)")
    if "ALERT_CERTIFICATE_REQUIRED" in text:
        return ("the peer requires a client certificate (mutual TLS) and none was "
                "presented: " + _REFUSED)
    if any(s in text for s in ("ALERT_UNKNOWN_CA", "ALERT_BAD_CERTIFICATE",
                               "ALERT_CERTIFICATE_UNKNOWN", "ALERT_HANDSHAKE_FAILURE",
                               "ALERT_ACCESS_DENIED")):
        return _REFUSED
    if "WRONG_VERSION_NUMBER" in text or "RECORD_LAYER_FAILURE" in text:
        return "the peer does not speak TLS at that address (is its URL http://?)"
    if isinstance(exc, ConfigError):
        return exc.description
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect to the peer: {exc}"
    if isinstance(exc, httpx.TimeoutException):
        return "the peer did not answer in time"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        # With TLS 1.3 a server checks the client's certificate after the client has
        # finished its handshake, and asyncio servers close without sending the alert:
        # the client only sees the connection end.
        return ("the peer closed the connection without answering; over HTTPS this is "
                "most likely because " + _REFUSED)
    return str(exc) or type(exc).__name__


__all__ = ["check_url", "explain", "httpx_async_client", "httpx_client", "is_loopback"]
