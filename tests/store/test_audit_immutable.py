"""Audit events cannot be rewritten by any statement, on SQLite and PostgreSQL (issue 15)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, insert, text
from sqlalchemy.exc import DBAPIError

from store.models import AuditEvent


def _one_event(engine: Engine) -> int:
    with engine.begin() as connection:
        connection.execute(insert(AuditEvent).values(actor="lead", action="sign in", detail={}))
        return int(connection.scalar(text("SELECT max(id) FROM audit_events")))


def _actors(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(text("SELECT actor FROM audit_events ORDER BY id")))


def _rewrites(dialect: str, event_id: int) -> list[str]:
    columns = "(id, at, actor, action, detail)"
    values = f"({event_id}, CURRENT_TIMESTAMP, 'intruder', 'nothing', '{{}}')"
    if dialect == "sqlite":
        return [
            f"INSERT OR REPLACE INTO audit_events {columns} VALUES {values}",
            f"REPLACE INTO audit_events {columns} VALUES {values}",
            f"INSERT INTO audit_events {columns} VALUES {values} "
            "ON CONFLICT(id) DO UPDATE SET actor = excluded.actor",
            "UPDATE OR REPLACE audit_events SET actor = 'intruder'",
            "DELETE FROM audit_events",
        ]
    return [
        f"INSERT INTO audit_events {columns} VALUES {values} "
        "ON CONFLICT (id) DO UPDATE SET actor = excluded.actor",
        "MERGE INTO audit_events a USING (SELECT 1 AS id) s ON a.id = s.id "
        "WHEN MATCHED THEN UPDATE SET actor = 'intruder'",
        "MERGE INTO audit_events a USING (SELECT 1 AS id) s ON a.id = s.id "
        "WHEN MATCHED THEN DELETE",
        "TRUNCATE audit_events",
        "TRUNCATE audit_events CASCADE",
        "UPDATE audit_events SET actor = 'intruder'",
        "DELETE FROM audit_events",
    ]


def test_no_statement_rewrites_an_audit_event(engine: Engine):
    event_id = _one_event(engine)
    statements = _rewrites(engine.dialect.name, event_id)
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            version = connection.scalar(text("SHOW server_version_num"))
        if int(version) < 150000:  # MERGE came with PostgreSQL 15
            statements = [s for s in statements if not s.startswith("MERGE")]
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    assert _actors(engine) == ["lead"]


def test_new_events_still_go_in(engine: Engine):
    _one_event(engine)
    _one_event(engine)
    with engine.begin() as connection:  # an explicit new id is an ordinary insert
        connection.execute(
            text(
                "INSERT INTO audit_events (id, at, actor, action, detail) "
                "VALUES (1000, CURRENT_TIMESTAMP, 'admin', 'export', '{}')"
            )
        )
    assert _actors(engine) == ["lead", "lead", "admin"]


def test_control_without_the_new_triggers_the_rewrite_goes_through(engine: Engine):
    """The checks above can fail: drop this migration's trigger and the rewrite works."""
    event_id = _one_event(engine)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("DROP TRIGGER audit_events_no_truncate ON audit_events"))
            rewrite = "TRUNCATE audit_events"
        else:
            connection.execute(text("DROP TRIGGER audit_events_no_replace"))
            rewrite = _rewrites("sqlite", event_id)[0]
    try:
        with engine.begin() as connection:
            connection.execute(text(rewrite))
        assert _actors(engine) != ["lead"]
    finally:
        if engine.dialect.name == "postgresql":
            with engine.begin() as connection:
                connection.execute(
                    text(
                        "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON "
                        "audit_events FOR EACH STATEMENT EXECUTE FUNCTION "
                        "audit_events_append_only()"
                    )
                )
