"""The printable assessment (issue 23): content, photos, personal text withheld, access."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from dashboard.downloads import downloader
from reports.assessment_pdf import assessment_pdf_for
from services import assessments as svc
from services import evidence as ev
from services.access import AccessDenied
from store.db import session_scope
from store.models import AuditEvent, Place
from tests.store.test_assessments import LEAD, OFFICER, STAFFORD, TODAY, complete_form, seed
from tests.store.test_evidence import OTHER_DISTRICT, gps_jpeg

HOSTILE = '<b>Park</b> **bold** [link](http://evil.example) =HYPERLINK("x")'
NAMES = {STAFFORD: "Stafford"}


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


@pytest.fixture
def assessed(engine):
    places = seed(engine)
    with session_scope(engine) as session:
        session.get(Place, places[STAFFORD]).name = HOSTILE
    aid = svc.create_draft(engine, OFFICER, places[STAFFORD], today=TODAY)
    form = complete_form()
    actions = (
        *form.actions,
        svc.ActionInput("Ask licensing to review hours", "Licensing team", date(2027, 3, 1)),
    )
    version = svc.save_draft(
        engine, OFFICER, aid, replace(form, actions=actions), expected_version=1, today=TODAY
    )
    ev.add_evidence(engine, OFFICER, aid, gps_jpeg(), caption="Broken lamp by the north gate")
    svc.submit(engine, OFFICER, aid, expected_version=version, today=TODAY)
    return aid


def test_pdf_holds_place_findings_risk_goals_actions_photos_and_history(engine, assessed):
    pdf = assessment_pdf_for(engine, LEAD, assessed, district_names=NAMES, today=TODAY)
    reader = PdfReader(io.BytesIO(pdf))
    words = text_of(pdf)
    for expected in (
        "Place assessment:",
        "Stafford",
        "Submitted",
        "High",  # overall risk
        "Make the park feel safe after dark.",
        "Groups gather late",  # a finding of the young people's domain
        "No wardens after 6pm",  # guardianship
        "Two lamps out",  # environment
        "Repair the lamps",
        "Staffordshire County Council",  # an action's owner
        "Ask licensing to review hours",
        "Licensing team",
        "Photo 1: Broken lamp by the north gate",
        "History of this place",
        "this one",
        "submit",  # the audit trail
    ):
        assert expected in words, expected
    images = [image for page in reader.pages for image in page.images]
    assert len(images) == 1  # the photo, drawn
    assert b"PhoneMaker" not in pdf  # the stripped photo, not the upload


def test_hostile_names_print_as_typed(engine, assessed):
    words = " ".join(
        text_of(
            assessment_pdf_for(engine, LEAD, assessed, district_names=NAMES, today=TODAY)
        ).split()
    )
    for piece in ("<b>Park</b>", "**bold**", "[link](http://evil.example)", '=HYPERLINK("x")'):
        assert piece in words, piece


def test_personal_details_are_withheld_from_the_paper_copy(engine):
    places = seed(engine)
    aid = svc.create_draft(engine, OFFICER, places[STAFFORD], today=TODAY)
    goals = "Make it safe. Call Amy Jones on 07700 900123 about it."
    svc.save_draft(
        engine, OFFICER, aid, complete_form(goals=goals), expected_version=1, today=TODAY
    )
    words = text_of(assessment_pdf_for(engine, LEAD, aid, district_names=NAMES, today=TODAY))
    # Control: the screen's check really finds it, and the rest of the goals prints.
    assert "Make it safe." in words
    assert "07700 900123" not in words and "[withheld: phone number]" in words


def test_only_those_who_may_open_the_assessment_may_print_it(engine, assessed):
    assert assessment_pdf_for(engine, OFFICER, assessed, district_names=NAMES, today=TODAY)
    with pytest.raises(AccessDenied):
        assessment_pdf_for(engine, OTHER_DISTRICT, assessed, district_names=NAMES, today=TODAY)


def test_the_download_is_audited_with_its_size(engine, assessed):
    download = downloader(
        engine,
        LEAD,
        lambda: assessment_pdf_for(engine, LEAD, assessed, district_names=NAMES, today=TODAY),
        entity="assessment",
        file_name=f"assessment-{assessed}-v3.pdf",
        detail={"assessment": assessed, "format": "pdf"},
    )
    payload = download()
    with session_scope(engine) as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id.desc())
        ).first()
        assert event.actor == "lead" and event.detail["bytes"] == len(payload)
        assert event.detail["format"] == "pdf"
