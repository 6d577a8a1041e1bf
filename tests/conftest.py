"""Shared fixtures: a fresh database on SQLite and, where available, PostgreSQL.

PostgreSQL is named by ``SAFER_SPACES_TEST_PG_URL`` (``.ci/start-postgres``
starts one). Outside CI a missing server skips those tests; in CI (``CI=true``)
it fails them, because a skipped PostgreSQL test would hide a broken storage layer.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine, create_engine, make_url, text

from store.db import connect, upgrade
from store.models import Base

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

# The app warms its caches in a background thread (dashboard.warm); in the tests of single
# pages that thread would compute beside the test. The browser tests' server switches it on.
os.environ.setdefault("SAFER_SPACES_WARM", "0")

PG_URL = os.environ.get("SAFER_SPACES_TEST_PG_URL")
IN_CI = os.environ.get("CI", "").lower() == "true"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def require(condition: bool, reason: str) -> None:
    """Skip when a test's prerequisite is missing, or fail in CI where it must be present."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this test must run in CI)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real open data beside the checkout (realdata tests only)."""
    require(SHARED_DATA.is_dir(), f"the open data folder {SHARED_DATA} is not here")
    return SHARED_DATA


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[Engine]:
    require(
        bool(PG_URL),
        "PostgreSQL is not available: set SAFER_SPACES_TEST_PG_URL "
        '(eval "$(bash .ci/start-postgres)")',
    )
    engine = connect(_worker_database(PG_URL))
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    yield engine
    engine.dispose()


def _worker_database(url: str) -> str:
    """Return a PostgreSQL database of this pytest-xdist worker's own (``-n 2``), made if new.

    Without xdist the database named by the URL itself; with it ``<name>_gw0``, ``<name>_gw1``:
    the storage tests empty their tables, so two workers must never share one.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


# The local loop and CI ---------------------------------------------------------------------
# pyproject's addopts make ``-m "not slow" -n 2`` the default, so a plain ``pytest`` is the
# local loop. With CI=true everything runs, one test at a time, as CI always has.

#: Folders whose every test is slow: browser tests, killed processes and restarted servers,
#: generated databases and query plans.
SLOW_FOLDERS = tuple(Path(__file__).resolve().parent / name for name in ("e2e", "faults", "scale"))


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """In CI, undo the local loop's defaults: run the slow tests too, and no xdist workers."""
    if not IN_CI:
        return
    if config.option.markexpr == "not slow":
        config.option.markexpr = ""
    if getattr(config.option, "numprocesses", None):
        config.option.numprocesses = None
        config.option.dist = "no"
        config.option.tx = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark slow what the local loop (``-m "not slow"``) leaves to CI; page tests last.

    The hypothesis suites and every test in :data:`SLOW_FOLDERS` are slow. The tests of the
    demo database run after the others, while it is built (:func:`pytest_collection_finish`).
    """
    for item in items:
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False) or any(
            item.path.is_relative_to(folder) for folder in SLOW_FOLDERS
        ):
            item.add_marker(pytest.mark.slow)
    # The tests of the demo database last, after the tests that do not wait for its build.
    items.sort(key=lambda item: "demo_database" in getattr(item, "fixturenames", ()))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start building the page tests' demo in the background when page tests were collected.

    Those tests come last (see :func:`pytest_collection_modifyitems`), so the build runs
    beside the other tests instead of keeping a worker waiting.
    """
    if session.config.option.collectonly or not any(
        "demo_database" in getattr(item, "fixturenames", ()) for item in session.items
    ):
        return
    from tests.dashboard.conftest import start_building_demo

    # the tmp_path_factory fixture's own factory (no fixture can be asked for in a hook)
    start_building_demo(session.config._tmp_path_factory.getbasetemp())  # type: ignore[attr-defined]


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Wait for the demo's background builder, if this process started one."""
    builder = sys.modules.get("tests.dashboard.conftest")
    if builder is not None:
        builder.wait_for_demo_builder()


def _empty(engine: Engine) -> None:
    """Empty every table and restart every identity, as ``TRUNCATE ... RESTART IDENTITY``.

    Only tables with rows are emptied, by DELETE unless large: a TRUNCATE of every table
    gave each of the partitions and their indexes new files, about a second a test.
    """
    with engine.begin() as connection:
        # The audit log refuses changes (its append-only triggers), and foreign keys are
        # triggers too: the tests' owner lifts them while emptying everything.
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        for table in reversed(Base.metadata.sorted_tables):
            rows = connection.scalar(
                text(f'SELECT count(*) FROM (SELECT 1 FROM "{table.name}" LIMIT 10001) AS t')
            )
            if rows > 10_000:  # a scale test's data: TRUNCATE is the quicker then
                connection.execute(text(f'TRUNCATE "{table.name}" CASCADE'))
            elif rows:
                connection.execute(text(f'DELETE FROM "{table.name}"'))
        sequences = connection.scalars(
            text("SELECT sequence_name FROM information_schema.sequences"
                 " WHERE sequence_schema = current_schema()")
        ).all()  # fmt: skip
        for sequence in sequences:
            connection.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite file migrated once a session (per xdist worker); tests get copies.

    Alembic takes about a second a database; a copy of the migrated file takes milliseconds
    and holds the same schema, triggers and ``alembic_version``.
    """
    path = tmp_path_factory.mktemp("migrated") / "empty.db"
    template = connect(f"sqlite:///{path}")
    upgrade(template)
    template.dispose()  # the last connection checkpoints the WAL into the file
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty database: an SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), tmp_path / "test.db")
        sqlite = connect(f"sqlite:///{tmp_path / 'test.db'}")
        yield sqlite
        sqlite.dispose()
    else:
        postgres = request.getfixturevalue("pg_engine")
        _empty(postgres)
        yield postgres


# The demo area's outlines, built once a run -------------------------------------------------


@pytest.fixture(scope="session")
def area_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A boundary cache folder holding the demo area's approximate outlines, built once a run.

    Building the outlines from the postcode directory takes seconds; the tests that load a
    demo or store the area pass this folder as ``cache_dir`` and read the built outlines
    (tests/geo/test_boundaries.py builds and caches them itself). Shared by the xdist workers
    of a run: the first to take the lock builds, the others wait and read.
    """
    import fcntl

    from data.demo import DEFAULT_AREA
    from geo.boundaries import district_boundaries

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by the workers of this run
    folder = base / "area-cache"
    folder.mkdir(exist_ok=True)
    with open(base / "area-cache.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            district_boundaries(DEFAULT_AREA, cache_dir=folder)  # built, or read if built
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return folder


# The demo accounts' password hashes ------------------------------------------------------
# ``ensure_demo_users`` hashes the published demo password once per account: four scrypt
# hashes (a tenth of a second each, by design) every time a test database gets the demo
# accounts, a hundred times a run. The tests take those hashes from four real ones made once
# a session, in turn, so four accounts added together still get four different salts (and a
# service that hashed once for all four would still be caught). Other passwords are hashed
# as in the app.

#: How many real hashes of the demo password a session makes and hands out in turn.
DEMO_HASHES = 4


@pytest.fixture(scope="session", autouse=True)
def _demo_password_hashed_once() -> Iterator[None]:
    import itertools

    import services.users

    real = services.users.hash_password
    made: list[str] = []  # made at the first demo account, not in every session
    turn = itertools.count()

    def hash_password(password: str) -> str:
        if password != services.users.DEMO_PASSWORD:
            return real(password)
        if not made:
            made.extend(real(password) for _ in range(DEMO_HASHES))
        return made[next(turn) % DEMO_HASHES]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(services.users, "hash_password", hash_password)
        yield


# The browser, shared by tests/e2e and tests/faults (one Playwright per test session) -------


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    from tests.e2e.conftest import unavailable

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    from tests.e2e.conftest import CHROMIUM_ARGS, chromium_path, unavailable

    executable = chromium_path()
    if executable is None:
        unavailable("Chromium not found (apt-get install chromium)")
    browser = playwright_instance.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()
