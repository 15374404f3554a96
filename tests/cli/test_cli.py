"""The operator contract of the ``thiqa`` command (CliRunner, in-process)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.conftest import DATA, indicator
from thiqa.cli import main


@pytest.fixture
def data(tmp_path: Path) -> str:
    return str(tmp_path / "node")


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def ok_json(*args: str) -> Any:
    r = run(*args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_init_prints_admin_key_once_and_refuses_twice(data: str) -> None:
    first = ok_json("init", "--data", data, "--org-name", "CERT-X")
    assert first["org"]["name"] == "CERT-X" and first["org"]["id"].startswith("identity--")
    assert first["api_key"]["key"].startswith("thiqa_") and first["api_key"]["role"] == "admin"
    again = run("init", "--data", data)
    assert again.exit_code == 1 and "already initialised" in again.stderr


def test_admin_verbs(data: str) -> None:
    ok_json("init", "--data", data)
    org = ok_json("org", "add", "Agency B", "--data", data)
    assert org["name"] == "Agency B"
    assert [o["name"] for o in ok_json("org", "list", "--data", data)] == ["Agency B", "local"]
    key = ok_json("key", "create", "--org", "Agency B", "--role", "reader", "--data", data)
    assert key["key"].startswith(f"thiqa_{key['id']}_")
    listed = ok_json("key", "list", "--org", "Agency B", "--data", data)
    assert [k["id"] for k in listed] == [key["id"]] and "key" not in listed[0]
    revoked = ok_json("key", "revoke", key["id"], "--data", data)
    assert revoked == {"id": key["id"], "revoked": True}
    assert ok_json("key", "list", "--org", "Agency B", "--data", data)[0]["revoked"]
    coll = ok_json("collection", "create", "TF", "--alias", "tf", "--read", "Agency B",
                   "--data", data)
    grant = ok_json("collection", "grant", "tf", "Agency B", "--write", "--data", data)
    assert grant == {"collection": coll["id"], "org_id": org["id"], "can_read": True,
                     "can_write": True}
    listed_c = ok_json("collection", "list", "--data", data)
    assert {c["alias"] for c in listed_c} == {"default", "tf"}
    assert coll["public"] is False
    opened = ok_json("collection", "publish", "tf", "--data", data)
    assert opened["id"] == coll["id"] and opened["public"] is True
    assert {c["alias"]: c["public"] for c in ok_json("collection", "list", "--data", data)} == {
        "default": False, "tf": True}
    assert ok_json("collection", "publish", "tf", "--closed", "--data", data)["public"] is False
    born_open = ok_json("collection", "create", "Open", "--public", "--data", data)
    assert born_open["public"] is True


@pytest.mark.parametrize("args", [
    ("org", "add", "local"),                                   # duplicate name
    ("key", "create", "--org", "nobody"),                      # unknown org
    ("key", "revoke", "000000000000"),                         # unknown key
    ("collection", "create", "X", "--read", "nobody"),         # unknown org
    ("collection", "create", "X", "--alias", "default"),       # alias taken
    ("collection", "grant", "nope", "local"),                  # unknown collection
    ("collection", "publish", "nope"),                         # unknown collection
    ("load", "--collection", "nope", str(DATA / "attack" / "ics-attack-18.1.stix21.json")),
])
def test_errors_exit_1_with_a_message(data: str, args: tuple[str, ...]) -> None:
    ok_json("init", "--data", data)
    r = run(*args, "--data", data)
    assert r.exit_code == 1 and r.stderr.startswith("error: "), r.output


def test_load_reports_rejections_and_exit_status(data: str, tmp_path: Path) -> None:
    ok_json("init", "--data", data)
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"type": "bundle", "id": "bundle--6e1b4d6b-6b6b-4b6b-8b6b-"
                                "6b6b6b6b6b6b", "objects": [indicator(1), indicator(2)]}))
    r = run("load", str(good), "--data", data, "--json", "--quiet")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert (summary["read"], summary["stored"], summary["rejected"]) == (2, 2, 0)
    mixed = tmp_path / "mixed.jsonl"
    bad = {k: v for k, v in indicator(3).items() if k != "pattern"}
    mixed.write_text(json.dumps(indicator(3, modified="2024-02-02T00:00:00.000Z")) + "\n"
                     + json.dumps(bad) + "\n")
    r = run("load", str(mixed), "--data", data, "--json", "--quiet")
    assert r.exit_code == 3
    summary = json.loads(r.stdout)
    assert (summary["stored"], summary["rejected"]) == (1, 1)
    assert summary["rejections"][0]["where"].endswith(":2")
    listed = ok_json("collection", "list", "--data", data)
    assert listed[0]["objects"] == 3


def test_config_check(data: str) -> None:
    out = ok_json("config", "check", "--data", data, "--port", "9999")
    assert out["port"] == {"value": 9999, "source": "--port"}
    assert out["host"]["source"] == "default"
    bad = run("config", "check", "--data", data, "--page-size", "0")
    assert bad.exit_code == 1 and "page_size" in bad.stderr


def test_serve_refuses_beyond_loopback_without_tls(data: str) -> None:
    # Beyond loopback, serve uses the node's own certificate (tests/federation/test_tls.py);
    # plain HTTP there is refused.
    r = run("serve", "--data", data, "--host", "0.0.0.0", "--tls", "off")
    assert r.exit_code == 1 and "TLS" in r.stderr


def test_load_of_malformed_json_keeps_what_came_before(data: str, tmp_path: Path) -> None:
    ok_json("init", "--data", data)
    broken = tmp_path / "broken.json"
    broken.write_text('{"type": "bundle", "id": "bundle--6e1b4d6b-6b6b-4b6b-8b6b-6b6b6b6b6b6b", '
                      '"objects": [' + json.dumps(indicator(1)) + ", "
                      + json.dumps(indicator(2)) + ",]}")
    r = run("load", str(broken), "--data", data, "--quiet")
    assert r.exit_code == 1
    assert r.stderr.startswith("error: ") and "broken.json" in r.stderr
    assert "2 objects read before it were stored" in r.stderr
    assert ok_json("collection", "list", "--data", data)[0]["objects"] == 2


def test_load_of_a_real_malformed_misp_file_fails_clearly(data: str) -> None:
    ok_json("init", "--data", data)
    events = DATA / "misp" / "events" / "eset-malware-ioc"
    for path in sorted(events.glob("*.json")):
        try:
            json.loads(path.read_text())
        except ValueError:
            break
    else:
        pytest.fail("the data set's malformed file is missing")
    r = run("load", str(path), "--data", data, "--quiet")
    assert r.exit_code == 1 and path.name in r.stderr
