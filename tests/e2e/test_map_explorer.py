"""The map explorer in a real browser: cells and places drawn, filters, the place panel.

A lead goes from opening the app to why a place was flagged in three clicks: sign in,
click a flagged place on the map, read the panel. Screenshots go to ``test-output/``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.e2e.conftest import DEMO_PASSWORD, choose, sign_in

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import FrameLocator, Locator, Page

    from tests.e2e.conftest import AppServer, RequestLog

MAP_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
TIMEOUT_MS = 120_000
HOT_99 = "#b2182b"
MARKER = ".leaflet-marker-pane .awesome-marker.leaflet-interactive"
CLUSTER = ".leaflet-marker-pane .place-cluster"  # several flagged places, numbered
PINS = f"{MARKER}, {CLUSTER}"


def _open_as_lead(page: Page, url: str) -> None:
    """Open a link and sign in as the demo lead (the shared helper, then a second look:
    on a cold server the form can appear after the helper has looked)."""
    from playwright.sync_api import expect

    sign_in(page, url, "lead")
    button = page.get_by_role("button", name="Sign in", exact=True)
    signed_in = page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out")
    expect(button.or_(page.locator(MAP_IFRAME)).first).to_be_visible(timeout=TIMEOUT_MS)
    # a stale copy of the form can linger for a moment after signing in: only a form
    # without a "Sign out" beside it is still waiting
    if button.is_visible() and not signed_in.is_visible():
        page.get_by_label("Username", exact=True).fill("lead")
        page.locator('input[type="password"]').fill(DEMO_PASSWORD)
        button.click()


def _map(page: Page) -> FrameLocator:
    """Wait for the map and its data layers; return the map's frame."""
    from playwright.sync_api import expect

    page.wait_for_selector(MAP_IFRAME, timeout=TIMEOUT_MS)
    frame = page.frame_locator(MAP_IFRAME)
    expect(frame.locator(PINS).first).to_be_attached(timeout=TIMEOUT_MS)
    expect(frame.locator(f'path[fill="{HOT_99}"]').first).to_be_attached(timeout=TIMEOUT_MS)
    return frame


def _places_drawn(frame: FrameLocator) -> int:
    """Flagged places on the map: single pins plus the numbers on the clusters."""
    counts = [int(t) for t in frame.locator(CLUSTER).all_inner_texts()]
    return frame.locator(MARKER).count() + sum(counts)


def _open_clusters(page: Page, frame: FrameLocator) -> None:
    """Click the clusters nearest the middle until single pins show."""
    for _ in range(8):
        if frame.locator(MARKER).count() > 0:
            return
        _central(frame, frame.locator(CLUSTER)).click(force=True)
        page.wait_for_timeout(800)


def _central(frame: FrameLocator, markers: Locator) -> Locator:
    """The marker nearest the middle of the map (clear of the legend and the controls)."""
    box = frame.locator(".leaflet-container").bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    def distance(i: int) -> float:
        b = markers.nth(i).bounding_box() or {"x": 1e9, "y": 1e9, "width": 0, "height": 0}
        return (b["x"] + b["width"] / 2 - cx) ** 2 + (b["y"] + b["height"] / 2 - cy) ** 2

    return markers.nth(min(range(markers.count()), key=distance))


def _flagged(page: Page) -> str:
    from playwright.sync_api import expect

    metric = page.get_by_test_id("stMetric").filter(has_text="Flagged places")
    expect(metric).to_be_visible(timeout=TIMEOUT_MS)
    return metric.get_by_test_id("stMetricValue").inner_text()


def test_the_map_draws_cells_and_places_and_a_click_opens_the_reason(
    app_server: AppServer, page: Page, request_log: RequestLog, screenshot_dir: Path
) -> None:
    from playwright.sync_api import expect

    _open_as_lead(page, app_server.url + "/")  # click 1: sign in
    frame = _map(page)
    assert _places_drawn(frame) > 10
    assert frame.locator(f'path[fill="{HOT_99}"]').count() > 10
    expect(frame.locator(".map-legend")).to_contain_text("Review overdue")
    expect(frame.locator(".leaflet-control-attribution")).to_contain_text("Crown copyright")
    expect(frame.locator(".leaflet-control-zoom-fullscreen")).to_be_attached()
    page.wait_for_timeout(1_000)
    page.screenshot(path=screenshot_dir / "map-explorer.png")

    _open_clusters(page, frame)
    _central(frame, frame.locator(MARKER)).click(force=True)  # click 2: a flagged place
    reason = page.get_by_text("Why it was flagged")  # the panel, with the engine's reason
    expect(reason).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_role("button", name="Start an assessment")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible(timeout=TIMEOUT_MS)
    page.wait_for_timeout(1_000)
    page.screenshot(path=screenshot_dir / "map-explorer-panel.png")
    assert request_log.external() == []


def test_changing_a_filter_changes_what_is_drawn(
    app_server: AppServer, page: Page, request_log: RequestLog
) -> None:
    from playwright.sync_api import expect

    _open_as_lead(page, app_server.url + "/")
    frame = _map(page)
    before_markers = _places_drawn(frame)
    before = _flagged(page)

    types = page.get_by_test_id("stSidebar").get_by_test_id("stMultiSelect").first
    types.click()
    page.get_by_role("option", name="Missing episode").click()
    page.keyboard.press("Escape")
    page.wait_for_url("**types=missing**", timeout=TIMEOUT_MS)
    metric = page.get_by_test_id("stMetric").filter(has_text="Flagged places")
    expect(metric.get_by_test_id("stMetricValue")).not_to_have_text(before, timeout=TIMEOUT_MS)
    for _ in range(60):  # the layers are swapped in the browser
        if _places_drawn(frame) != before_markers:
            break
        page.wait_for_timeout(1_000)
    assert _places_drawn(frame) != before_markers
    assert request_log.external() == []


def test_a_copied_link_restores_the_filters(
    app_server: AppServer, page: Page, request_log: RequestLog
) -> None:
    from playwright.sync_api import expect

    _open_as_lead(page, app_server.url + "/")
    _map(page)
    metric = page.get_by_test_id("stMetric").filter(has_text="Incidents in period")
    expect(metric).to_be_visible(timeout=TIMEOUT_MS)
    before = metric.get_by_test_id("stMetricValue").inner_text()
    choose(page, "Period", "Last 12 months")
    page.wait_for_url("**period=year**", timeout=TIMEOUT_MS)
    # the figure of the new period (reading it after a fixed wait read the old one when
    # the machine was busy)
    expect(metric.get_by_test_id("stMetricValue")).not_to_have_text(before, timeout=TIMEOUT_MS)
    incidents = metric.get_by_test_id("stMetricValue").inner_text()
    flagged = _flagged(page)
    link = page.url

    copy = page.context.new_page()  # the same browser: the link opened in a new tab
    copy.on("request", lambda req: request_log.urls.append(req.url))
    _open_as_lead(copy, link)
    period = copy.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").first
    expect(period.locator("input")).to_have_value("Last 12 months", timeout=TIMEOUT_MS)
    _map(copy)
    restored = copy.get_by_test_id("stMetric").filter(has_text="Incidents in period")
    expect(restored.get_by_test_id("stMetricValue")).to_have_text(incidents, timeout=TIMEOUT_MS)
    assert _flagged(copy) == flagged
    assert request_log.external() == []


def test_the_map_keeps_its_settings_while_other_pages_are_open(
    app_server: AppServer, page: Page, request_log: RequestLog
) -> None:
    """Streamlit forgets a widget's value while another page runs: the Map must not break
    on coming back (it did, with a KeyError), and must show the settings the lead left."""
    from playwright.sync_api import expect

    _open_as_lead(page, app_server.url + "/")
    _map(page)
    page.get_by_text("Map settings: hot spot confidence", exact=False).click()
    choose(page, "Flag a place with at least", "20 incidents")
    page.wait_for_url("**min=20**", timeout=TIMEOUT_MS)
    flagged = _flagged(page)

    nav = page.get_by_test_id("stSidebarNav")
    for name, heading in (("Assessments", "Place assessments"), ("Meeting", "Headline figures")):
        nav.get_by_role("link", name=name).click()
        expect(page.get_by_role("heading", name=heading).first).to_be_visible(timeout=TIMEOUT_MS)
    nav.get_by_role("link", name="Map").click()
    _map(page)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    assert _flagged(page) == flagged
    box = page.get_by_test_id("stSelectbox").filter(
        has=page.get_by_text("Flag a place with at least", exact=True)
    )
    expect(box.locator("input")).to_have_value("20 incidents", timeout=TIMEOUT_MS)
    assert request_log.external() == []
