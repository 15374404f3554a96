"""`thiqa community …` and `thiqa agreement …` (CliRunner, in-process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli import ok_json, run


@pytest.fixture
def node_with_orgs(tmp_path: Path) -> str:
    data = str(tmp_path / "node")
    ok_json("init", "--data", data)
    for name in ("Agency B", "Agency C"):
        ok_json("org", "add", name, "--data", data)
    return data


def test_community_lifecycle(node_with_orgs: str) -> None:
    d = node_with_orgs
    made = ok_json("community", "create", "Sahel Forum", "--member", "Agency B",
                   "--convener", "local", "--description", "regional", "--data", d)
    assert (made["kind"], made["name"], made["description"]) == ("community", "Sahel Forum",
                                                                 "regional")
    assert [(m["name"], m["role"]) for m in made["members"]] == [("local", "convener"),
                                                                ("Agency B", "member")]
    [coll] = made["collections"]
    assert coll["alias"] == "sahel-forum" and coll["title"] == "Sahel Forum"
    added = ok_json("community", "add-member", "Sahel Forum", "Agency C", "--data", d)
    assert (added["community"], added["name"], added["role"]) == (made["id"], "Agency C",
                                                                  "member")
    listed = ok_json("community", "list", "--data", d)
    assert [(c["id"], c["member_count"]) for c in listed] == [(made["id"], 3)]
    assert "members" not in listed[0]
    removed = ok_json("community", "remove-member", made["id"], "Agency B", "--data", d)
    assert removed["removed"] and removed["community"] == made["id"]
    shown = ok_json("community", "show", made["id"], "--data", d)
    assert {m["name"] for m in shown["members"]} == {"local", "Agency C"}
    orgs = {o["name"]: o["communities"] for o in ok_json("org", "list", "--data", d)}
    assert orgs == {"local": 1, "Agency B": 0, "Agency C": 1}
    assert {c["alias"] for c in ok_json("collection", "list", "--data", d)} == {
        "default", "sahel-forum"}
    # The alias 'default' is the default collection's: the community gets another.
    other = ok_json("community", "create", "Default", "--data", d)
    assert other["collections"][0]["alias"] == "default-2"
    text = run("community", "show", "Sahel Forum", "--data", d)
    assert text.exit_code == 0 and "convener" in text.stdout and "sahel-forum" in text.stdout


def test_agreements(node_with_orgs: str) -> None:
    d = node_with_orgs
    made = ok_json("agreement", "create", "Agency B", "Agency C", "--data", d)
    assert made["kind"] == "agreement" and made["name"] == "Agency B & Agency C"
    assert {m["role"] for m in made["members"]} == {"convener"}
    named = ok_json("agreement", "create", "local", "Agency B", "--name", "Liaison", "--data", d)
    assert named["collections"][0]["alias"] == "liaison"
    assert {a["name"] for a in ok_json("agreement", "list", "--data", d)} == {
        "Agency B & Agency C", "Liaison"}
    assert ok_json("community", "list", "--data", d) == []
    assert run("community", "list", "--data", d).exit_code == 0


@pytest.mark.parametrize("args", [
    ("community", "create", "X", "--member", "nobody"),        # unknown org
    ("community", "create", " "),                              # no name
    ("community", "show", "nope"),
    ("community", "add-member", "nope", "Agency B"),
    ("community", "add-member", "Forum", "Agency B"),          # already a member
    ("community", "remove-member", "Forum", "Agency C"),       # not a member
    ("community", "add-member", "Pact", "local"),              # agreements are fixed
    ("community", "remove-member", "Pact", "Agency B"),
    ("agreement", "create", "Agency B", "Agency B"),
    ("agreement", "create", "Agency C", "Agency B"),           # the pair has one already
    ("agreement", "create", "Agency B", "nobody"),
    ("collection", "grant", "forum", "Agency C"),              # membership decides
])
def test_errors_exit_1_with_a_message(node_with_orgs: str, args: tuple[str, ...]) -> None:
    d = node_with_orgs
    ok_json("community", "create", "Forum", "--member", "Agency B", "--data", d)
    ok_json("agreement", "create", "Agency B", "Agency C", "--name", "Pact", "--data", d)
    r = run(*args, "--data", d)
    assert r.exit_code == 1 and r.stderr.startswith("error: "), r.output
