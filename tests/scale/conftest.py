"""Fixtures for the scale tests: the generator run small, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

REPO = Path(__file__).resolve().parents[2]
GENERATE = REPO / "benchmarks" / "generate.py"
SMALL = ("--incidents", "5000", "--referrals", "500", "--months", "12", "--end", "2026-10-31")


@pytest.fixture(scope="session")
def boundary_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the approximate district outlines, shared by every generator run."""
    return tmp_path_factory.mktemp("outlines")


def url_of(engine: Engine) -> str:
    """Return the engine's URL with its password, to hand to a subprocess."""
    return engine.url.render_as_string(hide_password=False)


def run_generator(url: str, cache: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run ``benchmarks/generate.py`` as a user would; fail with its output when it fails."""
    command = [sys.executable, str(GENERATE), url, *SMALL, "--cache-dir", str(cache), *extra]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done
