"""Request bodies with a size limit, read once for every HTTP endpoint.

A declared ``Content-Length`` over the limit is refused before anything is read; a
chunked or lying body is cut off as soon as it passes the limit (413, nothing stored).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from thiqa.errors import BadRequest, PayloadTooLarge


async def read(request: Request, limit: int, too_large: str) -> bytes:
    """The whole body, at most ``limit`` bytes; ``too_large`` is the 413 message."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(too_large)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(too_large)
        chunks.append(chunk)
    return b"".join(chunks)


async def json_object(request: Request, limit: int, too_large: str) -> dict[str, Any]:
    """A body that must be one JSON object (400 otherwise)."""
    try:
        body = orjson.loads(await read(request, limit, too_large))
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body
