"""An import killed part-way (SIGKILL), on SQLite and on PostgreSQL: nothing half-stored.

The same test on both databases: a data officer's ``safer-spaces import`` is killed while
its rows are being written (SQLite's write-ahead log, or PostgreSQL's table file, has
grown); the database must then be exactly as before (no batch, no incident, no audit
event), consistent (SQLite's integrity check; on PostgreSQL no lock or session left by
the dead import, and the unique and foreign keys still hold), the same import must then
run to the end, and running it a third time must add nothing (it says so). PostgreSQL
is a cluster of the test's own (``private_postgres``), so that the test may see every
session on it; in CI a missing PostgreSQL fails the test rather than skipping it.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, func, insert, select, text

from services.boundaries import save_boundaries
from store.db import connect, upgrade
from store.models import ImportBatch, Incident, Setting
from tests.faults.conftest import REPO, import_command, import_env, incidents_csv
from tests.imports.conftest import snapshot

ROWS = 100_000
WRITING = 1_000_000  # bytes written by the import before it is killed
RUN_TIMEOUT_S = 900  # a guard against a hung import on a busy machine, not a speed target


def locks_held_by_others(connection: Connection) -> int:
    """Return how many locks other sessions hold on the incidents table."""
    return connection.scalar(
        text(
            "SELECT count(*) FROM pg_locks "
            "WHERE relation = 'incidents'::regclass AND pid <> pg_backend_pid()"
        )
    )


def other_sessions(connection: Connection) -> int:
    """Return how many other client sessions are still at work (running or in a transaction)."""
    return connection.scalar(
        text(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "AND state <> 'idle' AND pid <> pg_backend_pid()"
        )
    )


def _sqlite(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[str, Callable[[], int]]:
    database = tmp_path / "kill.db"
    wal = Path(f"{database}-wal")
    return f"sqlite:///{database}", lambda: wal.stat().st_size if wal.exists() else 0


def _postgres(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[str, Callable[[], int]]:
    server = request.getfixturevalue("private_postgres")
    engine = connect(server.url)

    def written() -> int:  # rows of the open transaction are not visible, but the files grow
        # every partition of incidents (0009_partitions), found in the catalogue and sized
        # from its file: a first load locks the table (services/imports/bulk.py), and
        # pg_relation_size or pg_partition_tree would wait for the lock until it commits
        with engine.connect() as connection:
            return int(
                connection.scalar(
                    text(
                        "WITH RECURSIVE tree(relid) AS (SELECT 'incidents'::regclass::oid "
                        "UNION ALL SELECT inhrelid FROM pg_inherits JOIN tree ON inhparent = "
                        "tree.relid) SELECT COALESCE(SUM((pg_stat_file(pg_relation_filepath("
                        "relid), true)).size), 0) FROM tree"
                    )
                )
            )

    request.addfinalizer(engine.dispose)
    return server.url, written


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Callable[[], int]]:
    """A database URL and a function that tells how many bytes the import has written."""
    make = _sqlite if request.param == "sqlite" else _postgres
    return make(tmp_path, request)


def settle_after_kill(engine: Engine) -> None:
    """Wait for PostgreSQL to see the connection drop and roll the import back."""
    if engine.dialect.name != "postgresql":
        return
    deadline = time.monotonic() + 60
    with engine.connect() as connection:
        while time.monotonic() < deadline and (
            locks_held_by_others(connection) or other_sessions(connection)
        ):
            time.sleep(0.2)
        assert locks_held_by_others(connection) == 0, "the killed import still holds its locks"
        assert other_sessions(connection) == 0, "the killed import's session is still open"


def assert_consistent(engine: Engine) -> None:
    """The database's own checks, and the keys the import relies on."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            assert connection.scalar(text("PRAGMA integrity_check")) == "ok"
            assert connection.execute(text("PRAGMA foreign_key_check")).all() == []
        orphans = connection.scalar(
            select(func.count())
            .select_from(Incident)
            .where(Incident.import_batch_id.not_in(select(ImportBatch.id)))
        )
        assert orphans == 0
        duplicates = connection.scalar(
            text(
                "SELECT count(*) FROM (SELECT source_ref FROM incidents "
                "GROUP BY source_ref HAVING count(*) > 1) AS d"
            )
        )
        assert duplicates == 0


@pytest.mark.slow
def test_an_import_killed_part_way_leaves_the_database_as_it_was_and_runs_again(
    database, area, tmp_path
):
    url, written = database
    engine = connect(url)
    upgrade(engine)
    save_boundaries(engine, area, kind="district", actor="test")
    with engine.begin() as connection:  # small chunks: several writes in the one transaction
        connection.execute(insert(Setting).values(key="import", value={"chunk_size": 10_000}))
    before = snapshot(engine)
    path = incidents_csv(tmp_path / "extract.csv", ROWS)
    command, env = import_command(path, url), import_env(tmp_path / "home")

    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        if written() > WRITING:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the import finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    engine.dispose()  # as a restarted app would: fresh connections

    settle_after_kill(engine)
    assert snapshot(engine) == before  # no batch, no incident, no audit event: as it was
    assert_consistent(engine)

    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with engine.connect() as connection:
        batches = connection.execute(
            select(ImportBatch.rows_total, ImportBatch.rows_accepted)
        ).all()
        stored = connection.scalar(select(func.count()).select_from(Incident))
    assert len(batches) == 1
    assert batches[0].rows_total == ROWS
    assert batches[0].rows_accepted == stored > ROWS * 0.99
    assert_consistent(engine)

    again = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S
    )
    assert "was already imported as batch" in again.stdout, again.stdout + again.stderr
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Incident)) == stored
        assert connection.scalar(select(func.count()).select_from(ImportBatch)) == 1
    engine.dispose()
