"""The one place peering makes its outbound HTTP clients.

Every request this node sends to a partner (catch-up, live stream, fetch, push, the
status of ``thiqa peer status``) goes through a client from :func:`client_for`. Peers
talk HTTPS with mutual TLS beyond loopback (DESIGN: transport); until the node
certificates are wired in here, only plain HTTP to a loopback address is allowed and
anything else is refused with a clear message, before any byte leaves the node.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from thiqa import __version__
from thiqa.errors import BadRequest

_LOOPBACK = ("127.0.0.1", "::1", "localhost")
# Reads and writes on a peer link; the live stream waits longer (a heartbeat interval).
TIMEOUT_S = 10.0


def is_loopback(host: str) -> bool:
    return host in _LOOPBACK or host.startswith("127.")


def check_url(url: str) -> str:
    """``url`` normalised (no trailing slash), or BadRequest in plain words."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest(f"a peer URL must be http://host:port or https://host:port, not "
                         f"{url!r}")
    if parts.query or parts.fragment:
        raise BadRequest("a peer URL has no query or fragment: give the node's base URL")
    if not (parts.scheme == "http" and is_loopback(parts.hostname)):
        raise BadRequest(f"mutual TLS needed: peering with {parts.netloc} (beyond loopback "
                         "or over https) needs the node certificates of mutual TLS, which "
                         "this build does not have yet; plain http:// is allowed on loopback "
                         "only")
    return url.rstrip("/")


def client_for(url: str, api_key: str, tls_fingerprint: str | None = None,
               read_timeout: float = TIMEOUT_S) -> httpx.AsyncClient:
    """An HTTP client for the partner at ``url``, authenticated with ``api_key``.

    ``tls_fingerprint`` is the partner's pinned certificate (for mutual TLS; unused on
    loopback)."""
    base = check_url(url)
    headers = {"User-Agent": f"thiqa/{__version__} (peering)",
               "Authorization": f"Bearer {api_key}"}
    timeout = httpx.Timeout(TIMEOUT_S, read=read_timeout)
    return httpx.AsyncClient(base_url=base, headers=headers, timeout=timeout, trust_env=False)
