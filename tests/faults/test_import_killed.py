"""An import killed part-way (SIGKILL) on PostgreSQL: nothing half-stored, and it runs again.

(The same on SQLite is ``tests/imports/test_cli.py::test_a_kill_part_way...``.)
"""

from __future__ import annotations

import signal
import subprocess
import time

import pytest
from sqlalchemy import Connection, func, insert, select, text

from store.boundaries import save_boundaries
from store.db import connect, upgrade
from store.models import ImportBatch, Incident, Setting
from tests.faults.conftest import REPO, import_command, import_env, incidents_csv
from tests.imports.conftest import snapshot

ROWS = 100_000


def locks_held_by_others(connection: Connection) -> int:
    """Return how many locks other sessions hold on the incidents table."""
    return connection.scalar(
        text(
            "SELECT count(*) FROM pg_locks "
            "WHERE relation = 'incidents'::regclass AND pid <> pg_backend_pid()"
        )
    )


@pytest.mark.postgres
@pytest.mark.slow
def test_an_import_killed_part_way_leaves_postgresql_as_it_was_and_runs_again(
    private_postgres, area, tmp_path
):
    url = private_postgres.url
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
    deadline = time.monotonic() + 60
    with engine.connect() as connection:
        while time.monotonic() < deadline and process.poll() is None:
            # Rows of the open transaction are not visible, but the table's file grows.
            if connection.scalar(text("SELECT pg_relation_size('incidents')")) > 1_000_000:
                break
            time.sleep(0.05)
    assert process.poll() is None, "the import finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()

    # The server sees the connection drop and rolls the import's transaction back.
    deadline = time.monotonic() + 30
    with engine.connect() as connection:
        while locks_held_by_others(connection) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert locks_held_by_others(connection) == 0, "the killed import still holds its locks"
    assert snapshot(engine) == before  # no batch, no incident, no audit event: as it was

    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    with engine.connect() as connection:
        batches = connection.execute(
            select(ImportBatch.rows_total, ImportBatch.rows_accepted)
        ).all()
        stored = connection.scalar(select(func.count()).select_from(Incident))
    assert len(batches) == 1
    assert batches[0].rows_total == ROWS
    assert batches[0].rows_accepted == stored > ROWS * 0.99
    engine.dispose()
