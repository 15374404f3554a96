"""Streaming reader: shapes, errors, chunk boundaries (property-tested), real files."""

from __future__ import annotations

import gzip
import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thiqa.errors import BadRequest
from thiqa.reader import Item, ReadError, read_objects
from thiqa.reader._scan import FAST_DEPTH, MAX_DEPTH

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ESET = DATA / "misp" / "events" / "eset-malware-ioc"
ATTACK = DATA / "attack" / "enterprise-attack-18.1.stix21.json.gz"
CHUNKS = [1, 3, 64, 1 << 20]


def read_all(path: Path, **kw: Any) -> list[Item]:
    return [item for batch in read_objects(path, **kw) for item in batch]


def read_until_error(path: Path, **kw: Any) -> tuple[list[Item], ReadError]:
    items: list[Item] = []
    with pytest.raises(ReadError) as info:
        for batch in read_objects(path, **kw):
            items.extend(batch)
    return items, info.value


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    def _write(content: bytes | str, name: str = "f.json", compress: bool = False) -> Path:
        data = content.encode() if isinstance(content, str) else content
        path = tmp_path / name
        path.write_bytes(gzip.compress(data) if compress else data)
        return path
    return _write


# --- shapes -------------------------------------------------------------------------

BUNDLE = '{"type": "bundle", "id": "bundle--1", "objects": [{"type": "a"}, {"type": "b"}]}'


@pytest.mark.parametrize("chunk", CHUNKS)
@pytest.mark.parametrize(("content", "wheres"), [
    (BUNDLE, ["f.json: objects[0]", "f.json: objects[1]"]),
    ('{"objects": [{"type": "a"}, {"type": "b"}], "more": false}',
     ["f.json: objects[0]", "f.json: objects[1]"]),
    ('[{"type": "a"}, {"type": "b"}]', ["f.json: [0]", "f.json: [1]"]),
    ('{"type": "a"}\n{"type": "bundle", "objects": [{"type": "b"}]}',
     ["f.json:1", "f.json:2 objects[0]"]),
    ('\n\n{"type": "a"}\r\n[{"type": "b"}]\n', ["f.json:3", "f.json:4 [0]"]),
    ('{"id": "x", "objects": [{"type": "a"}], "type": "bundle"}\n{"type": "b"}',
     ["f.json: objects[0]", "f.json:2"]),
])
def test_shapes(write: Callable[..., Path], content: str, wheres: list[str], chunk: int) -> None:
    path = write(content)
    items = read_all(path, chunk_size=chunk)
    assert [i.where.replace(str(path.parent) + "/", "") for i in items] == wheres
    assert [i.obj for i in items] == [{"type": "a"}, {"type": "b"}]


def test_single_object_keeps_exact_text(write: Callable[..., Path]) -> None:
    text = '{\n  "type": "indicator",\n  "objects": {"0": {}}\n}'  # STIX 2.0-style dict
    [item] = read_all(write(text))
    assert item.raw == text.encode() and item.obj == json.loads(text)


@pytest.mark.parametrize("content", [
    '{"type": "bundle", "id": "bundle--1"}', '{"type": "bundle", "objects": []}', "{}",
    '{"more": false}', "[]", '{"objects": []}\n{}\n',
])
def test_nothing_to_read(write: Callable[..., Path], content: str) -> None:
    assert read_all(write(content)) == []


def test_non_objects_are_items_without_obj(write: Callable[..., Path]) -> None:
    items = read_all(write('{"objects": [1, "s", null, [{"type": "a"}], {"type": "b"}]}'))
    assert [i.obj for i in items] == [None, None, None, None, {"type": "b"}]
    assert [i.raw for i in items] == [b"1", b'"s"', b"null", b'[{"type": "a"}]',
                                      b'{"type": "b"}']


def test_raw_is_exact_for_pretty_printed(write: Callable[..., Path]) -> None:
    doc = {"type": "bundle", "objects": [{"type": "a", "l": [{"x": 1}, {"y": "},{"}]}] * 3}
    text = json.dumps(doc, indent=4)
    items = read_all(write(text))
    assert [i.raw for i in items] == [json.dumps(o, indent=4).replace("\n", "\n        ")
                                      .encode() for o in doc["objects"]]


def test_strings_with_brackets_quotes_and_unicode(write: Callable[..., Path]) -> None:
    objs = [{"p": "[a:b = '\\\\']", "q": '"}]{[,', "u": "مؤشر 恶意 😀", "e": "\u2028\\"}]
    text = json.dumps({"objects": objs * 4}, ensure_ascii=False)
    assert [i.obj for i in read_all(write(text), chunk_size=5)] == objs * 4


def test_bom_is_skipped(write: Callable[..., Path]) -> None:
    assert [i.obj for i in read_all(write(b"\xef\xbb\xbf" + BUNDLE.encode()))] == [
        {"type": "a"}, {"type": "b"}]


def test_gzip_detected_by_magic_not_name(write: Callable[..., Path]) -> None:
    path = write(BUNDLE, name="feed.json", compress=True)
    assert len(read_all(path, chunk_size=7)) == 2


def test_multi_member_gzip(write: Callable[..., Path]) -> None:
    data = gzip.compress(b'{"type": "a"}\n') + gzip.compress(b'{"type": "b"}\n')
    assert [i.obj for i in read_all(write(data))] == [{"type": "a"}, {"type": "b"}]


@pytest.mark.parametrize("compress", [False, True])
def test_progress_adds_up_to_file_size(write: Callable[..., Path], compress: bool) -> None:
    path = write("[" + ",".join(['{"type": "x"}'] * 5000) + "]", compress=compress)
    seen: list[int] = []
    read_all(path, on_progress=seen.append, chunk_size=4096)
    assert sum(seen) == path.stat().st_size and len(seen) > 1 and min(seen) > 0


def test_batches(write: Callable[..., Path]) -> None:
    path = write("[" + ",".join(f'{{"n": {n}}}' for n in range(2500)) + "]")
    sizes = [len(b) for b in read_objects(path, batch=1000, chunk_size=1000)]
    assert sizes == [1000, 1000, 500]
    with pytest.raises(ValueError):
        next(read_objects(path, batch=0))


def test_deep_nesting(write: Callable[..., Path]) -> None:
    deep: Any = "x"
    for _ in range(FAST_DEPTH * 10):
        deep = {"a": [deep]}
    items = read_all(write(json.dumps({"objects": [deep, {"b": 1}]})), chunk_size=100)
    assert [i.obj for i in items] == [deep, {"b": 1}]


# --- errors -------------------------------------------------------------------------

def test_trailing_comma_after_complete_objects(write: Callable[..., Path]) -> None:
    text = '{"type": "bundle", "objects": [\n' + ",\n".join(['{"type": "a"}'] * 1500) + ",\n]}"
    items, err = read_until_error(write(text), batch=1000, chunk_size=256)
    assert len(items) == 1500
    assert (err.line, err.column, err.reason) == (1501, 14, "trailing comma is not allowed")
    assert err.offset == text.rindex(",")
    assert str(err).startswith(err.path + ": byte ")


def test_real_file_with_trailing_comma() -> None:
    bad = ESET / "pypi_backdoor__malicious_pypi_packages.misp-event.json"
    _, err = read_until_error(bad)
    text = bad.read_bytes()
    assert text[err.offset or 0:][:1] == b"," and err.line == 37373 and err.column == 12
    assert "trailing comma" in str(err) and str(bad) in str(err)
    assert isinstance(err, ValueError) and isinstance(err, BadRequest)


@pytest.mark.parametrize(("content", "reason"), [
    ("", "empty file"), ("  \n\t ", "empty file"), (b"\xef\xbb\xbf", "empty file"),
    ('{"type": "bundle", "objects": {"a": 1}}', "'objects' is not a list"),
    ('{"objects": 5}', "'objects' is not a list"),
    ('{"objects": [{"a": 1}], "type": "grouping"}', "expected a bundle"),
    ('[{"a": 1} {"b": 2}]', "expected ',' or ']'"),
    ('[{"a": 1}, {"b": 2]', "does not close|expected ',' or '}'"),
    ('[{"a": "x}]', "unterminated string"),
    ('{"objects": [{"a": 1}', "unexpected end of data"),
    ('[{"a": tru}]', "unexpected character|expected"),
    ("[1, 2] }", "expected a JSON value"),
    ("[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5), f"deeper than {MAX_DEPTH}"),
    ('{"a": 1,}', "trailing comma"),
    ('[{"a": 1},\n 12', "end of data"),
    ('{"a" 1}', "expected ':'"),
    ("\xff\xfe[\x00]\x00".encode("latin-1"), "UTF-16"),
])
@pytest.mark.parametrize("chunk", [2, 1 << 20])
def test_malformed(write: Callable[..., Path], content: str | bytes, reason: str,
                   chunk: int) -> None:
    _, err = read_until_error(write(content), chunk_size=chunk)
    assert re.search(reason, str(err)) and err.offset is not None and err.column


def test_truncated_and_corrupt_gzip(write: Callable[..., Path]) -> None:
    data = gzip.compress(("[" + ",".join(['{"type": "x"}'] * 20000) + "]").encode())
    items, err = read_until_error(write(data[: len(data) // 2]), chunk_size=1000)
    assert 0 < len(items) < 20000 and "truncated gzip" in str(err)
    broken = data[:30] + bytes(b ^ 0x55 for b in data[30:60]) + data[60:]
    _, err = read_until_error(write(broken, name="b.json"))
    assert "gzip" in str(err)


def test_other_compression_and_missing_file(write: Callable[..., Path]) -> None:
    _, err = read_until_error(write(b"BZh91AY&SY..."))
    assert "bzip2" in str(err)
    _, err = read_until_error(write("x").with_name("missing.json"))
    assert "missing.json" in str(err)


# --- property: any document, any whitespace, any chunk size -------------------------

_TRICKY = st.sampled_from(['"', "\\", "[", "]", "{", "}", ",", ":", "\n", " ", "é", "😀"])
_TEXT = st.text(st.characters(codec="utf-8") | _TRICKY, max_size=8)
_SCALARS = (st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
            | st.floats(allow_nan=False, allow_infinity=False) | _TEXT)
_JSON = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(_TEXT, inner, max_size=4), max_leaves=12)
_ELEMENTS = st.lists(st.dictionaries(_TEXT, _JSON, max_size=5) | _JSON, max_size=12)
_WS = st.text(st.sampled_from(" \t\r\n"), max_size=3)


def _dump(value: Any, ws: Callable[[], str], ascii_: bool) -> str:
    """json.dumps with random whitespace wherever RFC 8259 allows it."""
    if isinstance(value, dict):
        members = [f"{ws()}{json.dumps(k, ensure_ascii=ascii_)}{ws()}:{ws()}"
                   f"{_dump(v, ws, ascii_)}{ws()}" for k, v in value.items()]
        return "{" + (",".join(members) or ws()) + "}"
    if isinstance(value, list):
        return "[" + (",".join(f"{ws()}{_dump(v, ws, ascii_)}{ws()}" for v in value)
                      or ws()) + "]"
    return json.dumps(value, ensure_ascii=ascii_)


@st.composite
def documents(draw: st.DrawFn) -> tuple[bytes, list[Any]]:
    elements = draw(_ELEMENTS)
    shape = draw(st.sampled_from(["bundle", "bundle-late", "envelope", "array"]))
    if shape == "array":
        doc: Any = elements
    elif shape == "envelope":
        doc = {"more": False, "objects": elements}
    else:
        doc = {"type": "bundle", "id": "bundle--1", "objects": elements}
        if shape == "bundle-late":
            doc = {"objects": elements, "id": "bundle--1", "type": "bundle"}
    ws = draw(st.lists(_WS, min_size=1, max_size=20))
    cycle = itertools.cycle(ws)
    text = _dump(doc, lambda: next(cycle), draw(st.booleans()))
    return (draw(_WS) + text + draw(_WS)).encode(), elements


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), st.integers(1, 80), st.booleans())
def test_property_split_equals_json_loads(tmp_path_factory: pytest.TempPathFactory,
                                          doc: tuple[bytes, list[Any]], chunk: int,
                                          compress: bool) -> None:
    text, elements = doc
    path = tmp_path_factory.mktemp("p") / "doc.json"
    path.write_bytes(gzip.compress(text) if compress else text)
    items = read_all(path, chunk_size=chunk, batch=3)
    assert [json.loads(i.raw) for i in items] == elements
    assert [i.obj for i in items] == [e if isinstance(e, dict) else None for e in elements]
    assert all(i.raw.strip() == i.raw and i.raw in text for i in items)
    assert json.loads(text) is not None  # the generator made valid JSON


@settings(max_examples=150, deadline=None)
@given(documents(), st.integers(1, 80), st.data())
def test_property_truncated_yields_prefix_then_error(
        tmp_path_factory: pytest.TempPathFactory, doc: tuple[bytes, list[Any]], chunk: int,
        data: st.DataObject) -> None:
    text, elements = doc
    body = text.rstrip()
    cut = data.draw(st.integers(0, len(body) - 1))
    path = tmp_path_factory.mktemp("t") / "doc.json"
    path.write_bytes(body[:cut])
    items, _ = read_until_error(path, chunk_size=chunk)
    got = [orjson.loads(i.raw) for i in items]
    assert got == [orjson.loads(json.dumps(e)) for e in elements[: len(got)]]


_KEY = st.sampled_from(["type", "id", "modified", "source_name", "url", "x_mitre_x"])
_NESTED = st.lists(st.dictionaries(_KEY, _TEXT, max_size=3), max_size=3)
_STIXISH = st.lists(st.dictionaries(_KEY, _NESTED | _TEXT, min_size=1, max_size=4),
                    max_size=300)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_STIXISH, st.sampled_from([None, 0, 2, 4]), st.booleans(), st.integers(16, 4096))
def test_property_many_similar_objects(tmp_path_factory: pytest.TempPathFactory,
                                       elements: list[Any], indent: int | None,
                                       compact: bool, chunk: int) -> None:
    """Long arrays of objects that hold lists of objects, as real feeds do: the ground
    on which the separator guess is right, wrong (``},{`` inside objects) or mixed."""
    seps = (",", ":") if compact else (", ", ": ")
    text = json.dumps({"type": "bundle", "objects": elements}, indent=indent,
                      separators=seps if indent is None else None)
    path = tmp_path_factory.mktemp("m") / "doc.json"
    path.write_text(text)
    assert [i.obj for i in read_all(path, chunk_size=chunk)] == elements


# --- real data ----------------------------------------------------------------------

@pytest.mark.slow
def test_attack_enterprise_matches_json_load() -> None:
    with gzip.open(ATTACK) as f:
        expected = json.load(f)["objects"]
    items = read_all(ATTACK)
    assert len(items) == len(expected) == 24772
    assert [i.obj for i in items] == expected
    assert items[5].where == f"{ATTACK}: objects[5]"


def test_eset_events_read_or_fail_clearly() -> None:
    failed = []
    for path in sorted(ESET.glob("*.json")):
        try:
            [item] = read_all(path)  # each is one MISP event document
            assert item.obj == json.loads(path.read_bytes())
        except ReadError:
            failed.append(path.name)
    assert failed == ["pypi_backdoor__malicious_pypi_packages.misp-event.json"]
