"""A first load into empty tables: rows first, then indexes and keys built once (issue 21).

On PostgreSQL an import into an empty ``incidents``, ``referrals`` or ``context_events``
drops their indexes and keys inside its transaction and builds them again at the end
(``services.imports.bulk``). These tests show the schema comes back whole, that a
failure part-way gives it back untouched, and that a later import keeps its indexes
and still finds what is stored. On SQLite nothing is deferred, and the same holds.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

import services.imports.batch as batch
from services.imports.bulk import defer_indexes, rebuild_indexes
from services.imports.report import ImportFileError
from tests.imports.conftest import count, run, write

HEADER = "incident_ref,incident_date,exploitation_type,longitude,latitude\n"
ROWS = (
    "F1,2021-08-01,cce,-2.117,52.806\nF2,2021-08-02,cse,-2.03,52.69\nF1,2021-08-03,cce,-2.1,52.8\n"
)
MORE = "F3,2021-08-03,cce,-2.117,52.806\nF2,2021-08-02,cse,-2.03,52.69\n"
TABLES = ("incidents", "incident_refs", "referrals", "context_events", "place_links")


def schema(db: Engine) -> set[str]:
    """Return every index and key of the loaded tables (and of the tables pointing at them)."""
    with db.connect() as connection:
        if db.dialect.name == "sqlite":
            return set(
                connection.scalars(
                    text("SELECT coalesce(sql, name) FROM sqlite_master WHERE type = 'index'")
                )
            )
        named = ", ".join(f"'{t}'::regclass" for t in TABLES)
        indexes = connection.scalars(
            text(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND "
                f"tablename IN ({', '.join(repr(t) for t in TABLES)})"
            )
        )
        keys = connection.execute(
            text(
                "SELECT conrelid::regclass::text || ' ' || conname || ' ' || "
                f"pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid IN ({named})"
            )
        ).scalars()
        return set(indexes) | set(keys)


@pytest.fixture
def deferred(monkeypatch: pytest.MonkeyPatch) -> list:
    """Record what each import deferred, calling the real rebuild."""
    seen: list = []

    def spy(connection, what):
        seen.append(what)
        rebuild_indexes(connection, what)

    monkeypatch.setattr(batch, "rebuild_indexes", spy)
    return seen


def test_a_first_load_builds_every_index_and_key_again(db, admin, key, tmp_path, deferred):
    before = schema(db)
    report = run(db, write(tmp_path / "a.csv", HEADER + ROWS), admin)
    assert (report.accepted, report.duplicate) == (2, 1)  # F1 twice in the file: one kept
    assert schema(db) == before
    if db.dialect.name == "postgresql":
        assert deferred[0] is not None and "incident_refs" in deferred[0].tables
        assert len(deferred[0].indexes) >= 6 and len(deferred[0].keys) >= 2
        with db.connect() as connection:
            kept = connection.scalars(text("SELECT source_ref FROM incident_refs")).all()
            stored = connection.scalars(text("SELECT source_ref FROM incidents")).all()
        assert sorted(kept) == sorted(stored) and len(stored) == 2
    else:
        assert deferred == [None]


@pytest.mark.parametrize(
    "engine", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_the_schema_check_sees_an_index_not_built_again(engine):
    """The control: a rebuild that forgets one index is told apart by ``schema``."""
    before = schema(engine)
    with engine.connect() as connection, connection.begin() as transaction:
        what = defer_indexes(connection, ("incidents", "incident_refs"))
        assert what is not None
        forgotten = what.indexes.pop()
        rebuild_indexes(connection, what)
        during = set(
            connection.scalars(
                text("SELECT indexdef FROM pg_indexes WHERE tablename = 'incidents'")
            )
        )
        transaction.rollback()
    listed = forgotten.replace(" ON ", " ON ONLY ", 1)  # as a partitioned table lists it
    assert listed in before and listed not in during
    assert during == {d for d in before if " public.incidents " in d} - {listed}
    assert schema(engine) == before


def test_a_first_load_that_fails_at_the_end_leaves_tables_and_indexes_as_they_were(
    db, admin, key, tmp_path, monkeypatch
):
    before = schema(db)

    def broken(connection, what):
        raise ImportFileError("the disk filled up while indexing")

    monkeypatch.setattr(batch, "rebuild_indexes", broken)
    with pytest.raises(ImportFileError, match="disk filled up"):
        run(db, write(tmp_path / "a.csv", HEADER + ROWS), admin)
    assert schema(db) == before
    assert count(db, "incidents") == 0 and count(db, "import_batches") == 0


def test_a_later_import_keeps_its_indexes_and_finds_what_is_stored(
    db, admin, key, tmp_path, deferred
):
    run(db, write(tmp_path / "a.csv", HEADER + ROWS), admin)
    before = schema(db)
    report = run(db, write(tmp_path / "b.csv", HEADER + MORE), admin)
    assert (report.accepted, report.duplicate) == (1, 1)  # F2 was stored by the first
    assert "already stored" in set(report.issues["status"])
    assert deferred[1] is None
    assert schema(db) == before
    assert count(db, "incidents") == 3


def test_two_first_loads_at_once_both_finish(db, admin, key, tmp_path):
    """The second waits for the first's lock, then checks each reference (no deadlock)."""
    from concurrent.futures import ThreadPoolExecutor

    files = [write(tmp_path / "a.csv", HEADER + ROWS), write(tmp_path / "b.csv", HEADER + MORE)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = list(pool.map(lambda path: run(db, path, admin), files))
    assert all(report.stored for report in reports)
    assert sorted(r.accepted for r in reports) in ([1, 2], [2, 2])  # F2 in both files
    assert count(db, "incidents") == 3
    with db.connect() as connection:
        kept = connection.scalars(text("SELECT source_ref FROM incident_refs")).all()
    assert len(kept) == len(set(kept)) == 3
