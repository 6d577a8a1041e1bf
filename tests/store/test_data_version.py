"""The data version (``store.queries.data_version``) and the log it reads (0013_data_changes).

The version keys every page's cache, so it must change with every committed write to
the tables the pages read, by whoever makes it (here: by hand, not through the app), and
not with a write that was rolled back. On PostgreSQL the log must not make writers wait
on each other: the control writes a shared counter row, the design this replaced, and is
held up.
"""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import insert, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from store.models import District, Incident
from store.queries import data_version

SQUARE = b"\x00"  # a district row needs an outline; nothing here reads it


def _district(code: str) -> dict[str, object]:
    return {"code": code, "name": f"District {code}", "source": "test", "geometry_wkb": SQUARE}


def _incident(ref: str, code: str) -> dict[str, object]:
    return {
        "source_agency": "police",
        "source_ref": ref,
        "category": "cce",
        "occurred_on": date(2025, 3, 4),
        "district_code": code,
    }


WRITES = {
    "district added": "INSERT INTO districts (code, name, source, geometry_wkb, created_at, "
    "updated_at, created_by, updated_by) SELECT 'E07000002', 'Two', 'test', geometry_wkb, "
    "created_at, updated_at, created_by, updated_by FROM districts WHERE code = 'E07000001'",
    "district renamed": "UPDATE districts SET name = 'Renamed' WHERE code = 'E07000001'",
    "incident changed (partitioned on PostgreSQL)": "UPDATE incidents SET category = 'cse'",
    "incident deleted": "DELETE FROM incidents",
}


@pytest.fixture
def stored(engine: Engine) -> Engine:
    """A district and an incident, written by hand."""
    with engine.begin() as connection:
        connection.execute(insert(District).values(_district("E07000001")))
        connection.execute(insert(Incident).values(_incident("R1", "E07000001")))
    return engine


@pytest.mark.parametrize("statement", WRITES.values(), ids=WRITES.keys())
def test_every_committed_write_changes_the_version(stored: Engine, statement: str) -> None:
    before = data_version(stored)
    assert "districts:" in before and "incidents:" in before
    with stored.begin() as connection:
        connection.execute(text(statement))
    assert data_version(stored) != before


def test_reading_changes_nothing_and_a_rolled_back_write_leaves_the_version(
    stored: Engine,
) -> None:
    before = data_version(stored)
    with stored.connect() as connection:
        connection.execute(text("SELECT count(*) FROM incidents")).one()
    assert data_version(stored) == before
    with stored.connect() as connection, connection.begin() as transaction:
        connection.execute(insert(Incident).values(_incident("R2", "E07000001")))
        transaction.rollback()
    assert data_version(stored) == before


def only_postgres(test):  # type: ignore[no-untyped-def]
    """Run ``test`` on PostgreSQL alone: SQLite has one writer at a time, whatever the log."""
    on_postgres = pytest.mark.parametrize("engine", ["postgres"], indirect=True)
    return pytest.mark.postgres(on_postgres(test))


@only_postgres
def test_a_write_is_in_the_version_once_committed_not_before(stored: Engine) -> None:
    before = data_version(stored)
    with stored.connect() as writer:
        transaction = writer.begin()
        writer.execute(insert(Incident).values(_incident("R2", "E07000001")))
        assert data_version(stored) == before  # read on another connection
        transaction.commit()
    assert data_version(stored) != before


def _wait_behind_an_open_write(engine: Engine, first: str, second: str) -> bool:
    """Run ``second`` while ``first`` is uncommitted; return whether it had to wait."""
    held = threading.Event()
    done = threading.Event()

    def hold() -> None:
        with engine.connect() as connection, connection.begin():
            connection.execute(text(first))
            held.set()
            done.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        with engine.connect() as connection, connection.begin():
            connection.execute(text("SET LOCAL lock_timeout = '1s'"))
            try:
                connection.execute(text(second))
            except OperationalError as error:
                assert "lock timeout" in str(error)
                return True
        return False
    finally:
        done.set()
        holder.join()


@only_postgres
def test_writers_do_not_wait_on_the_log(stored: Engine) -> None:
    add = (
        "INSERT INTO incidents (source_agency, source_ref, category, occurred_on, "
        "district_code, date_precision, online, record_key, created_at, updated_at, "
        "created_by, updated_by) VALUES ('police', '{ref}', 'cce', '2025-03-05', 'E07000001', "
        "'week', false, 7, now(), now(), 'test', 'test')"
    )
    rename = "UPDATE districts SET name = 'Renamed' WHERE code = 'E07000001'"
    # two writers of incidents at once, then writers of two tables
    assert not _wait_behind_an_open_write(stored, "DELETE FROM incidents", add.format(ref="R8"))
    assert not _wait_behind_an_open_write(stored, rename, add.format(ref="R9"))
    # the control: one shared counter row per table, bumped by each writer, makes the
    # second writer wait for the first to commit (what the log's rows per transaction avoid)
    with stored.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS shared_counter"))
        connection.execute(text("CREATE TABLE shared_counter (n integer)"))
        connection.execute(text("INSERT INTO shared_counter VALUES (0)"))
    try:
        bump = "UPDATE shared_counter SET n = n + 1"
        assert _wait_behind_an_open_write(stored, bump, bump)
    finally:
        with stored.begin() as connection:
            connection.execute(text("DROP TABLE shared_counter"))
