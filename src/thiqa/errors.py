"""The one exception hierarchy of thiqa.

Every error a caller can cause derives from :class:`ThiqaError` and carries the HTTP
status it maps to; the TAXII layer turns any of them into a TAXII error message
(TAXII 2.1 §3.6.1) in one handler, and the CLI prints ``title: description``.
Lower-layer exceptions (sqlite3, orjson, OSError) are translated at the boundary
where they occur (``raise Mapped(msg) from exc``), never leaked.

    ThiqaError
     ├── BadRequest            400  malformed query parameter, body or argument
     │    └── InvalidFilter    400  a TAXII filter (added_after, limit, next, match[...])
     ├── Unauthenticated       401  no or unknown credentials
     ├── Forbidden             403  authenticated, but the role or grant does not allow it
     ├── NotFound              404  absent, or invisible to the caller (never says which)
     ├── NotAcceptable         406  Accept header names no TAXII 2.1 media type
     ├── Conflict              409  admin change clashes with existing state
     ├── PayloadTooLarge       413  body over max_content_length
     ├── UnsupportedMediaType  415  POST body not application/taxii+json
     ├── Unprocessable         422  body parses but is not an envelope of STIX objects
     ├── ConfigError           500  a setting has an invalid value (caught at start-up)
     └── StoreError            500  the database failed; nothing partial was committed
"""

from __future__ import annotations

from typing import Any


class ThiqaError(Exception):
    """Root of every error thiqa raises on purpose."""

    http_status = 500
    title = "Internal error"

    def __init__(self, description: str = "", *, details: dict[str, Any] | None = None) -> None:
        super().__init__(description or self.title)
        self.description = description or self.title
        self.details = details


class BadRequest(ThiqaError):
    http_status = 400
    title = "Bad request"


class InvalidFilter(BadRequest):
    title = "Invalid filter parameter"


class Unauthenticated(ThiqaError):
    http_status = 401
    title = "Authentication required"


class Forbidden(ThiqaError):
    http_status = 403
    title = "Forbidden"


class NotFound(ThiqaError):
    http_status = 404
    title = "Not found"


class NotAcceptable(ThiqaError):
    http_status = 406
    title = "Not acceptable"


class Conflict(ThiqaError):
    http_status = 409
    title = "Conflict"


class PayloadTooLarge(ThiqaError):
    http_status = 413
    title = "Request body too large"


class UnsupportedMediaType(ThiqaError):
    http_status = 415
    title = "Unsupported media type"


class Unprocessable(ThiqaError):
    http_status = 422
    title = "Unprocessable content"


class ConfigError(ThiqaError):
    http_status = 500
    title = "Invalid configuration"


class StoreError(ThiqaError):
    http_status = 500
    title = "Storage failure"
