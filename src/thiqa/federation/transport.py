"""The one place peering makes its outbound HTTP clients.

Every request this node sends to a partner (catch-up, live stream, fetch, push, the
status of ``thiqa peer status``) goes through a client from :func:`client_for`. Peers
talk HTTPS with mutual TLS beyond loopback (:mod:`thiqa.federation.https`: this node
presents its certificate and trusts only the partner's pinned one); plain HTTP is
allowed to a loopback address only. Anything else is refused with a clear message,
before any byte leaves the node.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from thiqa import __version__
from thiqa.errors import BadRequest, ConfigError
from thiqa.federation import https
from thiqa.federation.tls import TLSTrust

if TYPE_CHECKING:
    from thiqa.node import Node

# Reads and writes on a peer link; the live stream waits longer (a heartbeat interval).
TIMEOUT_S = 10.0


def check_url(url: str, tls_fingerprint: str | None = None) -> str:
    """``url`` normalised (no trailing slash), or BadRequest in plain words: http:// on
    loopback, else https:// with the partner's pinned TLS fingerprint."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest(f"a peer URL must be http://host:port or https://host:port, not "
                         f"{url!r}")
    if parts.query or parts.fragment:
        raise BadRequest("a peer URL has no query or fragment: give the node's base URL")
    try:
        https.check_url(url, tls_fingerprint)
    except ConfigError as exc:
        raise BadRequest(f"mutual TLS needed: {exc.description}") from None
    return url.rstrip("/")


def client_for(url: str, api_key: str, tls_fingerprint: str | None = None,
               trust: TLSTrust | None = None,
               read_timeout: float = TIMEOUT_S) -> httpx.AsyncClient:
    """An HTTP client for the partner at ``url``, authenticated with ``api_key``; over
    https, mutual TLS with ``trust`` (this node's certificate, the partner's pinned one,
    by ``tls_fingerprint``)."""
    base = check_url(url, tls_fingerprint)
    headers = {"User-Agent": f"thiqa/{__version__} (peering)",
               "Authorization": f"Bearer {api_key}"}
    timeout = httpx.Timeout(TIMEOUT_S, read=read_timeout)
    return https.httpx_async_client(base, tls_fingerprint, trust=trust, headers=headers,
                                    timeout=timeout, trust_env=False)


def trust_for(node: Node, url: str) -> TLSTrust | None:
    """What mutual TLS to ``url`` needs of this node (None for loopback http://)."""
    return TLSTrust.of(node) if url.startswith("https://") else None
