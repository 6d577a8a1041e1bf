"""The served app warms its caches in the background once it has served a page."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from dashboard import timings
from tests.e2e.conftest import sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.e2e.conftest import AppServer

WAIT_S = 180


def test_the_app_warms_the_opening_views_after_its_first_page(
    app_server: AppServer, page: Page
) -> None:
    assert app_server.timings_path is not None, "needs the server these tests start"
    sign_in(page, app_server.url + "/", "viewer")
    deadline = time.monotonic() + WAIT_S
    pages: list[str] = []
    while time.monotonic() < deadline:
        if app_server.timings_path.exists():
            pages = [row[2] for row in timings.read(app_server.timings_path)]
            if "(warm-up)" in pages or "(warm-up failed)" in pages:
                break
        time.sleep(1)
    assert "(warm-up)" in pages, f"no warm-up finished in {WAIT_S} s; runs seen: {set(pages)}"
    assert "(warm-up failed)" not in pages, app_server.log_tail()
