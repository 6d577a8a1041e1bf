"""Stay signed in (issue 23): a reload keeps the session; sign-out and expiry end it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from dashboard.session_cookie import _SALT, COOKIE
from services.users import session_epoch
from store.db import connect
from tests.e2e.conftest import sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

    from tests.e2e.conftest import AppServer

TIMEOUT_MS = 120_000


def _home(app_server: AppServer):
    if app_server.log_path is None:
        pytest.skip("needs the server these tests start (SAFER_SPACES_E2E_BASE_URL is set)")
    return app_server.log_path.parent


def _cookie(context: BrowserContext) -> dict | None:
    return next((c for c in context.cookies() if c["name"] == COOKIE), None)


def _wait_for_cookie(page: Page) -> None:
    page.wait_for_function(f"document.cookie.includes('{COOKIE}=')", timeout=TIMEOUT_MS)


def _signed_in(page: Page) -> None:
    from playwright.sync_api import expect

    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_role("button", name="Sign out")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_have_count(0)


def _signed_out(page: Page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out")).to_have_count(0)


def _forge(key: str, username: str, epoch: int, *, age_s: int) -> str:
    class Aged(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age_s

    serializer = URLSafeTimedSerializer(key, salt=_SALT, signer=Aged)
    return serializer.dumps({"u": username, "e": epoch})


def test_reload_keeps_the_session_and_sign_out_ends_it_in_every_tab(
    browser: Browser, app_server: AppServer
):
    home = _home(app_server)
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        first = context.new_page()
        sign_in(first, app_server.url, "officer")
        _wait_for_cookie(first)
        cookie = _cookie(context)
        assert cookie is not None and cookie["sameSite"] == "Strict" and cookie["expires"] > 0

        first.reload()
        _signed_in(first)  # a reload keeps the person signed in

        second = context.new_page()  # another tab of the same browser
        second.goto(app_server.url)
        _signed_in(second)

        first.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
        _signed_out(first)
        first.wait_for_function(f"!document.cookie.includes('{COOKIE}=')", timeout=TIMEOUT_MS)
        # Another browser still holding the old cookie: refused, the epoch moved on.
        context.add_cookies([cookie])
        assert _cookie(context) is not None
        second.reload()
        _signed_out(second)
    finally:
        context.close()
    assert (home / "session.key").is_file()


def test_an_expired_or_forged_cookie_is_refused(browser: Browser, app_server: AppServer):
    home = _home(app_server)
    key = (home / "session.key").read_text().strip() if (home / "session.key").exists() else None
    if key is None:  # the first test makes it; this one may run alone
        context = browser.new_context()
        page = context.new_page()
        sign_in(page, app_server.url, "viewer")
        _wait_for_cookie(page)
        context.close()
        key = (home / "session.key").read_text().strip()
    engine = connect(f"sqlite:///{home / 'e2e.db'}")
    epoch = session_epoch(engine, "viewer")
    engine.dispose()
    host = app_server.url.split("//", 1)[1].split(":", 1)[0]

    def visit(value: str) -> Page:
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        context.add_cookies([{"name": COOKIE, "value": value, "domain": host, "path": "/"}])
        page = context.new_page()
        page.goto(app_server.url)
        return page

    # Control: a cookie made the same way, issued a minute ago, signs the person in.
    fresh = visit(_forge(key, "viewer", epoch, age_s=60))
    _signed_in(fresh)
    fresh.context.close()
    for value in (
        _forge(key, "viewer", epoch, age_s=31 * 60),  # older than the 30-minute idle limit
        _forge("not the secret", "viewer", epoch, age_s=60),  # forged
        _forge(key, "viewer", epoch - 1 if epoch else epoch + 1, age_s=60),  # an old epoch
        _forge(key, "viewer", epoch, age_s=60)[:-2] + "xx",  # altered
    ):
        page = visit(value)
        _signed_out(page)
        page.context.close()
