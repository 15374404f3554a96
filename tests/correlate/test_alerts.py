"""Alerts: raised by matching, retro-hunt and cross-organisation correlation, only ever
built from what their organisation may see."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.correlate.conftest import ind
from thiqa.auth import Principal
from thiqa.clock import FakeClock
from thiqa.correlate.alerts import Alert
from thiqa.correlate.match import Result
from thiqa.correlate.service import Correlation, audience
from thiqa.handling import TLP2_IDS, Tlp
from thiqa.node import Node
from thiqa.settings import Settings

DAY = 86_400 * 1_000_000


def green(n: int, pattern: str, **extra: Any) -> dict[str, Any]:
    return ind(n, pattern, object_marking_refs=[TLP2_IDS[Tlp.GREEN]], **extra)


def amber(n: int, pattern: str) -> dict[str, Any]:
    return ind(n, pattern, object_marking_refs=[TLP2_IDS[Tlp.AMBER]])


@dataclass
class Three:
    """Orgs A, B, C. ``common``: all three read and write. ``c-only``: only C."""

    node: Node
    correlation: Correlation
    keys: dict[str, Principal]
    clock: FakeClock

    def add(self, who: str, ref: str, *objects: dict[str, Any]) -> None:
        status = self.node.add_objects(self.keys[who], ref, list(objects))
        assert not status.failures, status.failures
        self.correlation.catch_up()

    def match(self, who: str, *values: str) -> list[Result]:
        p = self.keys[who]
        found = list(self.correlation.matcher.match(
            list(values), audience(self.node, p), observe=self.correlation.observer(p)))
        self.correlation.alert_matches(p, found)
        return found

    def alerts(self, who: str, state: str | None = None) -> list[Alert]:
        return self.correlation.alerts.list_for(self.keys[who].org.id, state=state)[0]


def _three(node: Node, clock: FakeClock, settings: Settings | None = None) -> Three:
    orgs = {n: node.create_org(f"Org {n}") for n in "ABC"}
    keys = {n: Principal(node.create_key(o.id, "analyst")[0], o) for n, o in orgs.items()}
    ids = [o.id for o in orgs.values()]
    node.create_collection("Common", alias="common", readers=ids, writers=ids)
    node.create_collection("C only", alias="c-only", readers=[orgs["C"].id],
                           writers=[orgs["C"].id])
    return Three(node, Correlation(settings or node.settings, node.store, clock), keys, clock)


@pytest.fixture
def three(node: Node, clock: FakeClock) -> Iterator[Three]:
    t = _three(node, clock)
    yield t
    t.correlation.close()


def _ids(alert: Alert, part: str = "matches") -> list[str]:
    return sorted(m["id"][-2:] for m in getattr(alert, part))


def test_retro_hunt_alerts_the_org_that_observed(three: Three) -> None:
    assert three.match("B", "9.9.9.9", "evil.example.net") == []  # nothing yet; kept
    three.clock.advance(DAY)
    three.add("A", "common", green(1, "[ipv4-addr:value = '9.9.9.9']", confidence=80))
    [alert] = three.alerts("B")
    assert (alert.kind, alert.value, alert.family, _ids(alert)) == ("retro-hunt", "9.9.9.9",
                                                                     "ipv4", ["01"])
    assert alert.state == "new" and alert.score is not None and 0 < alert.score <= 80
    record = alert.as_json()
    assert json.loads(json.dumps(record)) == record  # the stream delivers it as JSON
    assert three.alerts("A") == [] and three.alerts("C") == []  # they observed nothing
    three.correlation.catch_up()  # nothing new: nothing raised twice
    three.match("B", "9.9.9.9")  # the same value and object: no second alert
    assert len(three.alerts("B")) == 1


def test_retro_hunt_finds_ranges_subdomains_and_url_hosts(three: Three) -> None:
    three.match("B", "10.1.2.3", "http://a.bad.example.org/x", "https://evil.example.com/p")
    three.add("A", "common", green(1, "[ipv4-addr:value ISSUBSET '10.0.0.0/8']"),
              green(2, "[domain-name:value LIKE '%.bad.example.org']"),
              green(3, "[domain-name:value = 'evil.example.com']"))
    got = {a.value: _ids(a) for a in three.alerts("B")}
    assert got == {"10.1.2.3": ["01"], "http://a.bad.example.org/x": ["02"],
                   "https://evil.example.com/p": ["03"]}


def test_retro_hunt_follows_the_handling_policy(three: Three) -> None:
    three.match("B", "8.8.4.4", "7.7.7.7")
    three.add("C", "c-only", amber(1, "[ipv4-addr:value = '8.8.4.4']"))  # B cannot read
    three.add("C", "common", ind(2, "[ipv4-addr:value = '7.7.7.7']"))     # RED: only C
    assert three.alerts("B") == []
    three.add("C", "common", green(3, "[ipv4-addr:value = '7.7.7.7']"))
    [alert] = three.alerts("B")
    assert _ids(alert) == ["03"]  # the RED one is not there


def test_observations_expire(node: Node, clock: FakeClock) -> None:
    t = _three(node, clock, Settings(data=node.settings.data, observation_retention_days=2))
    try:
        t.match("B", "6.6.6.6")
        clock.advance(3 * DAY)
        t.add("A", "common", green(1, "[ipv4-addr:value = '6.6.6.6']"))
        assert t.alerts("B") == []
        assert t.correlation.observations.read("SELECT count(*) FROM observations") == [(0,)]
    finally:
        t.correlation.close()


def test_known_benign_never_alerts(node: Node, clock: FakeClock, tmp_path: Path) -> None:
    lists = tmp_path / "warninglists"
    lists.mkdir(exist_ok=True)
    (lists / "dns.json").write_text(orjson.dumps({
        "name": "public dns", "type": "string", "list": ["1.1.1.1"]}).decode())
    t = _three(node, clock)
    try:
        t.match("B", "1.1.1.1")
        t.add("A", "common", green(1, "[ipv4-addr:value = '1.1.1.1']"))
        t.add("C", "common", green(2, "[ipv4-addr:value = '1.1.1.1']"))
        [r] = t.match("B", "1.1.1.1")
        assert r.known_benign == ["public dns"]  # flagged on match...
        assert t.alerts("A") == t.alerts("B") == t.alerts("C") == []  # ...never alerted
    finally:
        t.correlation.close()


def test_match_alerts_and_own_objects(three: Three) -> None:
    three.add("A", "common", green(1, "[ipv4-addr:value = '4.4.4.4']"))
    three.match("A", "4.4.4.4")
    assert three.alerts("A") == []  # its own indicator is no news
    three.match("B", "4.4.4.4")
    [alert] = three.alerts("B")
    assert alert.kind == "match" and _ids(alert) == ["01"]


def test_cross_org_alerts_both_sides_from_what_each_may_see(three: Three) -> None:
    three.add("A", "common", green(1, "[ipv4-addr:value = '5.5.5.5']"))
    # C holds the value too, but as TLP:RED in common (only C sees it) and as AMBER in
    # a collection only C reads: neither may appear in A's or B's alerts.
    three.add("C", "common", ind(2, "[ipv4-addr:value = '5.5.5.5']"))
    three.add("C", "c-only", amber(3, "[ipv4-addr:value = '5.5.5.5']"))
    assert three.alerts("A") == []  # only invisible objects of C: not a word
    [c_alert] = three.alerts("C")  # C may see A's GREEN indicator
    assert c_alert.kind == "cross-org" and _ids(c_alert) == ["01"]
    assert _ids(c_alert, "own") == ["02"]  # 03 matched A's 01 again: no second alert
    three.add("B", "common", green(4, "[ipv4-addr:value = '5.5.5.5']"))
    [a_alert] = three.alerts("A")
    assert a_alert.kind == "cross-org" and _ids(a_alert) == ["04"]
    assert _ids(a_alert, "own") == ["01"]
    [b_alert] = three.alerts("B")
    assert _ids(b_alert) == ["01"] and _ids(b_alert, "own") == ["04"]
    text = orjson.dumps([a_alert.as_json(), b_alert.as_json()]).decode()
    for hidden in (ind(2, "")["id"], ind(3, "")["id"]):
        assert hidden not in text
    assert [_ids(a) for a in three.alerts("C")] == [["01"], ["04"]]


def test_acknowledge(three: Three) -> None:
    three.add("A", "common", green(1, "[ipv4-addr:value = '4.4.4.4']"))
    three.match("B", "4.4.4.4")
    [alert] = three.alerts("B")
    alerts = three.correlation.alerts
    assert alerts.acknowledge(three.keys["A"].org.id, alert.id, "x") is None  # not A's
    done = alerts.acknowledge(three.keys["B"].org.id, alert.id, "key-1")
    assert done is not None and done.state == "acknowledged" and done.acked_by == "key-1"
    assert three.alerts("B", "new") == [] and len(three.alerts("B", "acknowledged")) == 1


def test_stopped_matching_raises_nothing(three: Three) -> None:
    """valid_until past, revoked and retracted indicators neither match nor alert."""
    three.clock.advance(365 * DAY)  # the clock starts in 2023-11: now 2024-11
    three.match("B", "2.2.2.2", "3.3.3.3", "4.4.4.4")
    three.add("A", "common", green(1, "[ipv4-addr:value = '2.2.2.2']",
                                   valid_until="2024-06-01T00:00:00Z"))
    three.add("A", "common", green(2, "[ipv4-addr:value = '3.3.3.3']", revoked=True))
    assert three.alerts("B") == []
    three.add("A", "common", green(3, "[ipv4-addr:value = '4.4.4.4']"))
    assert three.match("B", "4.4.4.4")
    three.node.retract(three.keys["A"], ind(3, "")["id"])
    assert three.match("B", "2.2.2.2", "3.3.3.3", "4.4.4.4") == []
