"""The Map page draws its map in a real browser with no internet access."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Page

    from tests.e2e.conftest import AppServer, RequestLog

from tests.e2e.conftest import choose, settled, sign_in

MAP_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
MIN_DISTRICT_PATHS = 9  # the nine Staffordshire districts, at least
TIMEOUT_MS = 90_000


def test_map_page_draws_districts_offline(
    app_server: AppServer, page: Page, request_log: RequestLog, screenshot_dir: Path
) -> None:
    from playwright.sync_api import expect

    sign_in(page, app_server.url + "/", "lead")
    page.wait_for_selector(MAP_IFRAME, timeout=TIMEOUT_MS)
    frame = page.frame_locator(MAP_IFRAME)

    expect(frame.locator(".leaflet-pane").first).to_be_attached(timeout=TIMEOUT_MS)
    outlines = frame.locator("path.leaflet-interactive")
    expect(outlines.nth(MIN_DISTRICT_PATHS - 1)).to_be_attached(timeout=TIMEOUT_MS)
    assert outlines.count() >= MIN_DISTRICT_PATHS
    page.wait_for_timeout(1_500)  # let late images and fonts load before checking requests
    page.screenshot(path=screenshot_dir / "map.png")

    vendored = [url for url in request_log.urls if "/app/static/vendor/" in url]
    assert any(url.endswith("/leaflet/leaflet.js") for url in vendored), (
        "the map did not load the vendored Leaflet (is server.enableStaticServing on?)"
    )
    assert request_log.external() == []
    assert [url for url in request_log.failed if "/app/static/" in url] == []


def test_a_filter_change_is_kept_in_a_link_that_restores_it(
    app_server: AppServer, page: Page, request_log: RequestLog
) -> None:
    from playwright.sync_api import expect

    sign_in(page, app_server.url + "/", "lead")
    expect(page.get_by_text("Demonstration data")).to_be_visible(timeout=TIMEOUT_MS)
    incidents = page.locator('[data-testid="stMetricValue"]').first
    expect(incidents).to_be_visible(timeout=TIMEOUT_MS)
    settled(page, TIMEOUT_MS)  # the opening figure, not one drawn before the run ended
    before = incidents.inner_text()

    choose(page, "Period", "Last 12 months")  # by keyboard: the option list floats
    page.wait_for_url("**period=year**", timeout=TIMEOUT_MS)
    expect(incidents).not_to_have_text(before, timeout=TIMEOUT_MS)
    settled(page, TIMEOUT_MS)
    after = incidents.inner_text()

    sign_in(page, page.url, "lead")  # the copied link, opened afresh: a new session
    period = page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").first
    expect(period.locator("input")).to_have_value("Last 12 months", timeout=TIMEOUT_MS)
    expect(page.locator('[data-testid="stMetricValue"]').first).to_have_text(
        after, timeout=TIMEOUT_MS
    )
    assert request_log.external() == []

