"""The hub topology on three real nodes: members m and n push to the convener's node h
and follow it; h has no peers of its own (it only pins the members' keys and gives them
API keys) and redistributes by serving its stream."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.federation.peering import WAIT_S, indicators, pairs, running
from thiqa.federation.lab import Group, Lab, wait_for


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(Path(tmp_path_factory.mktemp("hub")), names=("h", "m", "n"))
    yield from running(lab, [Group("Hub", ("h", "m", "n"), "green"),
                             Group("M & H", ("m", "h"), "amber")],
                       [("m", "h", "both"), ("n", "h", "both")])


def _status(lab: Lab, name: str) -> list[dict[str, Any]]:
    r = subprocess.run([sys.executable, "-m", "thiqa", "peer", "status", "--json", "--data",
                        str(lab[name].data)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out: list[dict[str, Any]] = json.loads(r.stdout)
    return out


def test_members_push_to_the_hub_which_redistributes(hub: Lab) -> None:
    mine = indicators(10)
    assert hub["m"].publish("hub", mine)["success_count"] == 10
    assert wait_for(lambda: pairs(mine) <= set(hub["h"].held("hub")), WAIT_S)
    assert wait_for(lambda: pairs(mine) <= set(hub["n"].held("hub")), WAIT_S)
    theirs = indicators(5)
    hub["n"].publish("hub", theirs)
    assert wait_for(lambda: pairs(theirs) <= set(hub["m"].held("hub")), WAIT_S)

    # Nothing goes back the way it came: m's push link sent m's versions only, and what
    # it pulled from the hub it did not push again.
    def pushed(name: str) -> int:
        links = _status(hub, name)[0]["links"]
        return sum(x["transferred"] for x in links if x["direction"] == "push")

    assert wait_for(lambda: pushed("m") == 10 and pushed("n") == 5, WAIT_S)
    status = _status(hub, "m")[0]
    by = {(x["alias"], x["direction"]): x for x in status["links"]}
    assert by[("hub", "push")]["queue"] == 0
    assert by[("hub", "pull")]["behind_events"] == 0
    assert by[("hub", "pull")]["last_success"] is not None


def test_an_agreement_with_the_hub_stays_with_the_hub(hub: Lab) -> None:
    secret = indicators(2, tlp="amber")
    hub["m"].publish("m-h", secret)
    assert wait_for(lambda: pairs(secret) <= set(hub["h"].held("m-h")), WAIT_S)
    marker = indicators(1)
    hub["m"].publish("hub", marker)
    assert wait_for(lambda: pairs(marker) <= set(hub["n"].held("hub")), WAIT_S)
    ids = {o["id"] for o in secret}
    for alias in ("hub", "m-h", "default"):
        assert not ids & {i for i, _ in hub["n"].held(alias)}
