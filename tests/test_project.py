"""The README's promises: the quick-start test command is the one CI runs, every
setting is documented."""

from __future__ import annotations

import re
from pathlib import Path

from thiqa.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    command = re.search(r'TEST_COMMAND="(.+)"', ci)
    assert command is not None
    readme = (ROOT / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.+?)\n```", quick_start, re.S)
    assert len(blocks) == 2, "the quick start is exactly two commands"
    assert blocks[1].strip() == command.group(1)
    assert "thiqa serve" in blocks[0]


def test_every_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    for s in SETTINGS:
        assert f"| `{s.name}` |" in doc, f"{s.name} is missing from docs/configuration.md"
        assert s.env in doc and s.flag in doc
