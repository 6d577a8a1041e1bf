"""A demo database for the page tests: built once a run, a copy for each session (xdist worker)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import streamlit as st

from data.bootstrap import open_database


@contextmanager
def app_environment(**variables: str) -> Iterator[None]:
    """Set the app's environment variables and clear Streamlit's caches, then restore both."""
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    st.cache_resource.clear()
    st.cache_data.clear()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        st.cache_resource.clear()
        st.cache_data.clear()


@contextmanager
def _demo_copy(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Copy the run's built demo into ``home`` and point the app at it; yield its URL."""
    url = f"sqlite:///{home / 'demo.db'}"
    shutil.copyfile(_built_demo(tmp_path_factory), home / "demo.db")
    with app_environment(SAFER_SPACES_HOME=str(home), SAFER_SPACES_DATABASE_URL=url):
        yield url


@pytest.fixture(scope="session")
def demo_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo database, a file of this session's own (of each xdist worker's own).

    Tests write to it (audit events, assessments), so workers never share the file; the
    demo is built once for all workers and copied (see :func:`_built_demo`).
    """
    with _demo_copy(tmp_path_factory.mktemp("home"), tmp_path_factory) as url:
        yield url


@pytest.fixture
def fresh_demo_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A copy of the demo as built, for a test that needs what earlier tests may have used up.

    The session's demo database is written to by every page test before it: a test that
    needs, say, the flagged place nobody has assessed yet (Castle View Hotel, in an
    officer's districts) gets its own copy. Streamlit's caches are cleared on the way in
    and out, as for the session's database.
    """
    with _demo_copy(tmp_path_factory.mktemp("fresh-home"), tmp_path_factory) as url:
        yield url


def _demo_folder(base: Path) -> Path:
    """Return the folder where the run's demo is built: shared by the xdist workers of a run."""
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


#: The background builder: builds the demo as :func:`_built_demo` would, holding the lock it
#: was handed (an inherited descriptor) until it exits.
_BUILDER = """
import sys
from pathlib import Path
from data.bootstrap import open_database
folder = Path(sys.argv[1])
built, partial = folder / "demo-built.db", folder / "demo-building.db"
if not built.exists():
    partial.unlink(missing_ok=True)
    open_database(f"sqlite:///{partial}").dispose()
    partial.rename(built)
"""


def start_building_demo(base: Path) -> None:
    """Start building the run's demo in the background, once a run, while other tests run.

    Called when the collected tests include page tests (``demo_database``). The first
    worker to get here takes the demo's lock and hands it to a builder process, so the page
    tests wait (in :func:`_built_demo`) only for what is left of the build. A builder that
    fails leaves no demo behind, and the first page test builds it as before.
    """
    folder = _demo_folder(base)
    try:
        os.close(os.open(folder / "demo-build-started", os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return  # another worker of this run started it
    with open(folder / "demo-built.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the builder exits
        with open(folder / "demo-build.log", "w") as log:
            _builders.append(
                subprocess.Popen(
                    [sys.executable, "-c", _BUILDER, str(folder)],
                    cwd=Path(__file__).resolve().parents[2],
                    pass_fds=(lock.fileno(),),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )


#: The builder started by this process, waited for at the end of the session (so that its
#: time counts in the run's own, as the build's did when a test made it).
_builders: list[subprocess.Popen] = []


def wait_for_demo_builder() -> None:
    """Wait for the background builder this process started, if any."""
    while _builders:
        _builders.pop().wait()


def _built_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the built demo database, building it once for every xdist worker of this run.

    Workers share the run's base folder; the first to take the lock builds the demo there,
    the others wait for it. Without xdist the folder is the session's own.
    """
    base = _demo_folder(tmp_path_factory.getbasetemp())  # shared by the workers of this run
    built = base / "demo-built.db"
    with open(base / "demo-built.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not built.exists():
                partial = base / "demo-building.db"
                partial.unlink(missing_ok=True)
                open_database(f"sqlite:///{partial}").dispose()  # checkpoints the WAL
                partial.rename(built)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return built


APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
