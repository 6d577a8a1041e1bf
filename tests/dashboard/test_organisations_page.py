"""Data > Organisations through AppTest on the demo: the list, adding, renaming, retiring."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from services.organisations import list_organisations
from services.safe_text import plain_text
from store.db import connect
from tests.dashboard.test_roles import _as


def _tab(at: AppTest):
    return {t.label: t for t in at.tabs}["Organisations"]


def test_the_demo_owners_are_the_list_and_an_admin_adds_renames_and_retires(demo_database):
    at = _as("admin", "data.py")
    assert not at.exception, at.exception
    shown = _tab(at).dataframe[0].value
    assert {"Staffordshire Police", "Stafford Borough Council"} <= set(shown["name"])
    assert (shown["actions"] > 0).all()  # the demo's typed owners, each owning actions

    at.text_input(key="org_add_name").input("Tamworth Youth Service")
    at.text_input(key="org_add_contact").input("youth@tamworth.gov.uk")
    at.button(key="FormSubmitter:org_add-Add organisation").click().run()
    assert not at.exception, at.exception
    assert any("Added Tamworth Youth Service" in s.value for s in at.success)
    assert "Tamworth Youth Service" in set(_tab(at).dataframe[0].value["name"])

    at.text_input(key="org_add_name").input("tamworth youth service")
    at.button(key="FormSubmitter:org_add-Add organisation").click().run()
    assert any("already an organisation" in plain_text(e.value) for e in at.error)

    frame = list_organisations(connect(demo_database))
    org_id = int(frame.loc[frame["name"] == "Tamworth Youth Service", "id"].iloc[0])
    at.selectbox(key="org_change_id").set_value(org_id).run()
    at.text_input(key=f"org_change_name_{org_id}").input("Tamworth Youth and Play")
    at.checkbox(key=f"org_change_active_{org_id}").uncheck()
    at.button(key=f"FormSubmitter:org_change_{org_id}-Save changes").click().run()
    assert not at.exception, at.exception
    after = list_organisations(connect(demo_database)).set_index("id").loc[org_id]
    assert after["name"] == "Tamworth Youth and Play" and not after["active"]


def test_a_lead_has_no_organisations_tab(demo_database):
    at = _as("lead", "data.py")
    assert "Organisations" not in [t.label for t in at.tabs]
