"""The README's one test command: the local loop on a developer's machine, everything in CI.

Runs pytest itself, as a developer and as CI would, on a few files of this suite.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # four runs of pytest itself

ROOT = Path(__file__).resolve().parents[1]
#: One fast test file, one with two whole-command tests marked slow, one folder marked slow.
TARGETS = ["tests/test_settings.py", "tests/dashboard/test_impact.py", "tests/faults"]


def _pytest(*args: str, ci: bool) -> str:
    """Run pytest in a clean environment (no worker, no CI, no database); return its output."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "SAFER_SPACES_TEST_")) and k != "CI"
    }
    if ci:
        env["CI"] = "true"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode in (0, 5), done.stdout + done.stderr  # 5: nothing selected
    return done.stdout


def _collected(output: str) -> tuple[set[str], int]:
    """Return the test ids listed by ``--collect-only -q`` and the number deselected."""
    ids = {line for line in output.splitlines() if "::" in line}
    deselected = re.search(r"(\d+) deselected", output)
    return ids, int(deselected.group(1)) if deselected else 0


def test_locally_the_slow_tests_are_left_out_and_in_ci_they_run():
    local, left_out = _collected(_pytest("--collect-only", "-q", *TARGETS, ci=False))
    everything, none_left = _collected(_pytest("--collect-only", "-q", *TARGETS, ci=True))
    assert none_left == 0
    assert left_out == len(everything) - len(local) > 0
    slow = everything - local
    # the control: what is left out is exactly the tests marked slow, nothing fast
    assert {t for t in slow if t.startswith("tests/faults/")} == {
        t for t in everything if t.startswith("tests/faults/")
    }
    assert any("test_impact.py::test_the_impact_command" in t for t in slow)
    assert any(t.startswith("tests/test_settings.py::") for t in local)
    assert not any(t.startswith("tests/test_settings.py::") for t in slow)


def test_locally_two_workers_run_and_in_ci_one_process():
    target = "tests/test_settings.py"
    assert re.search(r"\b2 workers\b", _pytest(target, ci=False))
    in_ci = _pytest(target, ci=True)
    assert "workers" not in in_ci and re.search(r"\d+ passed", in_ci)
