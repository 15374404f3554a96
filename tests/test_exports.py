"""Exports (thiqa.exports): GET /api/collections/{id}/export/ and ``thiqa export`` give
what the reader may see through TAXII, whole, as a bundle or JSON lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import stix2
from click.testing import CliRunner
from starlette.testclient import TestClient

from tests.conftest import TAXII, World, indicator
from thiqa.audit import AuditQuery
from thiqa.cli import main
from thiqa.node import OPERATING_ORG
from thiqa.taxii import create_app


@pytest.fixture
def client(world: World) -> Any:
    with TestClient(create_app(world.node.settings, world.node.store, world.node.clock)) as c:
        yield c


def _post(client: TestClient, world: World, coll: str, objects: list[Any]) -> None:
    r = client.post(f"/api/collections/{coll}/objects/", json={"objects": objects},
                    headers={**world.auth("a_analyst"), "Content-Type": TAXII})
    assert r.status_code == 202 and r.json()["failure_count"] == 0, r.text


def _export(client: TestClient, world: World, who: str, query: str = "",
            coll: str = "shared") -> Any:
    return client.get(f"/api/collections/{coll}/export/{query}",
                      headers={"Authorization": world.auth(who)["Authorization"]})


def test_export_is_what_the_reader_may_see_across_many_pages(client: TestClient,
                                                            world: World) -> None:
    green = [indicator(n, tlp="green") for n in range(2500)]  # more than two export pages
    for start in range(0, len(green), 500):
        _post(client, world, "shared", green[start:start + 500])
    _post(client, world, "shared", [indicator(9000, tlp="amber"), indicator(9001)])  # 9001: RED
    r = _export(client, world, "b_reader")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/stix+json")
    assert 'filename="shared.json"' in r.headers["content-disposition"]
    bundle = orjson.loads(r.content)
    ids = [o["id"] for o in bundle["objects"]]
    assert bundle["type"] == "bundle" and len(ids) == len(set(ids)) == 2501
    assert indicator(9001)["id"] not in ids and indicator(9000)["id"] in ids
    stix2.parse(r.content.decode(), allow_custom=False)  # a valid STIX 2.1 bundle
    # The originator sees its unmarked (RED) indicator too.
    assert len(orjson.loads(_export(client, world, "a_reader").content)["objects"]) == 2502
    # Disclosing AMBER is audited, as a TAXII read is.
    reads = world.node.audit_log(AuditQuery(action="read"))
    assert any(indicator(9000)["id"] in e.objects for e in reads)


def test_jsonl_filters_and_versions(client: TestClient, world: World) -> None:
    later = indicator(1, modified="2024-02-01T00:00:00.000Z", tlp="green")
    _post(client, world, "shared", [indicator(1, tlp="green"), later,
                                    indicator(2, tlp="green")])
    r = _export(client, world, "b_reader", "?format=jsonl")
    assert r.headers["content-type"].startswith("application/x-ndjson")
    lines = [orjson.loads(line) for line in r.content.splitlines()]
    assert [(o["id"], o["modified"]) for o in lines] == [  # latest versions, as added
        (indicator(1)["id"], "2024-02-01T00:00:00.000Z"),
        (indicator(2)["id"], "2024-01-01T00:00:00.000Z")]
    every = _export(client, world, "b_reader", "?format=jsonl&match[version]=all")
    assert len(every.content.splitlines()) == 3
    only = _export(client, world, "b_reader",
                   f"?format=jsonl&match[id]={indicator(2)['id']}").content.splitlines()
    assert [orjson.loads(x)["id"] for x in only] == [indicator(2)["id"]]
    empty = _export(client, world, "b_reader", "?match[type]=malware")
    assert orjson.loads(empty.content)["objects"] == []


def test_export_errors_are_taxii_errors(client: TestClient, world: World) -> None:
    hidden = _export(client, world, "b_reader", coll="private")
    taxii = client.get("/api/collections/private/objects/", headers=world.auth("b_reader"))
    assert hidden.status_code == taxii.status_code == 404
    assert hidden.json()["title"] == taxii.json()["title"]
    for query in ("?format=csv", "?limit=5", "?match[version]=nope", "?added_after=yesterday"):
        r = _export(client, world, "b_reader", query)
        assert r.status_code == 400 and r.json()["http_status"] == "400", query
    assert client.get("/api/collections/shared/export/").status_code == 401


def test_cli_export(world: World, tmp_path: Path) -> None:
    data = world.node.settings.data
    objects = [indicator(1, tlp="green"), indicator(2)]  # 2: unmarked, RED, A's alone
    world.node.add_objects(world.node.operator_for("Agency A"), "shared", objects)
    world.node.store.set_meta(OPERATING_ORG, world.node.org("Agency A").id)  # as `thiqa init`
    world.node.store.close()

    db = getattr(world.node.store, "url", "")  # the PostgreSQL store's; SQLite: in data

    def run(*args: str) -> Any:
        return CliRunner().invoke(main, [*args, "--data", data, "--db", db],
                                  catch_exceptions=False)

    out = tmp_path / "b.jsonl"
    r = run("export", "shared", "--as", "Agency B", "--format", "jsonl", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert [orjson.loads(x)["id"] for x in out.read_bytes().splitlines()] == [
        indicator(1)["id"]]
    everything = run("export", "shared")
    assert everything.exit_code == 0, everything.output
    assert {o["id"] for o in orjson.loads(everything.stdout_bytes)["objects"]} == {
        indicator(1)["id"], indicator(2)["id"]}
    hidden = run("export", "private", "--as", "Agency B")
    assert hidden.exit_code == 1 and "no collection" in hidden.stderr
    bad = run("export", "shared", "--added-after", "yesterday")
    assert bad.exit_code == 2 and "--added-after" in bad.stderr
