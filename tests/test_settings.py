"""Settings precedence: defaults < TOML file < THIQA_* environment < flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from thiqa.errors import ConfigError
from thiqa.settings import load, masked


def test_precedence(tmp_path: Path) -> None:
    (tmp_path / "thiqa.toml").write_text('port = 9001\ntitle = "from toml"\ncontact = "toml"\n')
    env = {"THIQA_DATA": str(tmp_path), "THIQA_PORT": "9002", "THIQA_CONTACT": "env"}
    s, sources = load(flags={"port": 9003}, env=env)
    assert s.port == 9003 and sources["port"] == "--port"
    assert s.contact == "env" and sources["contact"] == "THIQA_CONTACT"
    assert s.title == "from toml" and sources["title"].endswith("thiqa.toml")
    assert s.page_size == 1000 and sources["page_size"] == "default"


def test_explicit_config_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load(env={}, config_file=tmp_path / "missing.toml")


@pytest.mark.parametrize(("toml", "message"), [
    ("nonsense = 1", "unknown setting"),
    ('port = "eighty"', "expected an integer"),
    ("port = 0", "port must be"),
    ('tls_cert = "c.pem"', "together"),
    ('log_level = "loud"', "log_level"),
    ('catchup_process = "maybe"', "catchup_process must be on or off"),
    ("catchup_index_wait = -1", "catchup_index_wait must be 0"),
    ("title = 5", "expected a string"),
    ("port = [", "thiqa.toml"),
])
def test_bad_values_are_refused_with_the_setting_named(tmp_path: Path, toml: str,
                                                       message: str) -> None:
    (tmp_path / "thiqa.toml").write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load(env={"THIQA_DATA": str(tmp_path)})


def test_env_values_are_typed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="THIQA_PAGE_SIZE"):
        load(env={"THIQA_DATA": str(tmp_path), "THIQA_PAGE_SIZE": "lots"})


def test_secrets_are_masked(tmp_path: Path) -> None:
    s, _ = load(env={"THIQA_DATA": str(tmp_path),
                     "THIQA_DB": "postgresql://thiqa:hunter2@db:5432/thiqa",
                     "THIQA_TLS_CERT": "c.pem", "THIQA_TLS_KEY": "k.pem"})
    shown = masked(s)
    assert "hunter2" not in str(shown) and shown["db"].startswith("postgresql://thiqa:")
    assert shown["tls_key"] == "****" and shown["tls_cert"] == "c.pem"
