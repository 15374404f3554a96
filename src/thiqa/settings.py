"""Every setting of a node, declared once.

The table :data:`SETTINGS` drives the CLI flags, ``--help``, ``thiqa config check``, the
documentation test (tests/test_settings.py fails when a setting is missing from
docs/configuration.md) and the loader. Precedence, lowest first:
defaults < TOML file < ``THIQA_*`` environment < command-line flags.

The TOML file is ``--config FILE`` or, if present, ``<data dir>/thiqa.toml``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from thiqa.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    kind: type
    default: Any
    help: str
    secret: bool = False

    @property
    def env(self) -> str:
        return "THIQA_" + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


SETTINGS: tuple[Setting, ...] = (
    Setting("data", str, "./thiqa-data", "Data directory (SQLite database, keys, config)."),
    Setting("db", str, "", "Database URL; empty means SQLite in the data directory. "
            "postgresql://... selects PostgreSQL.", secret=True),
    Setting("host", str, "127.0.0.1", "Address to listen on. Beyond loopback, TLS is required."),
    Setting("port", int, 8471, "TCP port to listen on."),
    Setting("workers", int, 1, "Server processes of `serve` sharing the address; more "
            "than 1 needs the PostgreSQL store (docs/postgresql.md#several-workers)."),
    Setting("tls", str, "auto", "HTTPS: auto (beyond loopback, or when tls_cert is set), on, "
            "or off (loopback only)."),
    Setting("tls_cert", str, "", "PEM certificate chain for HTTPS; empty means the node's "
            "own (<data>/tls/node.crt, made by `thiqa init` or `thiqa tls create`)."),
    Setting("tls_key", str, "", "PEM private key for tls_cert; empty means the node's own.",
            secret=True),
    Setting("tls_client_auth", str, "optional",
            "Client certificates over HTTPS: off, optional or required; one presented "
            "must be pinned in the trust store (mutual TLS between peers)."),
    Setting("max_content_length", int, 104_857_600,
            "Largest request body accepted, in bytes (TAXII api-root max_content_length)."),
    Setting("page_size", int, 1000,
            "Most objects per TAXII page; a client's smaller `limit` wins."),
    Setting("title", str, "thiqa node", "Server title shown in TAXII discovery."),
    Setting("description", str, "A thiqa threat-intelligence exchange node.",
            "Server description shown in TAXII discovery."),
    Setting("contact", str, "", "Contact information shown in TAXII discovery."),
    Setting("org_name", str, "local", "Name of the operating organisation created by `init`."),
    Setting("log_level", str, "info", "Logging level: debug, info, warning, error."),
    Setting("warninglists_dir", str, "",
            "Directory of MISP warninglists (JSON); <data>/warninglists is read too."),
    Setting("match_max_values", int, 100_000,
            "Most values one POST /api/match/ request may submit."),
    Setting("catchup_process", str, "on",
            "Catch-up deliveries from peers verified and stored in a second process (on) "
            "or in the serving process itself (off)."),
    Setting("catchup_processes", int, 2,
            "Receiving processes with catchup_process on: deliveries go to each in turn, "
            "so one verifies and validates while another writes."),
    Setting("index_interval", int, 2,
            "Seconds between observable-index catch-ups in `serve` (writes also wake it)."),
    Setting("catchup_index_wait", int, 300,
            "Most seconds the observable index waits while a peer's catch-up stores a "
            "backlog (it is indexed when the catch-up ends); 0: index during catch-ups "
            "too."),
    # -- event stream and webhooks (thiqa.stream, docs/stream.md) --
    Setting("stream_heartbeat", int, 15,
            "Seconds of silence after which an event stream sends a heartbeat comment "
            "(the consumer's key is re-checked then too)."),
    Setting("stream_poll_ms", int, 500,
            "Milliseconds between checks for events written by other processes "
            "(`thiqa load`); writes through this server wake streams at once."),
    Setting("stream_batch", int, 500,
            "Most events read from the log at once (a replay pages through it)."),
    Setting("webhook_timeout", int, 10, "Seconds a webhook receiver has to answer."),
    Setting("webhook_retry_max", int, 300,
            "Longest wait, in seconds, between retries of a failing webhook (the wait "
            "doubles from 1 s)."),
    Setting("shutdown_grace", int, 5,
            "Seconds `serve` waits on shutdown for requests in flight; open event "
            "streams are then closed (consumers resume with Last-Event-ID)."),
    Setting("observation_retention_days", int, 30,
            "Days values submitted to matching are kept for retro-hunt; 0 keeps none."),
    Setting("score_trust", str, "",
            "Trust (0-100) per source organisation for scoring: `Agency A=80, *=60`."),
    Setting("score_lifetimes", str, "",
            "Indicator lifetime in days per family for score decay: `ipv4=14, hash=730`."),
    Setting("score_decay_speed", str, "2",
            "Decay speed δ of the score: 1 linear, above 1 fast at first (docs/correlation.md)."),
    Setting("score_sighting_boost", int, 10,
            "Percent of the gap to 100 that each visible sighting closes in the score."),
)

_BY_NAME = {s.name: s for s in SETTINGS}
WORKERS_MAX = 64
_LOG_LEVELS = ("debug", "info", "warning", "error")
_TLS_MODES = ("auto", "on", "off")
_CLIENT_AUTH = ("off", "optional", "required")
_ON_OFF = ("on", "off")


@dataclass(frozen=True, slots=True)
class Settings:
    data: str = "./thiqa-data"
    db: str = ""
    host: str = "127.0.0.1"
    port: int = 8471
    workers: int = 1
    tls: str = "auto"
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_auth: str = "optional"
    max_content_length: int = 104_857_600
    page_size: int = 1000
    title: str = "thiqa node"
    description: str = "A thiqa threat-intelligence exchange node."
    contact: str = ""
    org_name: str = "local"
    log_level: str = "info"
    warninglists_dir: str = ""
    match_max_values: int = 100_000
    catchup_process: str = "on"
    catchup_processes: int = 2
    index_interval: int = 2
    catchup_index_wait: int = 300
    stream_heartbeat: int = 15
    stream_poll_ms: int = 500
    stream_batch: int = 500
    webhook_timeout: int = 10
    webhook_retry_max: int = 300
    shutdown_grace: int = 5
    observation_retention_days: int = 30
    score_trust: str = ""
    score_lifetimes: str = ""
    score_decay_speed: str = "2"
    score_sighting_boost: int = 10

    @property
    def data_dir(self) -> Path:
        return Path(self.data)

    @property
    def is_loopback(self) -> bool:
        return self.host in ("127.0.0.1", "::1", "localhost") or self.host.startswith("127.")


def _coerce(setting: Setting, value: Any, source: str) -> Any:
    if setting.kind is int:
        if isinstance(value, bool):
            raise ConfigError(f"{setting.name} ({source}): expected an integer, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{setting.name} ({source}): expected an integer, got {value!r}"
            ) from None
    if not isinstance(value, str):
        raise ConfigError(f"{setting.name} ({source}): expected a string, got {value!r}")
    return value


def load(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> tuple[Settings, dict[str, str]]:
    """Effective settings and, per setting, where its value came from."""
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    env = os.environ if env is None else env
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    sources = {s.name: "default" for s in SETTINGS}

    # The data directory decides where the default TOML file lives, so resolve it first.
    data = flags.get("data") or env.get("THIQA_DATA") or values["data"]
    path = config_file or Path(data) / "thiqa.toml"
    if config_file is not None or path.exists():
        for name, value in _read_toml(path).items():
            values[name] = _coerce(_BY_NAME[name], value, str(path))
            sources[name] = str(path)
    for s in SETTINGS:
        if s.env in env:
            values[s.name] = _coerce(s, env[s.env], s.env)
            sources[s.name] = s.env
        if s.name in flags:
            values[s.name] = _coerce(s, flags[s.name], s.flag)
            sources[s.name] = s.flag
    settings = Settings(**values)
    check(settings)
    return settings, sources


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {path}: {exc}") from exc
    unknown = sorted(set(raw) - set(_BY_NAME))
    if unknown:
        raise ConfigError(f"config file {path}: unknown setting(s) {', '.join(unknown)}")
    return raw


def check(settings: Settings) -> None:
    """Reject values no node could run with, naming the setting."""
    if not 0 < settings.port < 65536:
        raise ConfigError(f"port must be between 1 and 65535, got {settings.port}")
    if not 0 < settings.workers <= WORKERS_MAX:
        raise ConfigError(f"workers must be between 1 and {WORKERS_MAX}, got "
                          f"{settings.workers}")
    if settings.max_content_length <= 0:
        raise ConfigError("max_content_length must be a positive number of bytes")
    if not 0 < settings.page_size <= 100_000:
        raise ConfigError("page_size must be between 1 and 100000")
    if settings.log_level not in _LOG_LEVELS:
        raise ConfigError(f"log_level must be one of {', '.join(_LOG_LEVELS)}")
    if settings.match_max_values <= 0:
        raise ConfigError("match_max_values must be a positive number of values")
    if settings.index_interval <= 0:
        raise ConfigError("index_interval must be a positive number of seconds")
    if settings.catchup_index_wait < 0:
        raise ConfigError("catchup_index_wait must be 0 (never wait) or more seconds")
    for name in ("stream_heartbeat", "stream_poll_ms", "stream_batch", "webhook_timeout",
                 "webhook_retry_max"):
        if getattr(settings, name) <= 0:
            raise ConfigError(f"{name} must be a positive number")
    if settings.shutdown_grace < 0:
        raise ConfigError("shutdown_grace must be zero or a positive number of seconds")
    if settings.observation_retention_days < 0:
        raise ConfigError("observation_retention_days must be 0 (keep none) or more days")
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise ConfigError("tls_cert and tls_key must be given together")
    if settings.tls not in _TLS_MODES:
        raise ConfigError(f"tls must be one of {', '.join(_TLS_MODES)}")
    if settings.tls_client_auth not in _CLIENT_AUTH:
        raise ConfigError(f"tls_client_auth must be one of {', '.join(_CLIENT_AUTH)}")
    if settings.catchup_process not in _ON_OFF:
        raise ConfigError("catchup_process must be on or off")
    if settings.catchup_processes <= 0:
        raise ConfigError("catchup_processes must be 1 or more")
    if settings.db and not settings.db.startswith(("postgresql://", "postgres://", "sqlite:")):
        raise ConfigError("db must be empty (SQLite in the data directory), sqlite:PATH "
                          "or a postgresql:// URL")


def masked(settings: Settings) -> dict[str, Any]:
    """Settings as a dict with secrets masked, for ``thiqa config check``."""
    out: dict[str, Any] = {}
    for f in fields(settings):
        value = getattr(settings, f.name)
        if _BY_NAME[f.name].secret and value:
            # Keep a URL's shape readable but hide any password in it.
            value = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1****@", value)
            if f.name != "db":
                value = "****"
        out[f.name] = value
    return out
