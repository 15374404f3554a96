"""``thiqa demo`` is an end-to-end test of its own: three nodes, real objects, exit 0
only when everything arrived where it may and the AMBER indicator never reached C."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import DATA


def test_demo_runs_a_federation_and_exits_0() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THIQA_")}
    r = subprocess.run([sys.executable, "-m", "thiqa", "demo", "--count", "40", "--shared-data",
                        str(DATA), "--timeout", "60"], capture_output=True, text=True,
                       env=env, timeout=170)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "C     trio             90 / 90" in out  # 40 indicators from A, 50 techniques from B
    assert "B     a-b               1 / 1" in out
    assert "TLP:AMBER indicator of A & B on C: never" in out
