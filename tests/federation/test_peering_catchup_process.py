"""``catchup_process``, with real ``thiqa serve`` processes: b (the default, on) stores
its catch-up from a in a receiving process; c (off) stores it in its serving process,
which then has no such child. Both end up holding the same versions, once each."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.federation.peering import WAIT_S, indicators, pairs, publish_all, running
from thiqa.federation.lab import Group, Lab, LabNode, wait_for

RECEIVER = "thiqa.federation.receiver"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(Path(tmp_path_factory.mktemp("catchup")),
              env={"c": {"THIQA_CATCHUP_PROCESS": "off"}})
    yield from running(lab, [Group("Trio", ("a", "b", "c"), "green")],
                       [("b", "a", "pull"), ("c", "a", "pull")], start=["a"])


def receivers(node: LabNode) -> list[int]:
    """The pids of the receiving processes the node's server started (Linux /proc)."""
    assert node.proc is not None
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # ended meanwhile
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == node.proc.pid and RECEIVER in cmdline:
            found.append(int(entry.name))
    return found


def test_catch_up_in_a_receiving_process_or_in_the_serving_one(lab: Lab) -> None:
    early = indicators(400)
    publish_all(lab["a"], "trio", early)
    lab.start(["b", "c"])
    want = pairs(early)
    assert wait_for(lambda: want <= set(lab["b"].held("trio")) and
                    want <= set(lab["c"].held("trio")), WAIT_S * 2)
    # Started as deliveries come: one page here, so one of catchup_processes (2).
    assert 1 <= len(receivers(lab["b"])) <= 2
    assert receivers(lab["c"]) == []
    for name in "bc":
        held = lab[name].held("trio")
        assert len(held) == len(set(held)) == len(want)
