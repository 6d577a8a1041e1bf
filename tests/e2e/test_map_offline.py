"""The Map page draws its map in a real browser with no internet access."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Page

    from tests.e2e.conftest import AppServer, RequestLog

MAP_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
MIN_DISTRICT_PATHS = 9  # the nine Staffordshire districts, at least
TIMEOUT_MS = 90_000


def test_map_page_draws_districts_offline(
    app_server: AppServer, page: Page, request_log: RequestLog, screenshot_dir: Path
) -> None:
    from playwright.sync_api import expect

    page.goto(app_server.url + "/")
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
