"""Who sees what: the role x page x action matrix through AppTest and the service layer.

| role | pages | Data tabs | counts | districts |
| --- | --- | --- | --- | --- |
| lead | Map, Places, Assessments, Meeting, Data | Boundaries, Imports | exact | all |
| officer | Map, Places, Assessments, Meeting | none | small ones hidden | three districts |
| viewer | Map, Places, Assessments, Meeting | none | small ones hidden | all |
| admin | all five | Boundaries, Imports, Users, Audit log | exact | all |

Signing in and the idle clock here; the pages by role in test_roles_pages.py, the service
layer in test_roles_services.py (three files, so that the local loop's two workers share them).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from services.access import Viewer
from services.users import DEMO_PASSWORD, session_epoch, viewer_for
from store.db import connect
from store.models import AuditEvent
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
    """Run the app as ``role`` (None: nobody signed in), on ``page`` or the Map.

    The whole app runs (sign-in check, navigation by role, the page); a ``page`` is opened
    at once, as a link to it would (its file name is its address), not after the Map.
    """
    at = AppTest.from_file(APP, default_timeout=180)
    if role is not None:
        at.session_state["viewer"] = demo_viewer(role)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    if page is not None:
        at.switch_page(str(PAGES / page))
    at.run()
    if page is not None:
        assert at.title and at.title[0].value == PAGE_TITLES[page], "not the page asked for"
    return at


#: The title each page shows (what :func:`_as` checks it opened).
PAGE_TITLES = {
    "places.py": "Places",
    "meeting.py": "Steering group summary",
    "data.py": "Data",
    "assessments.py": "Place assessments",
    "mace.py": "MACE: links between places",
}


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


def _epoch(username: str) -> int | None:
    engine = _engine()
    try:
        return session_epoch(engine, username)
    finally:
        engine.dispose()


def _session_screen() -> None:
    """An AppTest script: the sign-in check, then the sign-in page or the sidebar's session."""
    from dashboard import auth, loaders

    engine = loaders.engine()
    viewer = auth.signed_in_viewer(engine)
    if viewer is None:
        auth.sign_in_page(engine, demo=False)
    else:
        auth.render_session(engine, viewer)


def _signed_in_screen(username: str) -> AppTest:
    at = AppTest.from_function(_session_screen, default_timeout=60)
    at.session_state["viewer"] = demo_viewer(username)
    at.run()
    assert [b.key for b in at.button] == ["sign_out"], "not signed in"
    return at


@pytest.mark.parametrize("clicked", [True, False], ids=["sign-out-click", "control-no-click"])
def test_a_sign_out_click_after_the_idle_limit_still_signs_out_everywhere(demo_database, clicked):
    """However long the screen was left, a click on "Sign out" signs the person out, and
    ends their other windows too. The control, a rerun with no click after the same idle
    time, is a time-out: it ends only this window and says why."""
    at = _signed_in_screen("viewer")
    epoch = _epoch("viewer")
    at.session_state["auth_last_activity"] = time.time() - 31 * 60
    if clicked:
        at.button(key="sign_out").click()
    at.run()
    assert not at.exception, at.exception
    notices = " ".join(i.value for i in at.info)
    assert ("You have signed out." in notices) is clicked
    assert ("without activity" in notices) is not clicked
    reason = "signed out" if clicked else "timed out"
    assert _audit("sign out")[-1] == ("viewer", {"reason": reason})
    assert _epoch("viewer") == (epoch + 1 if clicked else epoch)


def test_the_sign_out_notice_stays_until_someone_signs_in(demo_database):
    """A rerun of the sign-in page (a timer's, a widget's) keeps "You have signed out."."""
    at = _signed_in_screen("officer")
    at.button(key="sign_out").click().run()
    for _ in range(2):
        assert "You have signed out." in " ".join(i.value for i in at.info)
        at.run()
    at.text_input(key="signin_username").input("officer")
    at.text_input(key="signin_password").input(DEMO_PASSWORD)
    at.button(key="signin_submit").click().run()
    assert at.session_state["viewer"].username == "officer"
    assert "auth_notice" not in at.session_state


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
