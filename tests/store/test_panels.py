"""The MACE panel's record (issue 19): meetings, agenda, decisions and disruption actions."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine, select

from services.access import AccessDenied, Viewer
from services.panels import (
    PanelError,
    add_panel_action,
    list_panels,
    panel_actions,
    record_panel,
    set_panel_action_status,
)
from store.models import Action, AuditEvent
from store.queries import load_actions

LEAD = Viewer("lead", "lead", ("E07000197",))
TODAY = date(2026, 11, 20)


def panel(engine: Engine, **changes) -> int:  # type: ignore[no-untyped-def]
    fields = {
        "held_on": date(2026, 11, 12),
        "organisations": ["Staffordshire Police", "Stafford Borough Council", ""],
        "agenda": [(["pA", "pB"], "2 places linked through 6 young people")],
        "decisions": "Licensing review of the takeaway; patrols at the station at night.",
        "today": TODAY,
        **changes,
    }
    return record_panel(engine, LEAD, **fields)


def test_a_panel_with_its_agenda_and_actions(engine: Engine) -> None:
    panel_id = panel(engine)
    action = add_panel_action(
        engine,
        LEAD,
        panel_id,
        kind="licensing_review",
        description="Review the licence",
        owner_org="Stafford Borough Council",
        due_on=date(2026, 12, 31),
    )
    add_panel_action(
        engine,
        LEAD,
        panel_id,
        kind="makesafe_training",
        description="Makesafe for hotel staff",
        owner_org="Staffordshire Police",
        due_on=date(2026, 12, 15),
    )
    set_panel_action_status(engine, LEAD, action, status="done", on=date(2026, 11, 30))
    panels = list_panels(engine)
    assert panels["organisations"].tolist() == ["Staffordshire Police\nStafford Borough Council"]
    assert panels["place_keys"].tolist() == ["pA;pB"]
    actions = panel_actions(engine, panel_id)
    assert actions["kind"].tolist() == ["makesafe_training", "licensing_review"]
    assert actions["status"].tolist() == ["open", "done"]
    # the assessments' lists are not mixed with the panel's
    assert load_actions(engine).empty
    with engine.connect() as connection:
        kinds = connection.scalars(select(Action.kind).where(Action.panel_id == panel_id)).all()
        audit = connection.scalars(select(AuditEvent.action)).all()
    assert sorted(kinds) == ["licensing_review", "makesafe_training"]
    assert audit.count("record MACE panel") == 1
    assert audit.count("add MACE panel action") == 2
    assert audit.count("update MACE panel action") == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"held_on": date(2026, 12, 1)}, "in the future"),
        ({"organisations": [" "]}, "at least one organisation"),
        ({"decisions": "Spoke to a girl called Amy Jones (aged 14)"}, "looks like a name"),
    ],
    ids=["future", "no organisation", "personal details"],
)
def test_bad_panels_store_nothing(engine: Engine, changes, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PanelError, match=message):
        panel(engine, **changes)
    assert list_panels(engine).empty


def test_bad_actions_and_viewers_are_refused(engine: Engine) -> None:
    panel_id = panel(engine)
    with pytest.raises(PanelError, match="not a kind"):
        add_panel_action(
            engine, LEAD, panel_id, kind="curfew", description="x", owner_org="Police", due_on=TODAY
        )
    with pytest.raises(PanelError, match="phone"):
        add_panel_action(
            engine,
            LEAD,
            panel_id,
            kind="other",
            description="Call 07700 900123",
            owner_org="Police",
            due_on=TODAY,
        )
    with pytest.raises(AccessDenied):
        add_panel_action(
            engine,
            Viewer("v", "viewer", ("E07000197",)),
            panel_id,
            kind="other",
            description="Patrols",
            owner_org="Police",
            due_on=TODAY,
        )
    assert panel_actions(engine, panel_id).empty
