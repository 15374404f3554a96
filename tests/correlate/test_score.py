"""The score model (docs/correlation.md "Scoring") and scores on matches."""

from __future__ import annotations

import pytest

from tests.correlate.conftest import Corr, ind
from thiqa.correlate.score import DAY_US, Model, model
from thiqa.errors import ConfigError
from thiqa.settings import Settings

NOW = 1_000 * DAY_US


def _score(m: Model, **kw: object) -> float:
    args: dict[str, object] = {"confidence": 80, "originator": "identity--a", "family": "ipv4",
                               "start_us": NOW, "valid_until_us": None, "sightings": 0,
                               "last_sighting_us": None, "now_us": NOW}
    args.update(kw)
    return m.score(**args)  # type: ignore[arg-type]


def test_polynomial_decay() -> None:
    m = Model(decay_speed=1.0)  # linear over the ipv4 lifetime of 30 days
    assert _score(m) == 80
    assert _score(m, now_us=NOW + 15 * DAY_US) == 40
    assert _score(m, now_us=NOW + 30 * DAY_US) == 0
    fast = Model(decay_speed=2.0)  # 1 - sqrt(t/τ): a quarter of the lifetime halves it
    assert _score(fast, now_us=NOW + 7.5 * DAY_US) == 40
    assert _score(m, family="hash", now_us=NOW + 15 * DAY_US) > 75  # hashes live a year
    assert _score(m, confidence=None) == 50


def test_valid_until_trust_and_sightings() -> None:
    m = Model(decay_speed=1.0, trust={"identity--b": 50}, sighting_boost=0.5)
    assert _score(m, valid_until_us=NOW) == 0
    assert _score(m, valid_until_us=NOW + 10 * DAY_US, now_us=NOW + 5 * DAY_US) == 40
    assert _score(m, originator="identity--b") == 40
    assert _score(m, sightings=1) == 90  # half the gap to 100
    # A sighting resets the age: seen again is current again.
    assert _score(m, now_us=NOW + 29 * DAY_US, last_sighting_us=NOW + 29 * DAY_US,
                  sightings=1) == 90


def test_model_from_settings() -> None:
    ids = {"Agency A": "identity--a"}
    m = model(Settings(score_trust="Agency A=70, *=40", score_lifetimes="ipv4=10",
                       score_decay_speed="1.5", score_sighting_boost=20), ids.get)
    assert m.trust == {"identity--a": 70} and m.default_trust == 40
    assert m.lifetimes_us["ipv4"] == 10 * DAY_US and m.decay_speed == 1.5
    for bad in ({"score_trust": "Nobody=5"}, {"score_trust": "Agency A=500"},
                {"score_lifetimes": "ip=3"}, {"score_lifetimes": "ipv4=0"},
                {"score_decay_speed": "fast"}, {"score_sighting_boost": 101},
                {"score_trust": "Agency A"}):
        with pytest.raises(ConfigError):
            model(Settings(**bad), ids.get)  # type: ignore[arg-type]


def test_matches_carry_the_score(corr: Corr) -> None:
    corr.add("shared", ind(1, "[ipv4-addr:value = '9.8.7.6']", confidence=90,
                           valid_from="2023-11-14T00:00:00Z"))
    [hit] = corr.match("9.8.7.6")["9.8.7.6"].hits
    assert hit.score is not None and 80 < hit.score <= 90
    assert hit.as_json()["score"] == hit.score
