"""The MACE view in a real browser: a lead opens it and a cluster; an officer sees only
links of k or more young people (issue 19)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.e2e.conftest import choose, sign_in

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Browser, Page

    from tests.e2e.conftest import AppServer

TIMEOUT_MS = 120_000


def settle(page: Page) -> None:
    """Wait until Streamlit has finished the current run."""
    from playwright.sync_api import expect

    page.wait_for_timeout(300)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=TIMEOUT_MS)


def open_mace(page: Page, url: str, role: str) -> None:
    from playwright.sync_api import expect

    page.set_default_timeout(TIMEOUT_MS)
    sign_in(page, f"{url}/mace", role)
    expect(page.get_by_role("heading", name="MACE: links between places")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    expect(page.get_by_role("heading", name="Clusters, ranked")).to_be_visible(timeout=TIMEOUT_MS)
    settle(page)


def test_a_lead_opens_the_mace_view_and_a_cluster(
    page: Page, app_server: AppServer, screenshot_dir: Path
) -> None:
    from playwright.sync_api import expect

    open_mace(page, app_server.url, "lead")
    # the planted county line along the railway is a cluster across districts
    expect(page.get_by_text("a possible county line").first).to_be_visible()
    chart = page.get_by_test_id("stPlotlyChart")
    chart.first.scroll_into_view_if_needed()
    expect(chart.locator("text", has_text="Railway Station").first).to_be_attached(
        timeout=TIMEOUT_MS
    )
    # the peer group around a school and a park in Cannock, in one district
    choose(page, "Open a cluster", "Cluster 2")
    settle(page)
    expect(page.get_by_role("heading", name="Cluster 2", exact=True)).to_be_visible()
    expect(chart).to_have_count(1, timeout=TIMEOUT_MS)  # the last cluster's chart has gone
    chart.scroll_into_view_if_needed()
    expect(chart).to_be_visible()
    expect(chart.locator("text", has_text="Academy surroundings").first).to_be_attached(
        timeout=TIMEOUT_MS
    )
    expect(chart.locator("g.scatterlayer path.js-line").first).to_be_attached()
    expect(page.get_by_text("a possible county line")).to_have_count(0)
    for width, height in ((1366, 768), (1920, 1080)):
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(500)
        page.screenshot(path=screenshot_dir / f"mace-lead-{width}x{height}.png", full_page=True)


def test_an_officer_sees_only_links_of_k_or_more(
    browser: Browser, app_server: AppServer, screenshot_dir: Path
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    try:
        open_mace(page, app_server.url, "officer")
        expect(page.get_by_text("You see links shared by at least 5 young people")).to_be_visible()
        # the railway stations of Stoke and Tamworth are outside the officer's districts
        expect(page.get_by_text("Tamworth Railway Station")).to_have_count(0)
        page.screenshot(path=screenshot_dir / "mace-officer-1366x768.png", full_page=True)
    finally:
        context.close()
