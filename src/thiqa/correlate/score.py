"""The current score of a matched indicator or object: confidence, source, sightings,
age and ``valid_until`` (docs/correlation.md, "Scoring").

A MISP-like polynomial decay (MISP's "decaying models"), per observable family::

    base  = confidence × trust(source) / 100            (confidence: 50 when unset)
    boost = 100 − (100 − base) × (1 − b)^n               (n sightings the viewer may see)
    τ     = min(lifetime(family), valid_until − t₀)      (t₀: the later of valid_from or
                                                          modified, and the last sighting)
    score = boost × max(0, 1 − ((now − t₀) / τ)^(1/δ))   (0 at or past valid_until)

``trust`` is per originating organisation (``score_trust``: ``name-or-identity=0..100``
pairs, ``*`` for everyone else), ``b`` the share of the remaining gap one sighting
closes (``score_sighting_boost``, percent), ``δ`` the decay speed
(``score_decay_speed``: 1 linear, > 1 falls fast then slowly, < 1 holds then falls) and
the lifetimes are days per family (``score_lifetimes``). A sighting resets the age, as
in MISP: what is seen again is current again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from thiqa.errors import ConfigError
from thiqa.settings import Settings

DAY_US = 86_400 * 1_000_000
DEFAULT_CONFIDENCE = 50
#: Lifetimes (days) when ``score_lifetimes`` does not name a family.
DEFAULT_LIFETIMES: dict[str, int] = {
    "ipv4": 30, "ipv6": 30, "domain": 90, "url": 60, "email": 180, "hash": 365,
    "wallet": 365, "iban": 365, "phone": 365, "mac": 180, "asn": 365, "*": 180}


@dataclass(frozen=True, slots=True)
class Model:
    trust: Mapping[str, int] = field(default_factory=dict)  # org id -> 0..100
    default_trust: int = 100
    lifetimes_us: Mapping[str, int] = field(
        default_factory=lambda: {k: v * DAY_US for k, v in DEFAULT_LIFETIMES.items()})
    decay_speed: float = 2.0
    sighting_boost: float = 0.1

    def score(self, *, confidence: int | None, originator: str, family: str, start_us: int,
              valid_until_us: int | None, sightings: int, last_sighting_us: int | None,
              now_us: int) -> float:
        base = (DEFAULT_CONFIDENCE if confidence is None else confidence) \
            * self.trust.get(originator, self.default_trust) / 100
        boosted = 100 - (100 - base) * (1 - self.sighting_boost) ** sightings
        t0 = max(start_us, last_sighting_us or 0)
        lifetime = self.lifetimes_us.get(family, self.lifetimes_us["*"])
        if valid_until_us is not None:
            if valid_until_us <= now_us:
                return 0.0
            lifetime = min(lifetime, max(1, valid_until_us - t0))
        age = max(0, now_us - t0)
        if age >= lifetime:
            return 0.0
        decayed: float = boosted * (1 - (age / lifetime) ** (1 / self.decay_speed))
        return round(decayed, 1)


def _pairs(text: str, setting: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, sep, number = item.rpartition("=")
        if not sep or not name.strip() or not number.strip().isdigit():
            raise ConfigError(f"{setting}: {item!r} is not NAME=NUMBER")
        out[name.strip()] = int(number)
    return out


def model(settings: Settings, org_id: Callable[[str], str | None]) -> Model:
    """The model the settings describe; ``org_id`` resolves an organisation name or id
    (None when the node knows no such organisation: a configuration error)."""
    trust: dict[str, int] = {}
    default_trust = 100
    for name, value in _pairs(settings.score_trust, "score_trust").items():
        if value > 100:
            raise ConfigError(f"score_trust: {name}={value}: trust is 0 to 100")
        if name == "*":
            default_trust = value
            continue
        ident = org_id(name)
        if ident is None:
            raise ConfigError(f"score_trust: no organisation {name!r}")
        trust[ident] = value
    lifetimes = dict(DEFAULT_LIFETIMES)
    for name, days in _pairs(settings.score_lifetimes, "score_lifetimes").items():
        if name not in DEFAULT_LIFETIMES:
            raise ConfigError(f"score_lifetimes: {name!r} is no family: "
                              + ", ".join(DEFAULT_LIFETIMES))
        if days <= 0:
            raise ConfigError(f"score_lifetimes: {name}={days}: a lifetime is at least a day")
        lifetimes[name] = days
    try:
        speed = float(settings.score_decay_speed)
    except ValueError:
        raise ConfigError(f"score_decay_speed: {settings.score_decay_speed!r} is not a "
                          "number") from None
    if not 0.05 <= speed <= 20:
        raise ConfigError("score_decay_speed must be between 0.05 and 20")
    if not 0 <= settings.score_sighting_boost <= 100:
        raise ConfigError("score_sighting_boost is a percentage, 0 to 100")
    return Model(trust, default_trust, {k: v * DAY_US for k, v in lifetimes.items()}, speed,
                 settings.score_sighting_boost / 100)
