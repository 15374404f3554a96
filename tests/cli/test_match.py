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


def test_alerts_and_sightings_at_the_console(tmp_path: Path) -> None:
    data = str(tmp_path / "node")
    assert run("init", "--data", data)[0] == 0
    for name in ("A", "B"):
        assert run("org", "add", name, "--data", data)[0] == 0
    assert run("community", "create", "AB", "--member", "A", "--member", "B",
               "--data", data)[0] == 0
    seen = tmp_path / "seen.txt"
    seen.write_text("6.6.6.6\nhttp://evil.example.org/x\n")
    code, _, err = run("match", str(seen), "--data", data, "--quiet", "--org", "B")
    assert code == 0, err  # nothing yet: the values are kept for retro-hunt
    bundle = tmp_path / "b.json"
    bundle.write_text(json.dumps({"type": "bundle", "id": "bundle--0c9e4b1a-0000-4000-8000-"
                                  "000000000001", "objects": [
                                      indicator(1, value="6.6.6.6", tlp="green")]}))
    code, out, err = run("load", str(bundle), "--data", data, "--quiet", "--collection", "ab",
                         "--org", "A")
    assert code == 0, err
    code, out, _ = run("alerts", "list", "--org", "B", "--data", data, "--json")
    [alert] = [json.loads(line) for line in out.splitlines()]
    assert alert["kind"] == "retro-hunt" and alert["matches"][0]["id"] == indicator(1)["id"]
    assert run("alerts", "list", "--org", "A", "--data", data)[1] == ""
    code, out, err = run("alerts", "ack", alert["id"], "--org", "A", "--data", data)
    assert code == 1 and "no alert" in err  # not A's
    code, out, _ = run("alerts", "ack", alert["id"], "--org", "B", "--data", data, "--json")
    assert code == 0 and json.loads(out)["acknowledged_by"] == "cli:operator"
    assert run("alerts", "list", "--org", "B", "--data", data)[1] == ""
    code, out, err = run("match", str(seen), "--data", data, "--quiet", "--org", "B",
                         "--sightings", "--json")
    assert code == 4, err
    [summary] = [json.loads(line)["summary"] for line in out.splitlines()
                 if "summary" in json.loads(line)]
    [published] = summary["sightings"]
    assert published["sighting_of_ref"] == indicator(1)["id"] and "error" not in published
    assert run("match", str(seen), "--data", data, "--sightings")[0] == 2  # needs --org
