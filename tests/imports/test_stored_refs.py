"""incident_refs (0012_stored_refs): the importer's one probe per reference, kept in step.

The importer asks ``incident_refs``, not the (partitioned) ``incidents``, whether a
reference is stored. So the table must follow every write to ``incidents``, by
whoever makes it: these tests write ``incidents`` by hand and watch it follow, and
show that the importer trusts it (the control: a reference missing from it is stored
again).
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from services.imports import rollback_batch
from tests.imports.conftest import count, run, write

HEADER = "incident_ref,incident_date,exploitation_type,longitude,latitude\n"
ROWS = "S1,2021-08-01,cce,-2.117,52.806\nS2,2021-08-02,cse,-2.03,52.69\n"
MORE = "S3,2021-08-03,cce,-2.117,52.806\n"


def _refs(db) -> tuple[list[str], list[str]]:
    """Return the references in ``incidents`` and in ``incident_refs``, sorted."""
    with db.connect() as connection:
        stored = connection.scalars(text("SELECT source_ref FROM incidents")).all()
        kept = connection.scalars(text("SELECT source_ref FROM incident_refs")).all()
    return sorted(stored), sorted(kept)


def test_incident_refs_follow_imports_updates_deletes_and_rollbacks(db, admin, key, tmp_path):
    first = run(db, write(tmp_path / "a.csv", HEADER + ROWS), admin)
    stored, kept = _refs(db)
    assert len(stored) == 2 and kept == stored
    with db.begin() as connection:  # by hand, not through the importer
        connection.execute(
            text("UPDATE incidents SET source_ref = 'rhand' WHERE source_ref = :r"),
            {"r": stored[0]},
        )
        connection.execute(text("UPDATE incidents SET category = 'cse'"))  # refs unchanged
    stored, kept = _refs(db)
    assert "rhand" in stored and kept == stored
    with db.begin() as connection:
        connection.execute(text("DELETE FROM incidents WHERE source_ref = 'rhand'"))
    stored, kept = _refs(db)
    assert len(stored) == 1 and kept == stored
    rollback_batch(db, first.batch_id, admin)
    assert _refs(db) == ([], [])


def test_a_rolled_back_batch_can_be_imported_again_and_a_repeat_adds_nothing(
    db, admin, key, tmp_path
):
    path = write(tmp_path / "a.csv", HEADER + ROWS)
    first = run(db, path, admin)
    rollback_batch(db, first.batch_id, admin)
    again = run(db, path, admin)
    assert again.stored and again.accepted == 2
    wider = run(db, write(tmp_path / "b.csv", HEADER + ROWS + MORE), admin)
    assert (wider.accepted, wider.duplicate) == (1, 2)
    stored, kept = _refs(db)
    assert len(stored) == 3 and kept == stored


def test_the_importer_asks_incident_refs(db, admin, key, tmp_path):
    """The control: a reference missing from incident_refs is taken as not stored."""
    run(db, write(tmp_path / "a.csv", HEADER + ROWS), admin)
    with db.begin() as connection:
        connection.execute(text("DELETE FROM incident_refs"))
    if db.dialect.name == "postgresql":
        # 0009 left no unique index on the partitioned table: the duplicates go in
        report = run(db, write(tmp_path / "b.csv", HEADER + ROWS + MORE), admin)
        assert (report.accepted, report.duplicate) == (3, 0)
        assert count(db, "incidents") == 5
    else:  # SQLite keeps its own unique constraint, which then refuses the file
        with pytest.raises(Exception, match="could not be stored"):
            run(db, write(tmp_path / "b.csv", HEADER + ROWS + MORE), admin)
        assert count(db, "incidents") == 2


def test_a_reference_cannot_be_stored_twice(db, admin, key, tmp_path):
    run(db, write(tmp_path / "a.csv", HEADER + ROWS), admin)
    with pytest.raises(IntegrityError), db.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO incidents (source_agency, source_ref, category, occurred_on, "
                "date_precision, online, district_code, record_key, created_at, updated_at, "
                "created_by, updated_by) SELECT source_agency, source_ref, category, "
                "occurred_on, date_precision, online, district_code, record_key, created_at, "
                "updated_at, created_by, updated_by FROM incidents"
            )
        )
    assert count(db, "incidents") == 2 and count(db, "incident_refs") == 2


def test_emptying_incidents_empties_incident_refs(db, admin, key, tmp_path):
    run(db, write(tmp_path / "a.csv", HEADER + ROWS), admin)
    with db.begin() as connection:  # PostgreSQL's TRUNCATE fires its statement trigger
        emptying = "TRUNCATE incidents CASCADE" if db.dialect.name == "postgresql" else (
            "DELETE FROM incidents"
        )
        connection.execute(text(emptying))
    assert _refs(db) == ([], [])
