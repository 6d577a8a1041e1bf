"""The append-only audit log: who did what, when, to which record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from store.db import session_scope
from store.models import AuditEvent

__all__ = ["chosen_sign_outs", "log_event", "record"]


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str | None = None,
    entity_id: object = None,
    detail: dict[str, Any] | None = None,
    origin: str | None = None,
) -> AuditEvent:
    """Add an audit event to the session's transaction, so it lands with the change it records."""
    event = AuditEvent(
        actor=actor,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        detail=detail or {},
        origin=origin,
    )
    session.add(event)
    return event


def log_event(
    engine: Engine,
    *,
    actor: str,
    action: str,
    entity: str | None = None,
    entity_id: object = None,
    detail: dict[str, Any] | None = None,
    origin: str | None = None,
) -> None:
    """Write one audit event in a transaction of its own (for views, exports, refusals).

    For changes, call :func:`record` in the change's own session instead,
    so that the event lands with the change. The map's place panel logs
    ``log_event(engine, actor=viewer.username, action="view place panel",
    entity="place", entity_id=place_id)``.
    """
    with session_scope(engine) as session:
        record(
            session,
            actor=actor[:200],
            action=action,
            entity=entity,
            entity_id=entity_id,
            detail=detail,
            origin=origin,
        )


def chosen_sign_outs(engine: Engine, username: str) -> list[datetime]:
    """Return when the person last signed out by choice (not a time-out), newest first.

    Parameters
    ----------
    engine : Engine
        The database.
    username : str
        The person, in lower case (compared without case).

    Returns
    -------
    list of datetime
        Up to the last 20 sign-outs the person chose, as aware UTC times.
    """
    with engine.connect() as connection:
        rows = connection.execute(
            select(AuditEvent.at, AuditEvent.detail)
            .where(func.lower(AuditEvent.actor) == username, AuditEvent.action == "sign out")
            .order_by(AuditEvent.id.desc())
            .limit(20)
        ).all()
    return [
        at if at.tzinfo else at.replace(tzinfo=UTC)
        for at, detail in rows
        if (detail or {}).get("reason") == "signed out"
    ]
