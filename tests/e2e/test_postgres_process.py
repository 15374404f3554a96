"""A real ``thiqa serve`` on PostgreSQL, with a ``thiqa load`` process beside it: both
write one database; acknowledged writes and ``next`` tokens survive a killed server."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from taxii2client.v21 import Collection

from tests import pg
from tests.e2e.conftest import ICS, ics_objects, start_server, thiqa


def test_serve_and_load_share_one_postgresql_database(tmp_path: Path) -> None:
    why = pg.unavailable()
    if why is not None:
        pytest.skip(f"PostgreSQL store not tested: {why}")
    db = pg.schema_url()
    data = tmp_path / "node"
    first = thiqa(data, "init", "--db", db)
    key = first["api_key"]["key"]
    url = f"/api/collections/{first['collection']['id']}/"
    posted = ics_objects("x-mitre-detection-strategy")[:30]
    server = start_server(data, key, "--db", db)
    try:
        coll = Collection(server.base + url, user="admin", password=key)
        assert coll.add_objects({"objects": posted}).success_count == 30
        # Another process writes the same database while the server runs.
        summary = thiqa(data, "load", str(ICS), "--collection", "default", "--db", db)
        assert (summary["read"], summary["stored"], summary["rejected"]) == (1826, 1826, 0)
        page1 = coll.get_objects(limit=1000)
        assert page1["more"] is True and page1["next"]
    finally:
        server.stop(signal.SIGKILL)  # no shutdown at all: only what was committed remains
    server = start_server(data, key, "--db", db)
    try:
        coll = Collection(server.base + url, user="admin", password=key)
        page2 = coll.get_objects(limit=1000, next=page1["next"])
        assert page2.get("more", False) is False
        got = {o["id"]: o for p in (page1, page2) for o in p["objects"]}
        # The 30 posted are among the ICS objects: one version each, stored once.
        assert got == {o["id"]: o for o in ics_objects()}
        assert len(page1["objects"]) + len(page2["objects"]) == 1826
    finally:
        code = server.stop(signal.SIGTERM)
    assert code in (0, -signal.SIGTERM), server.output()
    assert "Traceback" not in server.output(), server.output()
