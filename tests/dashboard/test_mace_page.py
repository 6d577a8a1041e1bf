"""The MACE page through AppTest on the demo: planted clusters, the officer's rule, the audit."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from data.demo import DEFAULT_AREA
from services.access import Viewer
from store.db import connect
from store.models import AuditEvent
from tests.dashboard.conftest import APP

PAGE = str(Path(APP).parent / "pages" / "mace.py")
LEAD = Viewer("mace.lead", "lead", DEFAULT_AREA)
OFFICER = Viewer("mace.officer", "officer", ("E07000192", "E07000197"))
CLUSTERS, PLACES, LINKS = 0, 1, 2  # the page's tables, in order


def page(viewer: Viewer) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.session_state["viewer"] = viewer
    at.run()
    assert not at.exception, at.exception
    return at


def audit(url: str, actor: str) -> list[AuditEvent]:
    engine = connect(url)
    with engine.connect() as connection:
        rows = connection.execute(
            select(AuditEvent.action, AuditEvent.detail).where(AuditEvent.actor == actor)
        ).all()
    engine.dispose()
    return rows


def test_a_lead_sees_the_planted_clusters_ranked_and_the_view_is_audited(demo_database):
    at = page(LEAD)
    clusters = at.dataframe[CLUSTERS].value
    assert len(clusters) >= 3
    assert (clusters["Possible county line"] == "yes").sum() >= 1  # the railway
    assert clusters["Rank"].tolist() == list(range(1, len(clusters) + 1))
    assert any("Cannock" not in s for s in clusters["Summary"])
    events = audit(demo_database, "mace.lead")
    assert [e.action for e in events] == ["view MACE links"]
    at.selectbox(key="mace_cluster").select_index(1).run()  # another cluster: not logged again
    assert not at.exception
    assert len(audit(demo_database, "mace.lead")) == 1


def test_an_officer_sees_only_links_of_k_or_more_in_their_districts(demo_database):
    lead = page(LEAD)
    lead_links = lead.dataframe[LINKS].value
    at = page(OFFICER)
    assert "at least 5 young people" in at.info[0].value
    clusters = at.dataframe[CLUSTERS].value
    shown = [int(v) for v in clusters["Young people"]]
    assert shown and min(shown) >= 5
    for index in range(len(clusters)):
        at.selectbox(key="mace_cluster").select_index(index).run()
        links = at.dataframe[LINKS].value
        assert all(int(v) >= 5 for v in links["Young people"])
    # the control: the lead's cluster does show a link under 5
    all_lead = []
    for index in range(len(lead.dataframe[CLUSTERS].value)):
        lead.selectbox(key="mace_cluster").select_index(index).run()
        all_lead += [int(v) for v in lead.dataframe[LINKS].value["Young people"]]
    assert min(all_lead) < 5 and len(lead_links)


def test_a_lead_records_a_panel_and_a_disruption_action(demo_database):
    at = page(LEAD)
    at.text_area(key="mace_orgs").input("Staffordshire Police\nStafford Borough Council")
    at.multiselect(key="mace_agenda").select(at.multiselect(key="mace_agenda").options[0])
    at.text_area(key="mace_decisions").input("Licensing review of the takeaway.")
    at.button[[b.label for b in at.button].index("Save the panel")].click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == ["The panel was saved."]
    at.selectbox(key="mace_kind").set_value("licensing_review")
    at.text_input(key="mace_action_text").input("Review the premises licence")
    at.text_input(key="mace_action_owner").input("Stafford Borough Council")
    at.button[[b.label for b in at.button].index("Add the action")].click().run()
    assert not at.exception, at.exception
    actions = at.dataframe[3].value
    assert actions["Kind"].tolist() == ["Licensing review"]
    assert actions["Outcome"].tolist() == ["Open"]
    # personal details are refused, and nothing is stored
    at.text_area(key="mace_orgs").input("Staffordshire Police")
    at.text_area(key="mace_decisions").input("Spoke to a girl called Amy Jones (aged 14)")
    at.button[[b.label for b in at.button].index("Save the panel")].click().run()
    assert any("looks like a name" in e.value for e in at.error)
