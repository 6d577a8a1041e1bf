from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, text, update
from sqlalchemy.exc import DBAPIError

from store.db import (
    SQLITE_BULK_CACHE_KB,
    DatabaseError,
    bulk_cache,
    connect,
    describe_url,
    upgrade,
)
from store.models import REFERENCE, AuditEvent, Base
from tests.schema import at_head

PARTITIONED_DIFFERENCES = [
    ("remove_index", "ix_incidents_source_ref"),
    ("add_constraint", "incidents.source_ref unique"),
    ("add_fk", "fk_place_links_incident_id_incidents"),
]
"""What ``0009_partitions`` changes on PostgreSQL only: a partitioned table cannot hold a
unique constraint without its partition keys, nor be the target of this foreign key, so
``source_ref`` keeps a plain index (the importer leaves out references stored before)."""


def _named(difference: tuple) -> tuple[str, str]:
    kind, thing = difference[0], difference[1]
    if kind == "add_constraint":
        return kind, f"{thing.table.name}.{','.join(c.name for c in thing.columns)} unique"
    return kind, str(thing.name)


def test_schema_from_migrations_matches_the_models(engine):
    assert at_head(engine)
    with engine.connect() as connection:
        leaves = set()
        if engine.dialect.name == "postgresql":  # the partitions of incidents are its own
            leaves = set(
                connection.exec_driver_sql(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                ).scalars()
            )
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_name": lambda name, kind, _: not (kind == "table" and name in leaves),
            },
        )
        found = [_named(d) for d in compare_metadata(context, Base.metadata)]
    expected = PARTITIONED_DIFFERENCES if engine.dialect.name == "postgresql" else []
    assert sorted(found) == sorted(expected)


def test_upgrade_twice_changes_nothing(engine):
    upgrade(engine)
    assert at_head(engine)


def test_a_database_never_upgraded_is_not_at_head(tmp_path):  # the control of at_head
    empty = connect(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        assert not at_head(empty)
    finally:
        empty.dispose()


def test_audit_events_cannot_be_changed_or_deleted(engine):
    with engine.begin() as connection:
        connection.execute(insert(AuditEvent).values(actor="lead", action="sign in", detail={}))
    for statement in (
        update(AuditEvent).values(actor="someone else"),
        AuditEvent.__table__.delete(),
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(statement)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT actor FROM audit_events")).scalars().all() == [
            "lead"
        ]


def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path: Path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are not the tables you are looking for" * 100)
    before = path.read_bytes()
    with pytest.raises(DatabaseError, match="could not be opened"):
        connect(f"sqlite:///{path}")
    assert path.read_bytes() == before


def test_a_missing_database_file_is_reported_when_not_to_be_created(tmp_path: Path):
    with pytest.raises(DatabaseError, match="no database file"):
        connect(f"sqlite:///{tmp_path / 'absent.db'}", create=False)


def test_a_malformed_url_is_explained():
    with pytest.raises(DatabaseError, match="not a valid SQLAlchemy URL"):
        connect("not a url at all")


def test_an_unreachable_server_is_explained_without_the_password():
    with pytest.raises(DatabaseError) as caught:
        connect("postgresql+psycopg://app:hunter2@127.0.0.1:1/nothing?connect_timeout=2")
    assert "hunter2" not in str(caught.value)
    assert "could not be opened" in str(caught.value)


def test_describe_url_hides_passwords():
    assert "s3cret" not in describe_url("postgresql+psycopg://a:s3cret@h/db")


@pytest.mark.parametrize(
    "engine", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_stored_references_are_compared_byte_by_byte_on_postgresql(engine):
    """0014: every ``source_ref`` (and each partition's) has the C collation, as the models say."""
    with engine.connect() as connection:
        found = dict(
            connection.execute(
                text(
                    "SELECT table_name, coalesce(collation_name, 'default') "
                    "FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND column_name = 'source_ref'"
                )
            ).all()
        )
        other = connection.scalar(
            text(
                "SELECT coalesce(collation_name, 'default') FROM information_schema.columns "
                "WHERE table_name = 'import_batches' AND column_name = 'file_hash'"
            )
        )
    assert {"incidents", "incident_refs", "referrals", "context_events"} <= set(found)
    assert any(name.startswith("incidents_") for name in found)  # the partitions too
    assert set(found.values()) == {"C"}
    assert other == "default"  # the control: other text keeps the database's collation
    assert REFERENCE.dialect_impl(engine.dialect).collation == "C"


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_an_import_gets_a_large_sqlite_cache_and_gives_it_back(engine):
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        raw.execute("PRAGMA cache_size=-3000")  # not the default: the one it had is restored
        assert raw.execute("PRAGMA temp_store").fetchone()[0] == 2  # in memory
        with bulk_cache(connection), connection.begin():
            during = raw.execute("PRAGMA cache_size").fetchone()[0]
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
        after = raw.execute("PRAGMA cache_size").fetchone()[0]
    assert during == -SQLITE_BULK_CACHE_KB
    assert after == -3000
