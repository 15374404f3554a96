"""``thiqa load`` indexes; ``thiqa match`` and ``thiqa index``."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tests.conftest import indicator
from thiqa.cli import main


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def test_load_index_and_match(tmp_path: Path) -> None:
    data = str(tmp_path / "node")
    assert run("init", "--data", data)[0] == 0
    bundle = tmp_path / "b.json"
    bundle.write_text(json.dumps({"type": "bundle", "id": "bundle--0c9e4b1a-0000-4000-8000-"
                                  "000000000001", "objects": [indicator(1, value="6.6.6.6"),
                                                              indicator(2, value="7.7.7.7")]}))
    code, out, _ = run("load", str(bundle), "--data", data, "--quiet", "--json")
    assert code == 0 and json.loads(out)["index"]["observables"] == 2
    values = tmp_path / "seen.txt"
    values.write_text("6.6.6.6\n8.8.8.8\n")
    code, out, err = run("match", str(values), "--data", data, "--quiet")
    assert code == 4, err
    assert out.split("\t")[:3] == ["6.6.6.6", "ipv4-addr", indicator(1)["id"]]
    assert "2 values checked, 2 recognised, 1 matched" in err
    code, out, _ = run("match", str(values), "--data", data, "--quiet", "--json")
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["matches"][0]["id"] == indicator(1)["id"]
    assert lines[-1]["summary"]["matched"] == 1
    assert run("org", "add", "Outsider", "--data", data)[0] == 0
    code, out, _ = run("match", str(values), "--data", data, "--quiet", "--org", "Outsider")
    assert code == 0 and out == ""  # the outsider reads no collection
    code, out, _ = run("index", "--data", data, "--rebuild", "--quiet", "--json")
    assert code == 0 and json.loads(out)["entries"] == 2
