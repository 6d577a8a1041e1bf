"""The MACE panel's record (issue 19): meetings, their agenda, decisions and disruption actions.

A panel meeting has a date, the organisations present (one a line), the places and
clusters of linked places on its agenda (by place key, never a person), the decisions in
words, and disruption actions (an ``Action`` with a ``kind`` and the panel's id, owned by an
organisation, with a due date and an outcome). Text is checked for personal details before
anything is stored; every change is written to the audit log in the same transaction.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import Engine, select

from services.access import Viewer
from services.text_checks import personal_data_warnings
from store.audit import record
from store.db import session_scope
from store.models import Action, MaceAgendaItem, MacePanel
from store.vocabulary import ACTION_KINDS, ACTION_STATUSES

__all__ = [
    "PanelError",
    "add_panel_action",
    "list_panels",
    "panel_actions",
    "record_panel",
    "set_panel_action_status",
]


class PanelError(ValueError):
    """What is wrong with a panel record, in words for the screen (nothing was stored)."""


def _check_text(what: str, text: str | None) -> None:
    warnings = personal_data_warnings(text)
    if warnings:
        raise PanelError(f"{what}: " + " ".join(warnings))


def record_panel(
    engine: Engine,
    viewer: Viewer,
    *,
    held_on: date,
    organisations: list[str],
    agenda: list[tuple[list[str], str]],
    decisions: str | None,
    today: date | None = None,
) -> int:
    """Store a panel meeting with its agenda; return its id.

    Parameters
    ----------
    agenda
        ``(place keys, summary)`` for each place or cluster discussed.

    Raises
    ------
    AccessDenied
        For a steering group viewer.
    PanelError
        A date in the future, no organisation, or text that looks like personal details.
    """
    viewer.require(viewer.may_edit_assessments, "record a MACE panel")
    today = today or date.today()
    if held_on > today:
        raise PanelError(f"The panel date {held_on:%d %B %Y} is in the future.")
    present = [o.strip()[:200] for o in organisations if o and o.strip()]
    if not present:
        raise PanelError("Name at least one organisation present at the panel.")
    _check_text("Decisions", decisions)
    _check_text("Organisations", "\n".join(present))
    with session_scope(engine) as session:
        panel = MacePanel(
            held_on=held_on,
            organisations="\n".join(present),
            decisions=(decisions or "").strip() or None,
            created_by=viewer.username,
            updated_by=viewer.username,
        )
        session.add(panel)
        session.flush()
        for keys, summary in agenda:
            session.add(
                MaceAgendaItem(
                    panel_id=panel.id,
                    place_keys=";".join(keys),
                    summary=summary,
                    created_by=viewer.username,
                    updated_by=viewer.username,
                )
            )
        record(
            session,
            actor=viewer.username,
            action="record MACE panel",
            entity="mace_panel",
            entity_id=panel.id,
            detail={"held_on": held_on.isoformat(), "agenda_items": len(agenda)},
        )
        return int(panel.id)


def add_panel_action(
    engine: Engine,
    viewer: Viewer,
    panel_id: int,
    *,
    kind: str,
    description: str,
    owner_org: str,
    due_on: date,
) -> int:
    """Add a disruption action to a panel; return its id (see :func:`record_panel`)."""
    viewer.require(viewer.may_edit_assessments, "add a MACE panel action")
    if kind not in ACTION_KINDS:
        raise PanelError(f"'{kind}' is not a kind of action: use one of {', '.join(ACTION_KINDS)}.")
    if not description.strip():
        raise PanelError("Describe the action.")
    if not owner_org.strip():
        raise PanelError("Name the organisation that owns the action.")
    _check_text("The action", description)
    with session_scope(engine) as session:
        if session.get(MacePanel, panel_id) is None:
            raise PanelError(f"There is no MACE panel {panel_id}.")
        action = Action(
            panel_id=panel_id,
            assessment_id=None,
            kind=kind,
            description=description.strip(),
            owner_org=owner_org.strip()[:200],
            due_on=due_on,
            status="open",
            created_by=viewer.username,
            updated_by=viewer.username,
        )
        session.add(action)
        session.flush()
        record(
            session,
            actor=viewer.username,
            action="add MACE panel action",
            entity="action",
            entity_id=action.id,
            detail={"panel": panel_id, "kind": kind},
        )
        return int(action.id)


def set_panel_action_status(
    engine: Engine, viewer: Viewer, action_id: int, *, status: str, on: date | None = None
) -> None:
    """Record a panel action's outcome: open, done (on a date) or dropped."""
    viewer.require(viewer.may_edit_assessments, "update a MACE panel action")
    if status not in ACTION_STATUSES:
        raise PanelError(f"'{status}' is not a status: use {', '.join(ACTION_STATUSES)}.")
    with session_scope(engine) as session:
        action = session.get(Action, action_id)
        if action is None or action.panel_id is None:
            raise PanelError(f"There is no MACE panel action {action_id}.")
        before = action.status
        action.status = status
        action.completed_on = (on or date.today()) if status == "done" else None
        action.updated_by = viewer.username
        record(
            session,
            actor=viewer.username,
            action="update MACE panel action",
            entity="action",
            entity_id=action_id,
            detail={"before": before, "after": status},
        )


def list_panels(engine: Engine) -> pd.DataFrame:
    """Return the panels, newest first.

    Columns: ``id``, ``held_on``, ``organisations``, ``decisions``, ``agenda`` (summaries
    joined by new lines) and ``place_keys`` (all agenda places, ;).
    """
    with engine.connect() as connection:
        panels = pd.read_sql(
            select(
                MacePanel.id, MacePanel.held_on, MacePanel.organisations, MacePanel.decisions
            ).order_by(MacePanel.held_on.desc(), MacePanel.id.desc()),
            connection,
        )
        items = pd.read_sql(
            select(MaceAgendaItem.panel_id, MaceAgendaItem.place_keys, MaceAgendaItem.summary),
            connection,
        )
    agenda = items.groupby("panel_id")["summary"].agg(lambda s: "\n".join(v for v in s if v))
    keys = items.groupby("panel_id")["place_keys"].agg(";".join)
    ids = panels["id"].tolist()
    return panels.assign(
        agenda=pd.Series([agenda.get(i, "") for i in ids], index=panels.index, dtype=object),
        place_keys=pd.Series([keys.get(i, "") for i in ids], index=panels.index, dtype=object),
    )


def panel_actions(engine: Engine, panel_id: int) -> pd.DataFrame:
    """Return a panel's actions.

    Columns: ``id``, ``kind``, ``description``, ``owner_org``, ``due_on``, ``status``,
    ``completed_on``.
    """
    with engine.connect() as connection:
        return pd.read_sql(
            select(
                Action.id,
                Action.kind,
                Action.description,
                Action.owner_org,
                Action.due_on,
                Action.status,
                Action.completed_on,
            )
            .where(Action.panel_id == panel_id)
            .order_by(Action.due_on, Action.id),
            connection,
        )
