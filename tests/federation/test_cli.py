"""``thiqa key show|rotate`` and ``thiqa trust pin|list|revoke|accept-rotation``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from thiqa.cli import main


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def ok_json(*args: str) -> Any:
    r = run(*args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_key_and_trust_verbs(tmp_path: Path) -> None:
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    for d, org in ((a, "Agency A"), (b, "Agency B")):
        assert run("init", "--data", d, "--org-name", org, "--json").exit_code == 0
    me = ok_json("key", "show", "--data", a)
    assert me["fingerprint"].startswith("sha256:") and me["org_name"] == "Agency A"
    assert ok_json("key", "show", "--data", a) == me  # stable
    doc = tmp_path / "a.json"
    doc.write_text(json.dumps(me))
    tls_fp = me["tls_fingerprint"]  # init made the node's certificate
    pinned = ok_json("trust", "pin", str(doc), "--data", b, "--tls-fingerprint", tls_fp)
    assert (pinned["node"], pinned["state"], pinned["tls_fingerprint"]) == \
        (me["node"], "active", tls_fp)
    assert [o["name"] for o in ok_json("org", "list", "--data", b)] == ["Agency A", "Agency B"]

    rotation = ok_json("key", "rotate", "--data", a)
    assert rotation["old_fingerprint"] == me["fingerprint"]
    assert ok_json("key", "show", "--data", a)["fingerprint"] == rotation["new_fingerprint"]
    statement = tmp_path / "rotation.json"
    statement.write_text(json.dumps(rotation))
    new = ok_json("trust", "accept-rotation", str(statement), "--data", b)
    assert new["fingerprint"] == rotation["new_fingerprint"]
    states = {p["fingerprint"]: p["state"] for p in ok_json("trust", "list", "--data", b)}
    assert states == {me["fingerprint"]: "rotated", new["fingerprint"]: "active"}

    assert ok_json("trust", "revoke", new["fingerprint"], "--data", b)["state"] == "revoked"
    again = run("trust", "revoke", new["fingerprint"], "--data", b)
    assert again.exit_code == 1 and "no pinned, unrevoked key" in again.stderr
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**me, "fingerprint": "sha256:" + "0" * 64}))
    refused = run("trust", "pin", str(bad), "--data", b)
    assert refused.exit_code == 1 and "does not match the public key" in refused.stderr
