"""A first load into empty tables: rows first, then indexes and keys built once (issue 21).

On PostgreSQL an import into an empty ``incidents``, ``referrals`` or ``context_events``
drops their indexes and keys inside its transaction and builds them again at the end
(``services.imports.bulk``). These tests show the schema comes back whole, that a
failure part-way gives it back untouched, that the foreign keys still catch a bad row
when they are checked once at the end, that a first load keeps them (and does not wait)
when a reader holds a table they point at, and that a later import keeps its indexes
and still finds what is stored. On SQLite nothing is deferred, and the same holds.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

import services.imports.batch as batch
import services.imports.bulk as bulk
from services.imports.bulk import defer_indexes, index_name, rebuild_indexes
from services.imports.report import ImportFileError
from tests.imports.conftest import count, run, write

HEADER = "incident_ref,incident_date,exploitation_type,longitude,latitude\n"
ROWS = (
    "F1,2021-08-01,cce,-2.117,52.806\nF2,2021-08-02,cse,-2.03,52.69\nF1,2021-08-03,cce,-2.1,52.8\n"
)
MORE = "F3,2021-08-03,cce,-2.117,52.806\nF2,2021-08-02,cse,-2.03,52.69\n"
TABLES = ("incidents", "incident_refs", "referrals", "context_events", "place_links")
INCIDENT_FOREIGN_KEYS = (
    "fk_incidents_district_code_districts",
    "fk_incidents_import_batch_id_import_batches",
    "fk_incidents_place_id_places",
)


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
        names = {index_name(d) for d in deferred[0].indexes}
        names |= {name for _, name, _ in deferred[0].keys}
        assert {"pk_incident_refs", "ix_incidents_date", "ix_incidents_source_ref"} <= names
        # filled in order by the load (the serial id, the batch), so kept during it
        assert not names & {"pk_incidents", "ix_incidents_import_batch_id"}
        assert {name for _, name, _ in deferred[0].foreign} == set(INCIDENT_FOREIGN_KEYS)
        with db.connect() as connection:
            kept = connection.scalars(text("SELECT source_ref FROM incident_refs")).all()
            stored = connection.scalars(text("SELECT source_ref FROM incidents")).all()
        assert sorted(kept) == sorted(stored) and len(stored) == 2
    else:
        assert deferred == [None]


@pytest.mark.parametrize(
    ("definition", "kept"),
    [
        ("PRIMARY KEY (id, occurred_on, district_code)", True),
        ("CREATE INDEX ix_a ON public.incidents USING btree (import_batch_id)", True),
        ("PRIMARY KEY (source_ref)", False),
        ("CREATE INDEX ix_b ON public.incidents USING btree (district_code, occurred_on)", False),
        ("CREATE INDEX ix_c ON public.incidents USING btree (place_id) WHERE (id > 0)", False),
        ("CREATE INDEX ix_d ON public.incidents USING btree (lower(id))", False),
    ],
)
def test_only_keys_led_by_the_serial_id_or_the_batch_are_kept_during_a_load(definition, kept):
    assert bulk._filled_in_order(definition) is kept


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


def _foreign_keys(connection) -> set[str]:
    return set(
        connection.scalars(
            text(
                "SELECT conname FROM pg_constraint "
                "WHERE conrelid = 'incidents'::regclass AND contype = 'f'"
            )
        )
    )


_BAD_ROW = (
    "INSERT INTO incidents (source_agency, source_ref, category, occurred_on, "
    "date_precision, online, district_code, created_at, updated_at, created_by, "
    "updated_by, record_key) VALUES ('police', 'rX', 'cce', '2021-08-01', 'day', false, "
    ":district, now(), now(), 't', 't', 1)"
)


@pytest.mark.parametrize(
    "engine", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_foreign_keys_checked_once_at_the_end_still_refuse_a_row_they_would_refuse(db, area):
    """Dropped for the load, the keys come back checking every row: a bad district fails."""
    known = str(area["code"].iloc[0])
    for district, refused in ((known, False), ("E99999999", True)):  # the control first
        with db.connect() as connection, connection.begin() as transaction:
            what = defer_indexes(connection, ("incidents", "incident_refs"))
            assert what is not None
            assert {name for _, name, _ in what.foreign} == set(INCIDENT_FOREIGN_KEYS)
            assert _foreign_keys(connection) == set()  # not checked row by row meanwhile
            connection.execute(text(_BAD_ROW), {"district": district})
            if refused:
                with pytest.raises(IntegrityError, match="fk_incidents_district_code"):
                    rebuild_indexes(connection, what)
            else:
                rebuild_indexes(connection, what)
                assert _foreign_keys(connection) == set(INCIDENT_FOREIGN_KEYS)
            transaction.rollback()
    assert count(db, "incidents") == 0


@pytest.mark.parametrize(
    "engine", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_first_load_keeps_its_foreign_keys_while_a_reader_holds_a_table_they_point_at(
    db, area, admin, key, tmp_path, monkeypatch, deferred
):
    """A page reading the districts: the load neither waits for it nor drops the keys."""
    monkeypatch.setattr(bulk, "LOCK_TRIES", 3)
    before = schema(db)
    with db.connect() as reader, reader.begin():
        assert reader.scalar(text("SELECT count(*) FROM districts")) == len(area)
        report = run(db, write(tmp_path / "a.csv", HEADER + ROWS), admin)
        # the reader still reads: the import never asked it to give way
        assert reader.scalar(text("SELECT count(*) FROM districts")) == len(area)
    assert report.stored and report.accepted == 2
    assert deferred[0] is not None and deferred[0].foreign == []  # kept, checked row by row
    assert len(deferred[0].indexes) >= 5  # the indexes were still built once at the end
    assert schema(db) == before
    assert count(db, "incidents") == 2
