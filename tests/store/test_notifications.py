"""E-mail notifications through a real SMTP server on loopback, on SQLite and PostgreSQL.

Each test reads what the server received: who it went to, what it says, and that nothing
arrives twice.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
import shapely
from sqlalchemy import Engine, select, update

from services import assessments as svc
from services import notifications as notes
from services.access import Viewer
from store.db import session_scope
from store.models import Action, Assessment, District, Notification, Organisation, Place, User
from tests.smtp import SmtpSink

TODAY = date(2026, 11, 20)
CANNOCK, STAFFORD = "E07000192", "E07000197"

OFFICER = Viewer("olu@stafford.gov.uk", "officer", (CANNOCK, STAFFORD), "Stafford Borough Council")
LEAD = Viewer(
    "lee@staffordshire.gov.uk", "lead", (CANNOCK, STAFFORD), "Staffordshire County Council"
)

EVIDENCE = "Groups gather late by the bandstand"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch):
    sink = SmtpSink().start()
    for name, value in sink.env().items():
        monkeypatch.setenv(name, value)
    yield sink
    sink.stop()


def seed(engine: Engine) -> dict[str, int]:
    """Two districts, a park in each, the people and organisations; return ids by name."""
    square = shapely.to_wkb(shapely.box(390000, 300000, 400000, 310000))
    with session_scope(engine) as session:
        for code, name in ((CANNOCK, "Cannock Chase"), (STAFFORD, "Stafford")):
            session.add(District(code=code, name=name, source="test", geometry_wkb=square))
        session.flush()
        districts = {d.code: d for d in session.scalars(select(District))}
        people = {
            "officer": User(username=OFFICER.username, display_name="Olu", role="officer",
                            organisation="Stafford Borough Council",
                            districts=[districts[CANNOCK], districts[STAFFORD]]),
            "lead": User(username=LEAD.username, display_name="Lee", role="lead",
                         districts=[districts[CANNOCK], districts[STAFFORD]]),
            "cannock_lead": User(username="cat@cannock.gov.uk", display_name="Cat", role="lead",
                                 districts=[districts[CANNOCK]]),
            "county_lead": User(username="cy@staffordshire.gov.uk", display_name="Cy",
                                role="lead", districts=[]),
            "retired_lead": User(username="rex@staffordshire.gov.uk", display_name="Rex",
                                 role="lead", active=False, districts=[]),
            "no_address_lead": User(username="lead", display_name="Demo lead", role="lead"),
        }  # fmt: skip
        session.add_all(people.values())
        orgs = {
            "council": Organisation(name="Stafford Borough Council",
                                    contact_email="actions@stafford.gov.uk"),
            "police": Organisation(name="Staffordshire Police"),
        }  # fmt: skip
        session.add_all(orgs.values())
        places = {
            code: Place(place_key=f"P-{code}", name=f"{name} Park", category="park",
                        easting=395000.0, northing=305000.0, district_code=code)
            for code, name in ((CANNOCK, "Chase"), (STAFFORD, "Victoria"))
        }  # fmt: skip
        session.add_all(places.values())
        session.flush()
        return {
            **{k: u.id for k, u in people.items()},
            **{k: o.id for k, o in orgs.items()},
            "stafford_park": places[STAFFORD].id,
            "cannock_park": places[CANNOCK].id,
        }


def complete_form(ids: dict[str, int], **changes: object) -> svc.AssessmentForm:
    form = svc.AssessmentForm(
        assessed_on=date(2026, 11, 18),
        assessing_org="Stafford Borough Council",
        lead_assessor="Community Safety Officer",
        partners="Staffordshire Police, Youth service",
        overall_risk="high",
        goals="Make the park feel safe after dark.",
        next_review_on=date(2027, 2, 18),
        findings=(
            svc.FindingInput("peer_groups", 2, EVIDENCE, "Youth worker", "medium"),
            svc.FindingInput("staff_presence", 3, "No wardens after 6pm", "Site visit", "high"),
            svc.FindingInput("lighting", 1, "Two lamps out", "Site visit", "high"),
        ),
        actions=(
            svc.ActionInput(
                "Repair the lamps", "", date(2027, 1, 31), owner=f"org:{ids['council']}"
            ),
        ),
    )
    return replace(form, **changes)


@pytest.fixture
def ids(engine: Engine) -> dict[str, int]:
    return seed(engine)


def submitted(engine: Engine, ids: dict[str, int], place: str = "stafford_park") -> int:
    aid = svc.create_draft(engine, OFFICER, ids[place], today=TODAY)
    svc.submit(engine, OFFICER, aid, expected_version=1, form=complete_form(ids), today=TODAY)
    return aid


def of_kind(smtp: SmtpSink, *kinds: str) -> list:
    """The messages the server received of these kinds (the header the app sets)."""
    return [r for r in smtp.received if r.message["X-Safer-Spaces-Kind"] in kinds]


def rows(engine: Engine) -> list[Notification]:
    with session_scope(engine) as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


# --------------------------------------------------------------------------- status changes


def test_submitting_tells_the_districts_leads_with_place_status_and_link_only(engine, ids, smtp):
    aid = submitted(engine, ids)

    to = sorted(a for r in smtp.received for a in r.rcpt_tos)
    # Stafford's leads: Lee (Stafford listed) and Cy (no district listed: all). Not Cat
    # (Cannock only), not Rex (switched off), not the lead with no address, not the officer.
    assert to == ["cy@staffordshire.gov.uk", LEAD.username]
    mail = smtp.to(LEAD.username)[0]
    assert (
        mail.message["Subject"]
        == "Safer Spaces: the assessment of Victoria Park is submitted for review"
    )
    assert mail.message["From"] == "safer-spaces@test.example"
    assert "The assessment of Victoria Park (Stafford) is now submitted for review." in mail.body
    assert f"https://safer-spaces.test.example/assessments?assessment={aid}" in mail.body
    for typed in (EVIDENCE, "Repair the lamps", "Make the park feel safe", OFFICER.username):
        assert typed not in mail.body  # no finding, action, goal or person
    assert [r.status for r in rows(engine)] == ["sent", "sent"]


def test_returned_and_approved_tell_the_assessor_not_the_lead_who_did_it(engine, ids, smtp):
    aid = submitted(engine, ids)
    smtp.received.clear()
    version = svc.load_assessment(engine, LEAD, aid).version
    version = svc.return_for_changes(
        engine, LEAD, aid, expected_version=version, comment="Add the youth service's view."
    )
    assert [r.rcpt_tos for r in smtp.received] == [[OFFICER.username]]
    returned = smtp.received[0]
    assert "is now returned for changes" in returned.body
    assert "youth service's view" not in returned.body  # the comment stays in the app

    version = svc.submit(engine, OFFICER, aid, expected_version=version, today=TODAY)
    smtp.received.clear()
    svc.approve(engine, LEAD, aid, expected_version=version)
    assert [r.rcpt_tos for r in smtp.received] == [[OFFICER.username]]
    assert smtp.received[0].message["Subject"].endswith("is approved")
    assert not smtp.to(LEAD.username)


def test_a_kind_turned_off_is_not_sent_and_an_own_address_is_used(engine, ids, smtp):
    notes.set_preferences(engine, LEAD, email=None, kinds_off=["submitted"])
    cy = Viewer("cy@staffordshire.gov.uk", "lead", (CANNOCK, STAFFORD))
    notes.set_preferences(engine, cy, email="duty-lead@staffordshire.gov.uk", kinds_off=[])
    submitted(engine, ids)
    assert sorted(a for r in smtp.received for a in r.rcpt_tos) == [
        "duty-lead@staffordshire.gov.uk"
    ]
    assert notes.preferences(engine, LEAD).kinds_off == ("submitted",)
    with pytest.raises(notes.NotificationError, match="not an e-mail address"):
        notes.set_preferences(engine, LEAD, email="not an address", kinds_off=[])


def test_officers_are_not_offered_the_leads_kind(engine, ids):
    assert "submitted" not in notes.preferences(engine, OFFICER).kinds
    assert "submitted" in notes.preferences(engine, LEAD).kinds


def test_a_failing_smtp_server_keeps_the_change_and_the_mail_is_sent_later(engine, ids, smtp):
    smtp.stop()  # the port is closed: the server is down
    aid = submitted(engine, ids)
    with session_scope(engine) as session:
        assert session.get(Assessment, aid).status == "submitted"
    waiting = rows(engine)
    assert [r.status for r in waiting] == ["pending", "pending"]
    assert all("Connection" in (r.last_error or "") or "refused" in (r.last_error or "")
               for r in waiting)  # fmt: skip
    assert smtp.received == []

    smtp.start()
    run = notes.send_reminders(engine, today=TODAY)
    assert sorted(a for r in of_kind(smtp, "submitted") for a in r.rcpt_tos) == [
        "cy@staffordshire.gov.uk",
        LEAD.username,
    ]
    assert len(of_kind(smtp, "submitted")) == 2
    sent = len(run.delivery.sent)  # the two, and the leads' digests (an assessment awaits them)
    notes.send_reminders(engine, today=TODAY)  # again: nothing is sent twice
    assert len(smtp.received) == sent
    assert {r.status for r in rows(engine)} == {"sent"}


def test_a_refused_message_stays_pending_and_is_retried(engine, ids, smtp):
    smtp.refuse = True
    submitted(engine, ids)
    assert {r.status for r in rows(engine)} == {"pending"}
    assert all("451" in r.last_error for r in rows(engine))
    smtp.refuse = False
    notes.send_reminders(engine, today=TODAY)
    assert len(of_kind(smtp, "submitted")) == 2
    assert [r.attempts for r in rows(engine) if r.kind == "submitted"] == [2, 2]


def test_nothing_is_queued_without_an_smtp_server(engine, ids, monkeypatch):
    monkeypatch.delenv("SAFER_SPACES_SMTP_HOST", raising=False)
    submitted(engine, ids)
    assert rows(engine) == []
    with pytest.raises(notes.NotificationError, match="No SMTP server is set"):
        notes.send_reminders(engine, today=TODAY)


# --------------------------------------------------------------------------- the guard


def test_the_guard_holds_back_a_message_with_personal_details_and_lets_a_clean_one_go(
    engine, ids, smtp
):
    # Control: a clean place name is sent.
    submitted(engine, ids, "stafford_park")
    assert len(smtp.received) == 2
    # A place name that carries a child's details (say an import let it through).
    with session_scope(engine) as session:
        session.execute(
            update(Place)
            .where(Place.id == ids["cannock_park"])
            .values(name="Garages where Jordan Smith (14) hangs around")
        )
    smtp.received.clear()
    submitted(engine, ids, "cannock_park")
    assert smtp.received == []
    blocked = [r for r in rows(engine) if r.status == "blocked"]
    assert len(blocked) == 3  # Cannock's leads: Lee, Cat and Cy
    assert all("name with an age" in r.last_error for r in blocked)
    notes.send_reminders(engine, today=TODAY)  # never retried
    assert of_kind(smtp, "submitted") == []
    assert all("Jordan" not in r.body for r in smtp.received)  # nor in a digest: held back too


def test_guard_finds_what_the_checker_finds():
    assert notes.guard("Safer Spaces: an action at Victoria Park is overdue", "Open it: x") == []
    assert notes.guard("Subject", "Ring 07700 900123") == ["phone number"]
    assert notes.guard("Subject", "write to someone@example.org") == ["e-mail address"]


# --------------------------------------------------------------------------- reminders


def _owned_actions(engine: Engine, ids: dict[str, int]) -> int:
    """An approved assessment with actions owned by a person and by organisations."""
    aid = svc.create_draft(engine, OFFICER, ids["stafford_park"], today=TODAY)
    actions = (
        svc.ActionInput("Lamps", "", TODAY + timedelta(days=3), owner=f"user:{ids['officer']}",
                        kind="lighting"),
        svc.ActionInput("Gate", "", TODAY + timedelta(days=20), owner=f"user:{ids['officer']}"),
        svc.ActionInput("Licensing", "", TODAY + timedelta(days=7), owner=f"org:{ids['council']}",
                        kind="licensing_review"),
        svc.ActionInput("Patrols", "", TODAY + timedelta(days=2), owner=f"org:{ids['police']}"),
    )  # fmt: skip
    svc.save_draft(
        engine, OFFICER, aid, complete_form(ids, actions=actions), expected_version=1, today=TODAY
    )
    return aid


def test_due_and_overdue_go_to_the_owner_once_each(engine, ids, smtp):
    aid = _owned_actions(engine, ids)
    notes.set_preferences(engine, OFFICER, email=None, kinds_off=["digest"])
    notes.set_preferences(engine, LEAD, email=None, kinds_off=["digest"])

    notes.send_reminders(engine, today=TODAY)
    subjects = sorted((r.rcpt_tos[0], r.message["Subject"]) for r in smtp.received)
    assert subjects == [
        (
            "actions@stafford.gov.uk",
            "Safer Spaces: an action at Victoria Park is due on 27 Nov 2026",
        ),
        (OFFICER.username, "Safer Spaces: an action at Victoria Park is due on 23 Nov 2026"),
    ]  # fmt: skip  (the police have no contact address; the gate is 20 days away)
    lamps = smtp.to(OFFICER.username)[0]
    assert "An action at Victoria Park (Lighting) is due on 23 Nov 2026 (in 3 days)" in lamps.body
    assert f"/assessments?assessment={aid}" in lamps.body
    assert "Lamps" not in lamps.body  # the action's own words stay in the app

    notes.send_reminders(engine, today=TODAY)  # the same day again
    notes.send_reminders(engine, today=TODAY + timedelta(days=1))  # still due: told already
    assert len(smtp.received) == 2

    smtp.received.clear()
    notes.send_reminders(engine, today=TODAY + timedelta(days=5))  # the lamps are overdue now
    overdue = [(r.rcpt_tos, r.message["Subject"]) for r in smtp.received]
    assert overdue == [
        (
            [OFFICER.username],
            "Safer Spaces: an action at Victoria Park is overdue (due 23 Nov 2026)",
        )
    ]
    notes.send_reminders(engine, today=TODAY + timedelta(days=6))
    assert len(smtp.received) == 1


def test_done_actions_and_switched_off_owners_get_nothing(engine, ids, smtp):
    _owned_actions(engine, ids)
    notes.set_preferences(engine, OFFICER, email=None, kinds_off=["action_due", "digest"])
    notes.set_preferences(engine, LEAD, email=None, kinds_off=["digest"])
    with session_scope(engine) as session:
        session.execute(
            update(Action).where(Action.description == "Licensing").values(status="done")
        )
    run = notes.send_reminders(engine, today=TODAY)
    assert run.queued == [] and smtp.received == []


def test_the_weekly_digest_lists_what_is_theirs_once_a_week(engine, ids, smtp):
    _owned_actions(engine, ids)
    submitted(engine, ids, "cannock_park")
    smtp.received.clear()
    for user in (OFFICER, LEAD):
        notes.set_preferences(engine, user, email=None, kinds_off=["action_due", "action_overdue"])

    notes.send_reminders(engine, today=TODAY)  # a Friday
    officer = smtp.to(OFFICER.username)
    assert len(officer) == 1
    body = officer[0].body
    # Olu owns Lamps and Gate in person, and Licensing through Stafford Borough Council.
    # (4: and the council's action in the Cannock assessment.)
    assert "Open actions you or your organisation own: 4 (0 overdue, 2 due within 7 days)" in body
    assert "- Victoria Park: Lighting action, due 23 Nov 2026 (open)" in body
    assert "Your assessments in progress: 1" in body and "- Victoria Park: draft" in body
    lead = smtp.to(LEAD.username)[0].body
    assert "Submitted, awaiting a lead's review: 1" in lead and "- Chase Park" in lead
    assert "Open actions" not in lead

    notes.send_reminders(engine, today=TODAY + timedelta(days=2))  # Sunday, the same ISO week
    assert len(smtp.to(OFFICER.username)) == 1
    notes.send_reminders(engine, today=TODAY + timedelta(days=3))  # Monday: a new week
    assert len(smtp.to(OFFICER.username)) == 2


def test_dry_run_writes_and_sends_nothing(engine, ids, smtp):
    _owned_actions(engine, ids)
    before = rows(engine)
    run = notes.send_reminders(engine, today=TODAY, dry_run=True)
    assert {m.kind for m in run.queued} == {"action_due", "digest"}
    assert run.delivery is None
    assert rows(engine) == before and smtp.received == []


def test_two_senders_at_once_send_each_message_once(engine, ids, smtp):
    smtp.stop()
    submitted(engine, ids)  # two pending
    smtp.start()
    settings = notes.smtp_settings()
    results: list[notes.Delivery] = []
    threads = [
        threading.Thread(target=lambda: results.append(notes.deliver_pending(engine, settings)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(len(r.sent) for r in results) == 2
    assert len(smtp.received) == 2


def test_a_stale_claim_is_retried(engine, ids, smtp):
    smtp.stop()
    submitted(engine, ids)
    smtp.start()
    with session_scope(engine) as session:  # a sender died part-way, an hour ago
        session.execute(
            update(Notification).values(
                status="sending", claimed_at=datetime.now(UTC) - timedelta(hours=1)
            )
        )
    notes.deliver_pending(engine)
    assert len(smtp.received) == 2


def test_sign_in_to_the_smtp_server_with_user_and_password(engine, ids, monkeypatch):
    sink = SmtpSink(logins={"safer": "s3cret-relay"}).start()
    try:
        for name, value in sink.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("SAFER_SPACES_SMTP_USER", "safer")
        monkeypatch.setenv("SAFER_SPACES_SMTP_PASSWORD", "wrong")
        submitted(engine, ids)
        assert sink.received == []
        assert {r.status for r in rows(engine)} == {"pending"}
        assert {r.last_error.split(":")[0] for r in rows(engine)} == {"SMTPAuthenticationError"}
        monkeypatch.setenv("SAFER_SPACES_SMTP_PASSWORD", "s3cret-relay")
        notes.send_reminders(engine, today=TODAY)
        assert len(of_kind(sink, "submitted")) == 2
    finally:
        sink.stop()


def test_settings_are_read_and_checked(monkeypatch):
    monkeypatch.setenv("SAFER_SPACES_SMTP_HOST", "smtp.example.gov.uk")
    monkeypatch.delenv("SAFER_SPACES_SMTP_PORT", raising=False)
    monkeypatch.setenv("SAFER_SPACES_SMTP_TLS", "ssl")
    settings = notes.smtp_settings()
    assert (settings.port, settings.tls, settings.sender) == (
        465,
        "ssl",
        "safer-spaces@smtp.example.gov.uk",
    )
    assert "hunter2" not in repr(replace(settings, password="hunter2"))
    monkeypatch.setenv("SAFER_SPACES_SMTP_TLS", "maybe")
    with pytest.raises(notes.NotificationError, match="starttls, ssl or none"):
        notes.smtp_settings()
