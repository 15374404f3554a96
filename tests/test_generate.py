"""bench/generate.py: deterministic, valid STIX 2.1, a realistic mix, and readable back."""

from __future__ import annotations

import collections
import gzip
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from stix2patterns.validator import run_validator

from thiqa.reader import read_objects
from thiqa.stix.patterns import check_pattern
from thiqa.stix.validate import validate

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    # bench/ is scripts, not a package: load the file itself.
    spec = importlib.util.spec_from_file_location("thiqa_bench_generate", BENCH / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_same_seed_same_objects(gen: ModuleType) -> None:
    assert list(gen.generate_indicators(300, 5)) == list(gen.generate_indicators(300, 5))
    assert list(gen.generate_objects(300, 5)) == list(gen.generate_objects(300, 5))
    assert list(gen.generate_indicators(50, 5)) != list(gen.generate_indicators(50, 6))


def test_generated_objects_are_valid_stix(gen: ModuleType) -> None:
    objects = [*gen.generate_indicators(3000, 11), *gen.generate_objects(3000, 12)]
    problems = {o["id"]: p for o in objects if (p := validate(o))}
    assert problems == {}
    for o in objects:
        if o["type"] == "indicator":
            assert check_pattern(o["pattern"]) is None, o["pattern"]
    # The reference implementation agrees on a sample of patterns.
    for o in objects[:500]:
        if o["type"] == "indicator":
            assert run_validator(o["pattern"], stix_version="2.1") == [], o["pattern"]


def test_ids_unique_and_mix_realistic(gen: ModuleType) -> None:
    indicators = list(gen.generate_indicators(20000, 1))
    assert len({o["id"] for o in indicators}) == len(indicators)
    kinds = collections.Counter(o["pattern"][1:].split(":", 1)[0]
                                for o in indicators)
    assert set(kinds) == {"network-traffic", "ipv4-addr", "ipv6-addr", "domain-name", "url",
                          "file", "email-addr", "x509-certificate"}
    assert kinds["file"] > kinds["domain-name"] > kinds["url"] > kinds["email-addr"]
    markings = collections.Counter(r for o in indicators for r in o.get("object_marking_refs", []))
    assert set(markings) == set(gen.TLP.values())
    assert any("valid_until" in o for o in indicators)

    mixed = collections.Counter(o["type"] for o in gen.generate_objects(20000, 1))
    assert sum(mixed.values()) == 20000
    assert 0.3 < mixed["indicator"] / 20000 < 0.6 and mixed["relationship"] > 5000
    assert {"identity", "malware", "sighting", "report", "file"} <= set(mixed)


@pytest.mark.parametrize(("name", "fmt"), [("b.json", "bundle"), ("b.json.gz", "bundle"),
                                           ("l.jsonl", "jsonl"), ("l.jsonl.gz", "jsonl")])
def test_cli_writes_files_the_reader_reads(gen: ModuleType, tmp_path: Path, name: str,
                                           fmt: str) -> None:
    out = tmp_path / name
    assert gen.main(["--count", "500", "--seed", "3", "--out", str(out), "--format", fmt,
                     "--mix"]) == 0
    items = [i for batch in read_objects(out) for i in batch]
    assert [i.obj for i in items] == list(gen.generate_objects(500, 3))
    if name.endswith(".gz"):
        again = tmp_path / ("again-" + name)
        gen.main(["--count", "500", "--seed", "3", "--out", str(again), "--format", fmt,
                  "--mix"])
        assert again.read_bytes() == out.read_bytes()  # byte-identical, gzip header too
        assert gzip.decompress(out.read_bytes())
