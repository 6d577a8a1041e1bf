"""Who sees what: the role x page x action matrix through AppTest and the service layer.

| role | pages | Data tabs | counts | districts |
| --- | --- | --- | --- | --- |
| lead | Map, Places, Assessments, Meeting, Data | Boundaries, Imports | exact | all |
| officer | Map, Places, Assessments, Meeting | none | small ones hidden | three districts |
| viewer | Map, Places, Assessments, Meeting | none | small ones hidden | all |
| admin | all five | Boundaries, Imports, Users, Audit log | exact | all |
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
import pytest
import shapely
from sqlalchemy import insert, select
from streamlit.testing.v1 import AppTest

from services.access import AccessDenied, Viewer
from services.disclosure import set_disclosure_k
from services.safe_text import plain_text
from services.users import (
    DEMO_PASSWORD,
    audit_log,
    create_user,
    ensure_demo_users,
    list_users,
    update_user,
    viewer_for,
)
from store.db import connect
from store.models import AuditEvent, District
from tests.dashboard.conftest import APP

ROLES = ("lead", "officer", "viewer", "admin")
OFFICER_DISTRICTS = {"Cannock Chase", "Stafford", "Tamworth"}
PAGES = Path(APP).parent / "pages"


def _engine():
    return connect(os.environ["SAFER_SPACES_DATABASE_URL"], create=False)


def demo_viewer(username: str) -> Viewer:
    """Return the demo account's Viewer from the demo database (``demo_database`` fixture)."""
    engine = _engine()
    try:
        return viewer_for(engine, username)
    finally:
        engine.dispose()


def _audit(action: str) -> list[tuple[str, dict]]:
    engine = _engine()
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(AuditEvent.actor, AuditEvent.detail)
                .where(AuditEvent.action == action)
                .order_by(AuditEvent.id)
            ).all()
    finally:
        engine.dispose()
    return [tuple(r) for r in rows]


def _as(role: str | None, page: str | None = None, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    if role is not None:
        at.session_state["viewer"] = demo_viewer(role)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    if page is not None:
        at.switch_page(str(PAGES / page))
        at.run()
    return at


def _small(values: pd.Series, k: int = 5) -> list:
    numbers = pd.to_numeric(values, errors="coerce")
    return values[(numbers > 0) & (numbers < k)].tolist()


# Signing in -----------------------------------------------------------------------------


def test_nobody_signed_in_gets_the_sign_in_page_naming_the_demo_accounts(demo_database):
    at = _as(None)
    assert not at.exception, at.exception
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert [b.label for b in at.button] == ["Sign in"]
    assert [t.value for t in at.title] == ["Safer Spaces"]
    assert not at.metric and not at.dataframe, "data shown before sign-in"
    note = " ".join(i.value for i in at.info)
    assert all(name in note for name in ROLES) and DEMO_PASSWORD in note


def test_with_an_auth_section_the_organisation_sign_in_is_offered(demo_database):
    at = AppTest.from_file(APP, default_timeout=180)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback"}
    at.run()
    assert not at.exception, at.exception
    assert [b.label for b in at.button] == ["Sign in with your organisation"]
    assert not at.text_input, "the local password form is shown beside the organisation's"


@pytest.mark.parametrize("role", ROLES)
def test_each_demo_account_signs_in_through_the_form(demo_database, role):
    at = _as(None)
    at.text_input(key="signin_username").input(role)
    at.text_input(key="signin_password").input(DEMO_PASSWORD)
    at.button(key="signin_submit").click().run()
    assert not at.exception, at.exception
    viewer = at.session_state["viewer"]
    assert (viewer.username, viewer.role) == (role, role)
    assert not at.text_input, "the sign-in form is still shown"


def test_a_wrong_password_is_refused_on_the_page(demo_database):
    at = _as(None)
    at.text_input(key="signin_username").input("officer")
    at.text_input(key="signin_password").input("safer-spaces-guess")
    at.button(key="signin_submit").click().run()
    assert "not right" in " ".join(e.value for e in at.error)
    assert "viewer" not in at.session_state


def test_demo_accounts_switched_off_are_refused_and_not_named(demo_database, monkeypatch):
    monkeypatch.setenv("SAFER_SPACES_DEMO_ACCOUNTS", "0")
    at = _as(None)
    assert DEMO_PASSWORD not in " ".join(i.value for i in at.info)
    at.text_input(key="signin_username").input("lead")
    at.text_input(key="signin_password").input(DEMO_PASSWORD)
    at.button(key="signin_submit").click().run()
    assert "switched off" in " ".join(e.value for e in at.error)


def test_an_idle_session_returns_to_sign_in_with_a_message(demo_database):
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["viewer"] = demo_viewer("officer")
    at.session_state["auth_last_activity"] = time.time() - 31 * 60
    at.run()
    assert not at.exception, at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert "without activity" in " ".join(i.value for i in at.info)
    assert "viewer" not in at.session_state
    assert _audit("sign out")[-1] == ("officer", {"reason": "timed out"})


def test_an_active_session_stays_signed_in(demo_database):
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["viewer"] = demo_viewer("officer")
    at.session_state["auth_last_activity"] = time.time() - 29 * 60
    at.run()
    assert at.session_state["viewer"].username == "officer"
    assert at.session_state["auth_last_activity"] > time.time() - 60


def _slow_screen(seconds: float, stamp_when_drawn: bool) -> None:
    """An AppTest script: the sign-in check, a screen that takes ``seconds`` to draw."""
    import time

    from dashboard import auth, loaders

    if auth.signed_in_viewer(loaders.engine()) is None:
        return
    time.sleep(seconds)
    if stamp_when_drawn:
        auth.drawn()


@pytest.mark.parametrize("stamp", [True, False], ids=["clock-after-drawing", "control"])
def test_a_page_slower_than_the_idle_limit_does_not_end_the_session(
    demo_database, monkeypatch, stamp
):
    """The idle clock starts when the screen is drawn: waiting for a page is not idleness.

    The control starts the clock when the run began (as before): the next click then
    finds the session idle and signs the person out.
    """
    monkeypatch.setenv("SAFER_SPACES_IDLE_MINUTES", "0.05")  # 3 s
    at = AppTest.from_function(_slow_screen, args=(4.0, stamp), default_timeout=60)
    at.session_state["viewer"] = demo_viewer("officer")
    at.run()  # drawing takes 4 s, longer than the idle limit
    at.run()  # at once, as the person's next click
    assert not at.exception, at.exception
    assert ("viewer" in at.session_state) is stamp


def test_the_app_starts_the_idle_clock_once_the_page_is_drawn():
    """The app calls ``auth.drawn`` after the page has run, whatever the page did."""
    source = Path(APP).read_text()
    run = source[source.index("def run()") :]
    assert "page.run()" in run and "finally:\n        auth.drawn()" in run


def test_the_sidebar_names_who_is_signed_in(demo_database):
    at = _as("officer")
    text = " ".join(m.value for m in at.sidebar.markdown)
    assert "Demo district officer" in text and "District or borough council officer" in text


# The pages, by role -----------------------------------------------------------------------


@pytest.mark.parametrize("page", ["places.py", "meeting.py"])
@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_places_and_meeting(demo_database, role, page):
    at = _as(role, page)
    assert not at.exception, at.exception
    assert at.title and at.dataframe


@pytest.mark.parametrize("role", ["officer", "viewer"])
def test_officers_and_viewers_never_reach_the_data_page(demo_database, role):
    at = _as(role)
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


# The service layer, on both databases -------------------------------------------------------

CODES = ("E07000192", "E07000197", "E06000021")


@pytest.fixture
def accounts(engine):
    square = shapely.to_wkb(shapely.box(0, 0, 1, 1))
    with engine.begin() as connection:
        connection.execute(
            insert(District),
            [{"code": c, "name": c, "source": "test", "geometry_wkb": square} for c in CODES],
        )
    ensure_demo_users(engine)
    return {role: viewer_for(engine, role) for role in ROLES}


ACTIONS = {
    "add a user": lambda e, v: create_user(e, v, username="x", display_name="x", role="viewer"),
    "change a role": lambda e, v: update_user(e, v, "viewer", role="officer"),
    "list users": lambda e, v: list_users(e, v),
    "read the audit log": lambda e, v: audit_log(e, v),
    "change k": lambda e, v: set_disclosure_k(e, 7, viewer=v),
    "read Stoke-on-Trent": lambda e, v: v.scope(["E06000021"]),
    "read Stafford": lambda e, v: v.scope(["E07000197"]),
}
ALLOWED = {
    "lead": {"read Stoke-on-Trent", "read Stafford"},
    "officer": {"read Stafford"},
    "viewer": {"read Stoke-on-Trent", "read Stafford"},
    "admin": set(ACTIONS),
}


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("role", ROLES)
def test_the_service_layer_enforces_the_role_matrix(engine, accounts, role, action):
    call = ACTIONS[action]
    if action in ALLOWED[role]:
        call(engine, accounts[role])
    else:
        with pytest.raises(AccessDenied):
            call(engine, accounts[role])
