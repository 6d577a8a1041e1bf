"""Organisation sign-in end to end (issue 23): a real OpenID Connect provider on loopback.

``oidc-provider-mock`` runs a real provider (discovery, authorisation form, code
exchange, signed ID tokens) on 127.0.0.1; the app runs with an ``[auth]`` section naming
it, and Chromium goes through ``st.login``: the provider's form takes an e-mail address
(its ``sub``, given back as the ``email`` claim), the app maps it to a user's role and
districts, and signing out ends it. An unknown address and a user with no role are
refused with the page that says whom to ask.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from services.access import Viewer
from services.users import create_user
from store.db import connect
from tests.e2e.conftest import (
    APP_SCRIPT,
    REPO_ROOT,
    STARTUP_TIMEOUT_S,
    AppServer,
    free_port,
    stop,
    wait_until_healthy,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

TIMEOUT_MS = 120_000
OFFICER_EMAIL = "olu.officer@stafford.example.gov.uk"
NO_ROLE_EMAIL = "new.starter@stafford.example.gov.uk"


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    oidc_provider_mock = pytest.importorskip("oidc_provider_mock")
    with oidc_provider_mock.run_server_in_thread(port=free_port()) as server:
        yield f"http://127.0.0.1:{server.server_port}"


DATABASES: dict[str, Path] = {}
"""The database of each app server started here, by its address."""


def _serve(
    provider: str, home: Path, database: Path, **settings: str
) -> tuple[AppServer, subprocess.Popen[bytes]]:
    """Start the app with an ``[auth]`` section naming the provider; return it when it answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    secrets = home / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "{url}/oauth2callback"\n'
        'cookie_secret = "a test cookie secret that is long enough"\n'
        'client_id = "safer-spaces"\n'
        'client_secret = "safer-spaces-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n',
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "SAFER_SPACES_DATABASE_URL": f"sqlite:///{database}",
        "SAFER_SPACES_HOME": str(home),
        "SAFER_SPACES_WARM": "0",
        "SAFER_SPACES_MAP_TILES": "none",
        **settings,
    }
    command = [
        sys.executable, "-m", "streamlit", "run", APP_SCRIPT,
        "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.headless", "true", "--secrets.files", str(secrets),
    ]  # fmt: skip
    server = AppServer(url=url, log_path=home / "streamlit.log")
    DATABASES[url] = database
    with server.log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_until_healthy(url, process, server, STARTUP_TIMEOUT_S)
    except BaseException:
        stop(process)
        raise
    return server, process


@pytest.fixture(scope="module")
def oidc_app(provider: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    home = tmp_path_factory.mktemp("oidc-home")
    server, process = _serve(provider, home, home / "oidc.db")
    try:
        yield server
    finally:
        stop(process)


@pytest.fixture(scope="module")
def oidc_idle_app(
    provider: str, oidc_app: AppServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppServer]:
    """A second app on the same database whose idle limit is 6 seconds."""
    home = tmp_path_factory.mktemp("oidc-idle-home")
    server, process = _serve(
        provider, home, DATABASES[oidc_app.url], SAFER_SPACES_IDLE_MINUTES="0.1"
    )
    try:
        yield server
    finally:
        stop(process)


def _users(app: AppServer) -> None:
    engine = connect(f"sqlite:///{DATABASES[app.url]}")
    admin = Viewer("test-admin", "admin", ())
    from services.users import list_users

    known = set(list_users(engine, admin)["username"])
    if OFFICER_EMAIL not in known:
        create_user(
            engine, admin, username=OFFICER_EMAIL, display_name="Olu Officer", role="officer",
            districts=["E07000197"], organisation="Stafford Borough Council",
        )  # fmt: skip
        create_user(engine, admin, username=NO_ROLE_EMAIL, display_name="New Starter", role=None)
    engine.dispose()


def _provider_sign_in(page: Page, app: AppServer, email: str) -> None:
    from playwright.sync_api import expect

    page.goto(app.url)
    button = page.get_by_role("button", name="Sign in with your organisation")
    expect(button).to_be_visible(timeout=600_000)  # the first run builds the demo
    _users(app)  # the demo database exists once the app has answered
    button.click()
    page.locator('input[name="sub"]').fill(email, timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Authorize").click()


def _officer_signed_in(page: Page, app: AppServer) -> Locator:
    """Sign the officer in through the provider; return the sidebar once it names them."""
    from playwright.sync_api import expect

    _provider_sign_in(page, app, OFFICER_EMAIL)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text("Olu Officer")).to_be_visible(timeout=TIMEOUT_MS)
    return sidebar


def test_sign_in_maps_the_email_to_role_and_districts_then_sign_out(
    browser: Browser, oidc_app: AppServer
):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    try:
        sidebar = _officer_signed_in(page, oidc_app)
        expect(sidebar.get_by_text("District or borough council officer")).to_be_visible()
        nav = [t.strip() for t in page.get_by_test_id("stSidebarNav").all_inner_texts()]
        assert "Data" not in " ".join(nav)
        page.goto(f"{oidc_app.url}/assessments")
        expect(page.get_by_role("heading", name="Place assessments")).to_be_visible(
            timeout=TIMEOUT_MS
        )
        page.reload()  # Streamlit's identity cookie keeps the organisation's sign-in
        expect(sidebar.get_by_text("Olu Officer")).to_be_visible(timeout=TIMEOUT_MS)

        other = browser.new_context(viewport={"width": 1366, "height": 768})
        elsewhere = other.new_page()  # the same person in another browser
        _provider_sign_in(elsewhere, oidc_app, OFFICER_EMAIL)
        elsewhere_bar = elsewhere.get_by_test_id("stSidebar")
        expect(elsewhere_bar.get_by_text("Olu Officer")).to_be_visible(timeout=TIMEOUT_MS)

        page.wait_for_timeout(2_000)  # a sign-out a moment after the other sign-in
        with page.expect_navigation(timeout=TIMEOUT_MS):  # st.logout leaves the page
            sidebar.get_by_role("button", name="Sign out").click()
        page.goto(oidc_app.url)
        expect(page.get_by_role("button", name="Sign in with your organisation")).to_be_visible(
            timeout=TIMEOUT_MS
        )
        expect(sidebar.get_by_role("button", name="Sign out")).to_have_count(0)
        elsewhere.reload()  # its identity cookie is still there, but the person signed out
        expect(
            elsewhere.get_by_role("button", name="Sign in with your organisation")
        ).to_be_visible(timeout=TIMEOUT_MS)
        expect(elsewhere_bar.get_by_role("button", name="Sign out")).to_have_count(0)
        other.close()
    finally:
        context.close()


@pytest.mark.parametrize(
    ("email", "words"),
    [
        ("somebody.else@example.com", "Ask your administrator"),
        (NO_ROLE_EMAIL, "has no role yet"),
    ],
    ids=["unknown-email", "no-role"],
)
def test_unknown_email_and_no_role_are_refused_with_whom_to_ask(
    browser: Browser, oidc_app: AppServer, email: str, words: str
):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    try:
        _provider_sign_in(page, oidc_app, email)
        alert = page.get_by_role("alert").filter(has_text=words)
        expect(alert).to_be_visible(timeout=TIMEOUT_MS)
        expect(alert).to_contain_text("administrator")
        expect(
            page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out")
        ).to_have_count(0)
        expect(page.get_by_role("heading", name="Place assessments")).to_have_count(0)
    finally:
        context.close()


def test_a_timed_out_organisation_sign_in_is_not_restored_by_a_reload(
    browser: Browser, oidc_idle_app: AppServer
):
    """After the idle limit the identity cookie goes too: a reload asks for the sign-in.

    Control: with the sign-out's ``st.logout`` only on "Sign out" (as before), the
    reload signs the person straight back in from Streamlit's identity cookie.
    """
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    try:
        sidebar = _officer_signed_in(page, oidc_idle_app)
        # nothing is clicked: the timer ends the session after 6 seconds, and the sign-out
        # goes through the provider's end of session (the mock asks for a click there)
        page.wait_for_url("**/end_session**", timeout=TIMEOUT_MS)
        page.get_by_role("button", name="End session").click()
        expect(page.get_by_role("button", name="Sign in with your organisation")).to_be_visible(
            timeout=TIMEOUT_MS
        )
        page.reload()
        expect(page.get_by_role("button", name="Sign in with your organisation")).to_be_visible(
            timeout=TIMEOUT_MS
        )
        page.wait_for_timeout(3_000)  # a run that signed the person back in would show by now
        expect(sidebar.get_by_text("Olu Officer")).to_have_count(0)
        expect(sidebar.get_by_role("button", name="Sign out")).to_have_count(0)
    finally:
        context.close()
