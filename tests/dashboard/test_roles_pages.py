"""Who sees what on each page: the role x page matrix of test_roles.py through AppTest."""

from __future__ import annotations

import pandas as pd
import pytest

from services.safe_text import plain_text
from tests.dashboard.test_roles import OFFICER_DISTRICTS, PAGES, ROLES, _as, _audit, demo_viewer


def _small(values: pd.Series, k: int = 5) -> list:
    numbers = pd.to_numeric(values, errors="coerce")
    return values[(numbers > 0) & (numbers < k)].tolist()


# The pages, by role -----------------------------------------------------------------------


@pytest.mark.parametrize("page", ["places.py", "meeting.py"])
@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_places_and_meeting(demo_database, role, page):
    at = _as(role, page)
    assert not at.exception, at.exception
    assert at.title and at.dataframe


@pytest.mark.parametrize("role", ["officer", "viewer"])
def test_officers_and_viewers_never_reach_the_data_page(demo_database, role):
    at = _as(role)  # the whole app, on the Map: the navigation of the role is registered
    with pytest.raises(ValueError, match="Could not find a navigation page") as refused:
        at.switch_page(str(PAGES / "data.py"))
    assert (
        "places.py" in str(refused.value)
        and "pages/data.py'" not in str(refused.value).split("Known pages")[1]
    )


def test_a_lead_sees_the_data_page_without_the_admin_tabs(demo_database):
    at = _as("lead", "data.py")
    assert not at.exception, at.exception
    assert [t.label for t in at.tabs] == ["Boundaries", "Imports"]


def test_an_admin_sees_users_and_the_audit_log(demo_database):
    at = _as("admin", "data.py")
    assert not at.exception, at.exception
    labels = [t.label for t in at.tabs]
    assert labels[-4:] == ["Users", "Organisations", "Audit log", "Settings"]
    tabs = {t.label: t for t in at.tabs}
    users = tabs["Users"].dataframe[0].value
    assert set(ROLES) <= set(users["username"])
    audit = tabs["Audit log"].dataframe[0].value
    assert {"sign in", "add demo accounts"} & set(audit["action"])
    assert at.download_button(key="audit_csv").label.startswith("Download the audit log")


def test_an_admin_adds_a_user_on_the_users_tab(demo_database):
    at = _as("admin", "data.py")
    assert at.selectbox(key="user_add_role").value is None, "no role is chosen for the admin"
    at.text_input(key="user_add_username").input("new officer")
    at.text_input(key="user_add_name").input("New Officer")
    at.button(key="user_add_submit").click().run()
    refused = plain_text(" ".join(e.value for e in at.error))
    assert "is not an e-mail address" in refused and "choose the person's role" in refused
    at.text_input(key="user_add_username").input("New.Officer@lichfield.gov.uk")
    at.text_input(key="user_add_name").input("New Officer")
    at.selectbox(key="user_add_role").select("officer")
    at.multiselect(key="user_add_districts").select("E07000194")
    at.button(key="user_add_submit").click().run()
    assert not at.exception, at.exception
    assert "Added new.officer@lichfield.gov.uk" in plain_text(" ".join(s.value for s in at.success))
    assert demo_viewer("new.officer@lichfield.gov.uk").districts == ("E07000194",)


def test_an_officer_sees_only_their_districts_with_small_counts_hidden(demo_database):
    at = _as("officer", "places.py")
    table = at.dataframe[0].value
    assert set(table["District"]) == OFFICER_DISTRICTS
    counts = table["Incidents in period"]
    assert _small(counts) == []
    assert "<5" in set(counts), "no small count was hidden: the test shows nothing"
    lead = _as("lead", "places.py").dataframe[0].value
    assert len(set(lead["District"])) > 2
    assert _small(lead["Incidents in period"]), "the lead sees exact small counts"


def test_a_link_naming_another_district_is_refused_and_audited(demo_database):
    at = _as("officer", query={"districts": "E06000021"})
    message = plain_text(" ".join(e.value for e in at.error))
    assert "Stoke-on-Trent (E06000021)" in message and "does not cover" in message
    assert at.multiselect(key="f_districts").value == []
    assert set(at.multiselect(key="f_districts").options) == OFFICER_DISTRICTS
    assert _audit("refused district")[-1] == (
        "officer",
        {"districts": ["E06000021"], "from": "link"},
    )


def test_the_lead_may_follow_the_same_link(demo_database):
    at = _as("lead", query={"districts": "E06000021"})
    assert at.multiselect(key="f_districts").value == ["E06000021"]
    assert not [e for e in at.error if "does not cover" in e.value]
