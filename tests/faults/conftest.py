"""Fault tests: processes killed part-way, a database restarted, two writers at once.

``private_postgres`` starts a PostgreSQL cluster of the test's own (``initdb`` in a
temporary folder, a free port on 127.0.0.1) that a test may stop and start; it needs
PostgreSQL's server binaries (``apt-get install postgresql``). Without them the tests are
skipped, or fail when ``CI`` is ``true``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from data.demo import DEFAULT_AREA
from geo.boundaries import district_boundaries
from geo.postcodes import load_postcode_directory
from tests.conftest import require

REPO = Path(__file__).resolve().parents[2]
KEY = "fault-test-deployment-key-0123456789"


@pytest.fixture(scope="session")
def outlines_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the approximate outlines of the 9 districts (built once)."""
    return tmp_path_factory.mktemp("outlines")


@pytest.fixture(scope="session")
def area(outlines_cache: Path) -> gpd.GeoDataFrame:
    """The approximate outlines of the 9 districts of Staffordshire and Stoke-on-Trent."""
    return district_boundaries(DEFAULT_AREA, cache_dir=outlines_cache)


def incidents_csv(path: Path, rows: int, *, prefix: str = "K", seed: int = 1) -> Path:
    """Write a police extract of ``rows`` incidents located by postcode."""
    postcodes = load_postcode_directory(DEFAULT_AREA)["postcode"].to_numpy(dtype=object)
    rng = np.random.default_rng(seed)
    pd.DataFrame(
        {
            "incident_ref": np.char.add(prefix, np.arange(rows).astype(str)),
            "incident_date": "2024-06-03",
            "exploitation_type": rng.choice(["cce", "cse", "missing"], rows),
            "postcode": postcodes[rng.integers(0, len(postcodes), rows)],
        }
    ).to_csv(path, index=False)
    return path


def import_command(path: Path, url: str) -> list[str]:
    """Return the command line that imports an incidents file, as a data officer runs it."""
    return [sys.executable, "-m", "cli.main", "import", "incidents", str(path), "--db", url]


def import_env(home: Path) -> dict[str, str]:
    """Return the environment for an import subprocess (pseudonym key, working folder)."""
    return {**os.environ, "SAFER_SPACES_PSEUDONYM_KEY": KEY, "SAFER_SPACES_HOME": str(home)}


# A PostgreSQL server of the test's own ---------------------------------------------------


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class PrivateServer:
    """A PostgreSQL cluster in a temporary folder, which the test may stop and start."""

    bin: Path
    root: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"{program} failed: {done.stdout}{done.stderr}\n{tail}")

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.root / "data"), "-l", str(self.root / "server.log"),
            "-w", "-o", options, "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", mode, "-w", "stop")


@pytest.fixture
def private_postgres() -> Iterator[PrivateServer]:
    """A running PostgreSQL cluster of this test's own; removed afterwards."""
    from tests.e2e.conftest import free_port

    binaries = _postgres_bin()
    require(binaries is not None, "PostgreSQL's server binaries are not installed")
    assert binaries is not None
    root = Path(tempfile.mkdtemp(prefix="safer-spaces-fault-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    server = PrivateServer(bin=binaries, root=root, port=free_port())
    server._run("initdb", "-D", str(root / "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8")
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(RuntimeError):  # already stopped
            server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
