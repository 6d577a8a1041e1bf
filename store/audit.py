"""The append-only audit log: who did what, when, to which record."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from store.models import AuditEvent

__all__ = ["record"]


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
