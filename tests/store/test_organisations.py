"""Named owners: the organisations list, owners of actions, and an owner's queue.

On SQLite and PostgreSQL, through the real storage.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import shapely
from alembic import command
from sqlalchemy import Engine, select, text

from services import assessments as svc
from services.access import AccessDenied, Viewer
from services.organisations import (
    OrganisationError,
    actions_owned_by,
    add_organisation,
    list_organisations,
    owner_choices,
    update_organisation,
)
from store.db import _alembic_config, connect, session_scope, upgrade
from store.models import Action, AuditEvent, District, Organisation, Place, User

TODAY = date(2026, 11, 20)
CANNOCK, STAFFORD = "E07000192", "E07000197"
ADMIN = Viewer("admin", "admin", (CANNOCK, STAFFORD))
OFFICER = Viewer("olu", "officer", (STAFFORD,), "Stafford Borough Council", "Olu")
OTHER = Viewer("cam", "officer", (STAFFORD,), "Cannock Chase Council", "Cam")


def seed(engine: Engine) -> dict[str, int]:
    square = shapely.to_wkb(shapely.box(390000, 300000, 400000, 310000))
    with session_scope(engine) as session:
        for code, name in ((CANNOCK, "Cannock Chase"), (STAFFORD, "Stafford")):
            session.add(District(code=code, name=name, source="test", geometry_wkb=square))
        session.flush()
        users = {
            "olu": User(username="olu", display_name="Olu", role="officer",
                        organisation="Stafford Borough Council"),
            "cam": User(username="cam", display_name="Cam", role="officer",
                        organisation="Cannock Chase Council"),
            "vi": User(username="vi", display_name="Vi", role="viewer"),
            "gone": User(username="gone", display_name="Gone", role="officer", active=False),
        }  # fmt: skip
        places = {
            code: Place(place_key=f"P-{code}", name=f"{name} Park", category="park",
                        easting=395000.0, northing=305000.0, district_code=code)
            for code, name in ((CANNOCK, "Chase"), (STAFFORD, "Victoria"))
        }  # fmt: skip
        session.add_all([*users.values(), *places.values()])
        session.flush()
        return {
            **{k: u.id for k, u in users.items()},
            "stafford": places[STAFFORD].id,
            "cannock": places[CANNOCK].id,
        }


@pytest.fixture
def ids(engine: Engine) -> dict[str, int]:
    return seed(engine)


def form(*actions: svc.ActionInput) -> svc.AssessmentForm:
    return svc.AssessmentForm(assessed_on=TODAY, actions=actions)


def action(owner: str | None = None, typed: str = "", days: int = 30, **kw) -> svc.ActionInput:
    return svc.ActionInput(
        "Repair the lamps", typed, TODAY + timedelta(days=days), owner=owner, **kw
    )


def stored_actions(engine: Engine) -> list[tuple[str, int | None, int | None]]:
    with session_scope(engine) as session:
        return [
            (a.owner_org, a.owner_user_id, a.owner_org_id)
            for a in session.scalars(select(Action).order_by(Action.id))
        ]


# --------------------------------------------------------------------------- the list


def test_an_admin_keeps_the_list_and_every_change_is_audited(engine, ids):
    council = add_organisation(engine, ADMIN, "  Stafford  Borough Council ",
                               contact_email="Actions@Stafford.gov.uk")  # fmt: skip
    police = add_organisation(engine, ADMIN, "Staffordshire Police")
    frame = list_organisations(engine)
    assert frame["name"].tolist() == ["Stafford Borough Council", "Staffordshire Police"]
    assert frame.set_index("id").loc[council, "contact_email"] == "actions@stafford.gov.uk"

    update_organisation(engine, ADMIN, police, active=False)
    update_organisation(engine, ADMIN, council, name="Stafford BC", contact_email="")
    frame = list_organisations(engine).set_index("id")
    assert frame.loc[police, "active"] == False  # noqa: E712 (numpy bool)
    assert frame.loc[council, "name"] == "Stafford BC"
    assert frame.loc[council, "contact_email"] is None
    assert [c.label for c in owner_choices(engine)][:1] == ["Stafford BC"]  # police retired

    with session_scope(engine) as session:
        events = session.execute(
            select(AuditEvent.action, AuditEvent.detail)
            .where(AuditEvent.entity == "organisation")
            .order_by(AuditEvent.id)
        ).all()
    assert [e[0] for e in events] == [
        "organisation.added",
        "organisation.added",
        "organisation.changed",
        "organisation.changed",
    ]
    assert events[3][1]["before"]["name"] == "Stafford Borough Council"
    assert events[3][1]["after"] == {"name": "Stafford BC", "contact": None}


@pytest.mark.parametrize(
    ("name", "email", "message"),
    [
        ("", None, "Enter the organisation's name"),
        ("stafford borough council", None, "already an organisation"),
        ("Youth service", "youth at council", "not an e-mail address"),
        ("Jordan Smith, 14", None, "describe"),
        ("x" * 201, None, "200 is the most"),
    ],
    ids=["empty", "same-name-any-case", "bad-address", "personal", "too-long"],
)
def test_bad_organisations_are_refused_and_nothing_is_written(engine, ids, name, email, message):
    add_organisation(engine, ADMIN, "Stafford Borough Council")
    with pytest.raises(OrganisationError, match=message):
        add_organisation(engine, ADMIN, name, contact_email=email)
    assert len(list_organisations(engine)) == 1


def test_only_an_admin_changes_the_list(engine, ids):
    with pytest.raises(AccessDenied):
        add_organisation(engine, OFFICER, "Youth service")
    org = add_organisation(engine, ADMIN, "Youth service")
    with pytest.raises(AccessDenied):
        update_organisation(engine, OFFICER, org, active=False)


def test_renaming_carries_the_name_to_its_actions(engine, ids):
    org = add_organisation(engine, ADMIN, "Stafford Borough Council")
    aid = svc.create_draft(engine, OFFICER, ids["stafford"], today=TODAY)
    svc.save_draft(
        engine, OFFICER, aid, form(action(f"org:{org}")), expected_version=1, today=TODAY
    )
    update_organisation(engine, ADMIN, org, name="Stafford Borough Council (licensing)")
    assert stored_actions(engine) == [("Stafford Borough Council (licensing)", None, org)]
    record = svc.load_assessment(engine, OFFICER, aid)
    assert record.form.actions[0].owner == f"org:{org}"


# --------------------------------------------------------------------------- owners of actions


def test_any_number_of_actions_with_owners_from_the_list(engine, ids):
    org = add_organisation(engine, ADMIN, "Stafford Borough Council")
    police = add_organisation(engine, ADMIN, "Staffordshire Police")
    aid = svc.create_draft(engine, OFFICER, ids["stafford"], today=TODAY)
    actions = [
        action(f"org:{org}"),
        action(f"user:{ids['olu']}"),
        action(f"org:{police}"),
        action(None, "staffordshire police"),
        action(None, "OLU"),
        action(f"org:{org}"),
    ]
    svc.save_draft(engine, OFFICER, aid, form(*actions), expected_version=1, today=TODAY)
    assert stored_actions(engine) == [
        ("Stafford Borough Council", None, org),
        ("Olu (Stafford Borough Council)", ids["olu"], None),
        ("Staffordshire Police", None, police),
        ("Staffordshire Police", None, police),  # typed, found by name
        ("Olu (Stafford Borough Council)", ids["olu"], None),  # typed, found by username
        ("Stafford Borough Council", None, org),
    ]


@pytest.mark.parametrize(
    ("owner", "typed", "message"),
    [
        (None, "Parks team", "'Parks team' is not in the list of owners"),
        ("user:vi", "", "Choose who owns the action from the list"),
        (None, "", "Choose who owns the action"),
    ],
    ids=["not-listed", "malformed", "missing"],
)
def test_an_owner_not_in_the_list_is_refused(engine, ids, owner, typed, message):
    add_organisation(engine, ADMIN, "Stafford Borough Council")
    aid = svc.create_draft(engine, OFFICER, ids["stafford"], today=TODAY)
    with pytest.raises(svc.AssessmentInvalid) as refused:
        svc.save_draft(engine, OFFICER, aid, form(action(owner, typed)), expected_version=1,
                       today=TODAY)  # fmt: skip
    assert message in refused.value.errors["actions.0.owner_org"]
    assert stored_actions(engine) == []


def test_people_who_cannot_act_and_retired_organisations_are_refused_for_new_actions(engine, ids):
    org = add_organisation(engine, ADMIN, "Stafford Borough Council")
    aid = svc.create_draft(engine, OFFICER, ids["stafford"], today=TODAY)
    svc.save_draft(
        engine, OFFICER, aid, form(action(f"org:{org}")), expected_version=1, today=TODAY
    )
    update_organisation(engine, ADMIN, org, active=False)
    kept = svc.load_assessment(engine, OFFICER, aid).form.actions[0]
    # The action that has it keeps it...
    version = svc.save_draft(engine, OFFICER, aid, form(kept), expected_version=2, today=TODAY)
    # ...a new one cannot take it, nor a viewer, nor a switched-off person.
    for owner, message in (
        (f"org:{org}", "retired"),
        (f"user:{ids['vi']}", "cannot own actions"),
        (f"user:{ids['gone']}", "cannot own actions"),
    ):
        with pytest.raises(svc.AssessmentInvalid) as refused:
            svc.save_draft(engine, OFFICER, aid, form(kept, action(owner)),
                           expected_version=version, today=TODAY)  # fmt: skip
        assert message in refused.value.errors["actions.1.owner_org"]
    assert [c for c in owner_choices(engine) if c.ref in (f"user:{ids['vi']}", f"org:{org}")] == []


def test_without_a_list_a_typed_owner_is_kept_as_typed(engine, ids):
    aid = svc.create_draft(engine, OFFICER, ids["stafford"], today=TODAY)
    svc.save_draft(engine, OFFICER, aid, form(action(None, "Parks team")), expected_version=1,
                   today=TODAY)  # fmt: skip
    assert stored_actions(engine) == [("Parks team", None, None)]
    assert svc.load_assessment(engine, OFFICER, aid).form.actions[0].owner == ""


def test_add_action_takes_an_owner_from_the_list(engine, ids):
    org = add_organisation(engine, ADMIN, "Stafford Borough Council")
    aid = svc.create_draft(engine, OFFICER, ids["stafford"], today=TODAY)
    svc.add_action(engine, OFFICER, aid, action(f"org:{org}"), today=TODAY)
    with pytest.raises(svc.AssessmentInvalid) as refused:
        svc.add_action(engine, OFFICER, aid, action(None, "Parks team"), today=TODAY)
    assert "not in the list" in refused.value.errors["owner_org"]
    assert stored_actions(engine) == [("Stafford Borough Council", None, org)]


# --------------------------------------------------------------------------- the owner's queue


def test_an_owner_sees_their_actions_in_their_queue(engine, ids):
    org = add_organisation(engine, ADMIN, "Stafford Borough Council")
    other = add_organisation(engine, ADMIN, "Cannock Chase Council")
    aid = svc.create_draft(engine, OFFICER, ids["stafford"], today=TODAY)
    actions = [
        action(f"user:{ids['olu']}", days=3),
        action(f"org:{org}", days=10),
        action(f"org:{other}", days=5),
        action(f"user:{ids['cam']}", days=1),
        action(f"user:{ids['olu']}", days=60),  # beyond the 30 days asked for
    ]
    svc.save_draft(engine, OFFICER, aid, form(*actions), expected_version=1, today=TODAY)

    mine = actions_owned_by(engine, OFFICER, due_by=TODAY + timedelta(days=30))
    assert mine["owned"].tolist() == ["you", "your organisation"]
    assert mine["due_on"].dt.date.tolist() == [
        TODAY + timedelta(days=3),
        TODAY + timedelta(days=10),
    ]
    assert mine["place_name"].tolist() == ["Victoria Park"] * 2
    theirs = actions_owned_by(engine, OTHER, due_by=TODAY + timedelta(days=30))
    assert theirs["owned"].tolist() == ["you", "your organisation"]
    # Outside the viewer's districts nothing is shown, even their own.
    away = Viewer("olu", "officer", (CANNOCK,), "Stafford Borough Council")
    assert actions_owned_by(engine, away, due_by=TODAY + timedelta(days=30)).empty


# --------------------------------------------------------------------------- the migration


def test_the_migration_makes_typed_owners_organisations(engine, tmp_path):
    postgres = engine.dialect.name == "postgresql"
    target = engine if postgres else connect(f"sqlite:///{tmp_path / 'before.db'}")
    if postgres:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    try:
        with target.begin() as connection:
            command.upgrade(_alembic_config(connection), "0008_audit_immutable")
        _migrate_typed_owners(target)
    finally:
        upgrade(target)  # at head again, whatever happened
        if not postgres:
            target.dispose()


def _migrate_typed_owners(engine: Engine) -> None:
    square = shapely.to_wkb(shapely.box(0, 0, 1, 1))
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO districts (code, name, source, geometry_wkb, created_at, updated_at, "
            "created_by, updated_by) VALUES ('E1', 'D', 's', :g, CURRENT_TIMESTAMP, "
            "CURRENT_TIMESTAMP, 't', 't')"), {"g": square})  # fmt: skip
        connection.execute(text(
            "INSERT INTO places (id, place_key, name, category, district_code, active, created_at, "
            "updated_at, created_by, updated_by) VALUES (1, 'P', 'Park', 'park', 'E1', true, "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 't', 't')"))  # fmt: skip
        connection.execute(text(
            "INSERT INTO assessments (id, place_id, assessing_org, lead_assessor, assessed_on, "
            "status, young_people_consulted, families_consulted, version, created_at, "
            "updated_at, created_by, updated_by) VALUES (1, 1, 'o', 'l', '2026-01-01', 'draft', "
            "false, false, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 't', 't')"))  # fmt: skip
        for number, owner in enumerate(["Police", "Youth service ", "Police", ""]):
            connection.execute(text(
                "INSERT INTO actions (id, assessment_id, description, owner_org, due_on, status, "
                "created_at, updated_at, created_by, updated_by) VALUES (:id, 1, 'x', :o, "
                "'2026-02-01', 'open', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 't', 't')"),
                {"id": number + 1, "o": owner})  # fmt: skip
    upgrade(engine)
    with session_scope(engine) as session:
        organisations = dict(session.execute(select(Organisation.name, Organisation.id)).all())
        assert sorted(organisations) == ["Police", "Youth service"]
        owners = session.execute(select(Action.owner_org, Action.owner_org_id).order_by(Action.id))
        assert owners.all() == [
            ("Police", organisations["Police"]),
            ("Youth service ", organisations["Youth service"]),
            ("Police", organisations["Police"]),
            ("", None),
        ]
