"""Observed values from the files members have: lists, CSV, JSON lines, sensor logs.

    plain  one value per line (``#`` starts a comment line)
    csv    a column named value / indicator / observable / ioc if the header has one,
           else every non-empty cell
    jsonl  per line a JSON string, or an object: its value / indicator / observable
           field, else a Suricata or Zeek record (below), else its top-level strings
    eve    Suricata eve.json: dns (rrname, answers), http (hostname, and the URL
           rebuilt from hostname and url), tls (sni, certificate fingerprint),
           fileinfo (hashes), and the src_ip/dest_ip of every event (flow, alert, …)
    zeek   Zeek TSV logs with a ``#fields`` header: dns (query, answers), http (host,
           and the URL from host and uri), ssl (server_name), conn and all others
           (id.orig_h, id.resp_h), files (md5, sha1, sha256); Zeek JSON logs are jsonl

``auto`` chooses by the file's name and first line. ``.gz`` files are read
uncompressed. Every reader streams: memory stays flat in the file's size.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

import orjson

from thiqa.errors import BadRequest

FORMATS = ("auto", "plain", "csv", "jsonl", "eve", "zeek")
_VALUE_FIELDS = ("value", "indicator", "observable", "ioc")
_ZEEK_FIELDS = ("query", "server_name", "id.orig_h", "id.resp_h", "md5", "sha1", "sha256")
_ZEEK_NULL = ("-", "(empty)", "")


def open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":  # noqa: SIM108
        raw = cast(IO[bytes], gzip.open(path, "rb"))  # noqa: SIM115
    else:
        raw = open(path, "rb")  # noqa: SIM115
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")


def sniff(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return "csv"
    with open_text(path) as f:
        first = f.readline().lstrip()
    if first.startswith(("#separator", "#fields")):
        return "zeek"
    if first.startswith(("{", '"')) or name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    return "plain"


def read_values(path: Path, fmt: str = "auto") -> Iterator[str]:
    if fmt not in FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if fmt == "auto":
        fmt = sniff(path)
    with open_text(path) as f:
        if fmt == "plain":
            yield from plain(f)
        elif fmt == "csv":
            yield from table(f)
        elif fmt == "zeek":
            yield from zeek(f)
        else:
            yield from json_lines(f, where=str(path))


def plain(lines: Iterator[str] | IO[str]) -> Iterator[str]:
    for line in lines:
        v = line.strip()
        if v and not v.startswith("#"):
            yield v


def table(f: IO[str]) -> Iterator[str]:
    rows = csv.reader(f)
    header = next(rows, None)
    if header is None:
        return
    names = [h.strip().lower() for h in header]
    column = next((names.index(c) for c in _VALUE_FIELDS if c in names), None)
    if column is None:
        yield from (c.strip() for c in header if c.strip())
    for row in rows:
        cells = row[column : column + 1] if column is not None else row
        yield from (c.strip() for c in cells if c.strip())


def json_lines(f: IO[str], *, where: str = "input") -> Iterator[str]:
    for number, line in enumerate(f, 1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"{where} line {number}: not JSON: {exc}") from None
        yield from record_values(record)


def record_values(record: Any) -> Iterator[str]:
    """The observed values of one JSON record (see the module docstring)."""
    if isinstance(record, str):
        yield record
        return
    if not isinstance(record, dict):
        return
    for name in _VALUE_FIELDS:
        if isinstance(record.get(name), str):
            yield record[name]
            return
    if "event_type" in record:
        yield from eve(record)
    elif any(name in record for name in _ZEEK_FIELDS):
        yield from _zeek_record({k: v if isinstance(v, str) else
                                 ",".join(map(str, v)) if isinstance(v, list) else str(v)
                                 for k, v in record.items()})
    else:
        yield from (v for v in record.values() if isinstance(v, str))


def eve(r: dict[str, Any]) -> Iterator[str]:
    """Observed values of one Suricata eve.json event."""
    for name in ("src_ip", "dest_ip"):
        if isinstance(r.get(name), str):
            yield r[name]
    dns, http, tls, fileinfo = (r.get(k) for k in ("dns", "http", "tls", "fileinfo"))
    if isinstance(dns, dict):
        if isinstance(dns.get("rrname"), str):
            yield dns["rrname"]
        if isinstance(dns.get("rdata"), str):
            yield dns["rdata"]
        for answer in dns.get("answers") or ():
            if isinstance(answer, dict) and isinstance(answer.get("rdata"), str):
                yield answer["rdata"]
    if isinstance(http, dict) and isinstance(http.get("hostname"), str):
        host = http["hostname"]
        yield host
        if isinstance(http.get("url"), str):
            port = http.get("http_port")
            scheme = "https" if port == 443 else "http"
            yield f"{scheme}://{host}{':' + str(port) if port else ''}{http['url']}"
    if isinstance(tls, dict):
        for name in ("sni", "fingerprint"):
            if isinstance(tls.get(name), str):
                yield tls[name]
    if isinstance(fileinfo, dict):
        for name in ("md5", "sha1", "sha256"):
            if isinstance(fileinfo.get(name), str):
                yield fileinfo[name]


def zeek(f: IO[str]) -> Iterator[str]:
    """Observed values of a Zeek TSV log (its ``#fields`` header names the columns)."""
    separator, fields = "\t", None
    for line in f:
        line = line.rstrip("\r\n")
        if line.startswith("#"):
            if line.startswith("#separator"):
                sep = line.split(" ", 1)[1] if " " in line else "\\x09"
                separator = sep.encode().decode("unicode_escape")
            elif line.startswith("#fields"):
                fields = line.split(separator)[1:]
            continue
        if fields is None or not line:
            continue
        yield from _zeek_record(dict(zip(fields, line.split(separator), strict=False)))


def _zeek_record(r: dict[str, str]) -> Iterator[str]:
    def present(name: str) -> str | None:
        v = r.get(name)
        return None if v is None or v in _ZEEK_NULL else v

    for name in ("id.orig_h", "id.resp_h", "query", "server_name", "md5", "sha1", "sha256"):
        v = present(name)
        if v is not None:
            yield v
    answers = present("answers")
    if answers is not None:
        yield from (a for a in answers.split(",") if a and a not in _ZEEK_NULL)
    host = present("host")
    if host is not None:
        yield host
        uri = present("uri")
        if uri is not None:
            port = present("id.resp_p")
            scheme = "https" if port == "443" else "http"
            default = port in (None, "80", "443")
            yield f"{scheme}://{host}{'' if default else ':' + str(port)}{uri}"
