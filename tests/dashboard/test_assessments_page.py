"""The Assessments page through AppTest on the demo: queue, form, submit, review, locking."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from data.demo import DEFAULT_AREA
from services.access import Viewer
from services.safe_text import plain_text
from tests.dashboard.conftest import APP

PAGE = str(Path(APP).parent / "pages" / "assessments.py")
# Cannock Chase, Stafford and Tamworth: with exact p-values and one place per incident, the
# demo's newly flagged place without an assessment (Castle View Hotel) is in Tamworth. It
# may be the only one, whatever month the demo ends in, so each test that starts a first
# assessment has a fresh copy of the demo (fresh_demo_database).
OFFICER = Viewer(
    "officer",
    "officer",
    ("E07000192", "E07000197", "E07000199"),
    "Stafford Borough Council",
    "Olu Officer",
)
LEAD = Viewer(
    "lead",
    "lead",
    DEFAULT_AREA,
    "Staffordshire County Council",
    "Lee Lead",
)


def page(viewer: Viewer) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.session_state["viewer"] = viewer
    at.run()
    assert not at.exception, at.exception
    return at


def errors(at: AppTest) -> list[str]:
    return [plain_text(e.value) for e in at.error]


def start_first_flagged(at: AppTest) -> str:
    """Start an assessment of the first flagged place without one; return its name."""
    table = at.dataframe[0].value
    unassessed = (table["state"] == "No assessment").to_numpy()
    assert unassessed.any(), f"no flagged place is waiting for a first assessment: {table}"
    row = int(unassessed.argmax())
    at.selectbox(key="assess_pick_flagged").select_index(row).run()
    at.button(key="assess_start").click().run()
    assert not at.exception, at.exception
    return plain_text(at.subheader[0].value)


def fill_complete(
    at: AppTest, aid: int, goals: str = "Make the place feel safe after dark."
) -> None:
    for item, score in (("peer_groups", 2), ("staff_presence", 3), ("lighting", 1)):
        at.selectbox(key=f"af{aid}.f.{item}.score").set_value(score)
        at.text_area(key=f"af{aid}.f.{item}.evidence").input(f"Evidence on {item}")
        at.text_input(key=f"af{aid}.f.{item}.source").input("Site visit")
        at.selectbox(key=f"af{aid}.f.{item}.reliability").set_value("high")
    at.text_input(key=f"af{aid}.partners").input("Staffordshire Police, Youth service")
    at.selectbox(key=f"af{aid}.overall_risk").set_value("high")
    at.text_area(key=f"af{aid}.goals").input(goals)
    at.text_input(key=f"af{aid}.a0.description").input("Repair the lamps on the main path")
    owner = at.selectbox(key=f"af{aid}.a0.owner")
    owner.select_index(owner.options.index("Staffordshire County Council"))
    at.date_input(key=f"af{aid}.a0.due_on").set_value(date.today() + timedelta(days=60))


def test_the_officer_sees_a_queue_of_their_districts(fresh_demo_database):
    at = page(OFFICER)
    assert [t.value for t in at.title] == ["Place assessments"]
    labels = [m.label for m in at.metric]
    assert labels[0] == "Flagged, no current assessment"
    assert int(at.metric[0].value) > 0
    table = at.dataframe[0].value  # the flagged places
    assert set(table["district"]) <= {"Cannock Chase", "Stafford", "Tamworth"}
    assert (table["state"] == "No assessment").any()
    assert len(table) == int(at.metric[0].value)
    assert at.button(key="assess_start").disabled


def test_officer_records_and_submits_then_lead_approves(fresh_demo_database):
    at = page(OFFICER)
    name = start_first_flagged(at)
    aid = at.session_state["assess_open"]
    assert any("not about children" in i.value for i in at.info)

    at.text_area(key=f"af{aid}.goals").input("A boy called Jayden Smith hangs around here")
    at.button(key=f"af{aid}.save").click().run()
    assert any("Draft saved" in s.value for s in at.success)
    assert any("looks like a name" in w.value for w in at.warning)

    at.button(key=f"af{aid}.submit").click().run()
    shown = " ".join(errors(at))
    assert "Nothing was saved" in shown
    assert "Choose the overall risk" in shown
    assert "Record at least one finding under Guardianship" in shown

    fill_complete(at, aid)
    at.button(key=f"af{aid}.submit").click().run()
    assert not at.exception, at.exception
    assert any("Submitted" in s.value for s in at.success), errors(at)
    assert "Submitted for review" in at.caption[0].value

    lead = AppTest.from_file(PAGE, default_timeout=180)
    lead.session_state["viewer"] = LEAD
    lead.run()
    lead.selectbox(key="assess_pick_submitted").set_value(aid).run()
    lead.button(key="assess_pick_submitted_open").click().run()
    assert plain_text(lead.subheader[0].value) == name
    lead.button(key=f"af{aid}.approve").click().run()
    assert not lead.exception, lead.exception
    assert "Approved" in lead.caption[0].value
    assert lead.get("download_button")  # the printable page


def test_returning_needs_a_comment(fresh_demo_database):
    at = page(OFFICER)
    start_first_flagged(at)
    aid = at.session_state["assess_open"]
    fill_complete(at, aid)
    at.button(key=f"af{aid}.submit").click().run()
    lead = page(LEAD)
    lead.session_state["assess_open"] = aid
    lead.run()
    lead.button(key=f"af{aid}.return").click().run()
    assert any("Say what needs to change" in e for e in errors(lead))
    lead.text_area(key=f"af{aid}.review_comment").input("Add the CCTV finding.")
    lead.button(key=f"af{aid}.return").click().run()
    assert "Returned for changes" in lead.caption[0].value

    at.session_state["assess_open"] = aid
    at.session_state[f"af{aid}.version"] = None
    at.run()
    assert any("Add the CCTV finding." in plain_text(w.value) for w in at.warning)
    assert at.button(key=f"af{aid}.submit")  # editable again


def test_a_stale_save_is_refused_with_a_reload_that_keeps_the_typing(fresh_demo_database):
    first = page(OFFICER)
    start_first_flagged(first)
    aid = first.session_state["assess_open"]
    second = page(OFFICER)
    second.session_state["assess_open"] = aid
    second.run()

    second.text_area(key=f"af{aid}.goals").input("Their goals")
    second.button(key=f"af{aid}.save").click().run()
    assert any("Draft saved" in s.value for s in second.success)

    first.text_area(key=f"af{aid}.goals").input("My goals, typed carefully")
    first.button(key=f"af{aid}.save").click().run()
    assert any("changed by officer" in e for e in errors(first))
    assert first.text_area(key=f"af{aid}.goals").value == "My goals, typed carefully"
    first.button(key=f"af{aid}.reload").click().run()
    assert first.text_area(key=f"af{aid}.goals").value == "Their goals"
    kept = first.dataframe[0].value  # "Your unsaved changes", above the form
    assert "My goals, typed carefully" in kept.to_string()


@pytest.mark.parametrize("viewer_role", ["viewer"])
def test_a_viewer_reads_but_cannot_start(demo_database, viewer_role):
    at = page(Viewer("v", viewer_role, OFFICER.districts))
    assert any("cannot" in i.value or "not record" in i.value for i in at.info)
    with pytest.raises(KeyError):
        at.selectbox(key="assess_pick_flagged")


def test_any_number_of_actions_with_owners_from_the_list(demo_database):
    at = page(OFFICER)
    table = at.dataframe[0].value  # a place never assessed, else one whose review is overdue
    fresh = table["state"].isin(["No assessment", "Review overdue"]).to_numpy()
    assert fresh.any()
    at.selectbox(key="assess_pick_flagged").select_index(int(fresh.argmax())).run()
    at.button(key="assess_start").click().run()
    aid = at.session_state["assess_open"]
    assert at.session_state[f"af{aid}.slots"] == [None, None, None]  # a new draft: 3 rows
    at.button(key=f"af{aid}.add_action").click().run()
    at.button(key=f"af{aid}.add_action").click().run()
    assert at.session_state[f"af{aid}.slots"] == [None] * 5
    owners = at.selectbox(key=f"af{aid}.a4.owner").options
    assert owners[0] == "Choose..."
    assert {"Staffordshire Police", "Stafford Borough Council"} <= set(owners)
    assert "Demo district officer (Stafford Borough Council)" in owners
    assert not any(o.startswith("Demo steering group member") for o in owners)  # cannot act
    for number in range(5):
        at.text_input(key=f"af{aid}.a{number}.description").input(f"Action number {number + 1}")
        box = at.selectbox(key=f"af{aid}.a{number}.owner")
        box.select_index(box.options.index("Staffordshire Police"))
        at.date_input(key=f"af{aid}.a{number}.due_on").set_value(
            date.today() + timedelta(days=10 + number)
        )
    at.button(key=f"af{aid}.save").click().run()
    assert not at.exception, at.exception
    assert any("Draft saved" in s.value for s in at.success), errors(at)
    from services import assessments as svc
    from store.db import connect

    stored = svc.load_assessment(connect(demo_database), OFFICER, aid).form.actions
    assert [a.owner_org for a in stored] == ["Staffordshire Police"] * 5
    assert len({a.owner for a in stored}) == 1 and stored[0].owner.startswith("org:")


def test_a_wide_scope_queue_flags_no_place_and_says_why(demo_database, monkeypatch):
    """More districts than ``WIDE_DISTRICTS`` (lowered to 2 here): the queue flags no place
    and says why, as the Map and the Meeting do (flagging all England per spot took the
    warm-up past 4 GB)."""
    import streamlit as st

    from services import reads

    st.cache_data.clear()
    try:
        spot = page(LEAD)
        monkeypatch.setattr(reads, "WIDE_DISTRICTS", 2)
        st.cache_data.clear()
        wide = page(LEAD)
    finally:
        st.cache_data.clear()
    waiting = "Flagged, no current assessment"
    assert int(next(m.value for m in spot.metric if m.label == waiting)) > 0  # the control
    assert int(next(m.value for m in wide.metric if m.label == waiting)) == 0
    assert reads.WIDE_QUEUE_FLAGS not in [plain_text(i.value) for i in spot.info]
    assert reads.WIDE_QUEUE_FLAGS in [plain_text(i.value) for i in wide.info]
