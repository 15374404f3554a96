"""Content negotiation for TAXII 2.1 (§1.6.8, §3.1).

Plain ``application/taxii+json`` means "the latest TAXII the server speaks" and is
accepted (medallion answers it with 406). A TAXII 2.0 or unknown version, or media
types that are not TAXII at all, are refused with 406 (Accept) or 415 (Content-Type).
"""

from __future__ import annotations

from thiqa.errors import NotAcceptable, UnsupportedMediaType

TAXII = "application/taxii+json;version=2.1"
STIX = "application/stix+json;version=2.1"

# Accept ranges that a TAXII 2.1 response satisfies.
_ACCEPTABLE = {"application/taxii+json", "application/stix+json", "application/*", "*/*"}


def _parse(header: str) -> list[tuple[str, dict[str, str]]]:
    ranges = []
    for part in header.split(","):
        fields = [f.strip() for f in part.split(";")]
        if not fields[0]:
            continue
        params = {}
        for f in fields[1:]:
            name, _, value = f.partition("=")
            params[name.strip().lower()] = value.strip().strip('"')
        ranges.append((fields[0].lower(), params))
    return ranges


def _speaks_21(kind: str, params: dict[str, str]) -> bool:
    version = params.get("version")
    return kind in ("*/*", "application/*") or version is None or version == "2.1"


def check_accept(header: str | None) -> None:
    """406 unless the Accept header admits a TAXII 2.1 response (absent admits anything)."""
    if not header:
        return
    for kind, params in _parse(header):
        if params.get("q") in ("0", "0.0", "0.00", "0.000"):
            continue
        if kind in _ACCEPTABLE and _speaks_21(kind, params):
            return
    raise NotAcceptable(f"cannot answer with any of {header!r}; accept {TAXII}")


def check_content_type(header: str | None) -> None:
    """415 unless a POST body is declared as TAXII 2.1 (or STIX 2.1) JSON."""
    ranges = _parse(header or "")
    if len(ranges) == 1:
        kind, params = ranges[0]
        if kind in ("application/taxii+json", "application/stix+json") and \
                params.get("version", "2.1") == "2.1":
            return
    raise UnsupportedMediaType(f"Content-Type {header!r} is not supported; send {TAXII}")
