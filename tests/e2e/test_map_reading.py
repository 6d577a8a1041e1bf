"""A map a safeguarding lead can read and act on, in a real browser with no internet.

The offline base layer (built-up areas and town names), flagged places clustered so none
hides another, finding a place or a postcode, a table row that zooms to its place, a link
that restores the open place and the view, the incident points switched on in a live map,
and the layout at 1366x768 and 800 px. Screenshots go to ``docs/screenshots/`` (the
documented sizes) and ``test-output/``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.e2e.conftest import DEMO_PASSWORD, REPO_ROOT, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Frame, FrameLocator, Page

    from tests.e2e.conftest import AppServer, RequestLog

MAP_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
TIMEOUT_MS = 120_000
MARKER = ".leaflet-marker-pane .awesome-marker"
CLUSTER = ".leaflet-marker-pane .place-cluster"
DOCS = REPO_ROOT / "docs" / "screenshots"
# A postcode in Hanley (Stoke-on-Trent), in the ONS Postcode Directory.
POSTCODE = "ST1 1HP"

# Elements whose text is wider than their box (cut off, or spilling out), in the page.
OVERFLOWING_TEXT = """() => {
    const out = [];
    for (const el of document.querySelectorAll("body *")) {
        if (el.closest("iframe, canvas, [data-testid='stDataFrame'], .stPlotlyChart")) continue;
        const own = Array.from(el.childNodes).some(
            (n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim().length > 0);
        if (!own) continue;
        const style = getComputedStyle(el);
        if (style.display === "none" || style.visibility === "hidden") continue;
        if (["auto", "scroll"].includes(style.overflowX)) continue;
        const clipped = (style.clip && style.clip !== "auto")
            || (style.clipPath && style.clipPath !== "none");
        if (clipped) continue;  // visually hidden on purpose
        if (el.clientWidth === 0) continue;
        const box = el.getBoundingClientRect();  // skip links and other off-screen helpers
        if (box.bottom <= 0 || box.right <= 0 || box.width <= 1 || box.height <= 1) continue;
        if (el.scrollWidth > el.clientWidth + 1) {
            out.push(el.tagName + ": " + el.textContent.trim().slice(0, 60));
        }
    }
    return out;
}"""


def _open(page: Page, url: str, username: str = "lead") -> None:
    from playwright.sync_api import expect

    sign_in(page, url, username)
    button = page.get_by_role("button", name="Sign in", exact=True)
    signed_in = page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out")
    expect(button.or_(page.locator(MAP_IFRAME)).first).to_be_visible(timeout=TIMEOUT_MS)
    if button.is_visible() and not signed_in.is_visible():
        page.get_by_label("Username", exact=True).fill(username)
        page.locator('input[type="password"]').fill(DEMO_PASSWORD)
        button.click()


def _frame_locator(page: Page) -> FrameLocator:
    from playwright.sync_api import expect

    page.wait_for_selector(MAP_IFRAME, timeout=TIMEOUT_MS)
    frame = page.frame_locator(MAP_IFRAME)
    expect(frame.locator(f"{CLUSTER}, {MARKER}").first).to_be_attached(timeout=TIMEOUT_MS)
    return frame


def _frame(page: Page) -> Frame:
    """The map's frame, to ask Leaflet for its view."""
    handle = page.locator(MAP_IFRAME).element_handle(timeout=TIMEOUT_MS)
    assert handle is not None
    frame = handle.content_frame()
    assert frame is not None
    return frame


def _view(page: Page) -> tuple[float, float, float]:
    """The map's centre and zoom, as Leaflet has them."""
    frame = _frame(page)
    frame.wait_for_function("() => window.map && window.map.getZoom", timeout=TIMEOUT_MS)
    lat, lon, zoom = frame.evaluate(
        "() => [map.getCenter().lat, map.getCenter().lng, map.getZoom()]"
    )
    return float(lat), float(lon), float(zoom)


def _wait_for_zoom(page: Page, at_least: float) -> None:
    _frame(page).wait_for_function(
        f"() => window.map && window.map.getZoom() >= {at_least}", timeout=TIMEOUT_MS
    )


def _idle(page: Page) -> None:
    """Wait until Streamlit has finished its runs (the header's "Stop" gone for 1.5 s)."""
    quiet = 0
    for _ in range(TIMEOUT_MS // 500):
        running = page.evaluate(
            """() => {
                const status = document.querySelector("[data-testid='stStatusWidget']");
                return !!status && /Stop|Running/.test(status.innerText);
            }"""
        )
        quiet = 0 if running else quiet + 1
        if quiet >= 3:
            return
        page.wait_for_timeout(500)
    raise AssertionError("the app kept running")


def _find(page: Page, text: str) -> None:
    """Type into the search box and pick what was typed (or the first match)."""
    box = page.get_by_test_id("stSelectbox").filter(
        has=page.get_by_text("Find a place or postcode", exact=True)
    )
    combobox = box.get_by_role("combobox")
    combobox.click()
    combobox.fill(text)
    option = page.get_by_role("option").filter(has_text=re.compile(re.escape(text), re.I))
    option.first.click()


def test_the_offline_base_layer_draws_towns_and_built_up_areas(
    app_server: AppServer, page: Page, request_log: RequestLog, screenshot_dir: Path
) -> None:
    from playwright.sync_api import expect

    _open(page, app_server.url + "/")
    frame = _frame_locator(page)
    areas = frame.locator(".leaflet-offlineBase-pane path")
    expect(areas.nth(19)).to_be_attached(timeout=TIMEOUT_MS)  # towns and villages
    labels = frame.locator(".leaflet-offlineLabels-pane .town-label")
    expect(labels.filter(has_text="Stafford").first).to_be_attached()
    expect(labels.filter(has_text="Hanley").first).to_be_visible()
    # the tiles are off here (SAFER_SPACES_MAP_TILES=none): nothing was asked of a tile server
    assert frame.locator(".leaflet-tile").count() == 0
    page.screenshot(path=screenshot_dir / "map-offline-base.png")
    assert request_log.external() == []


def test_flagged_places_are_clustered_so_none_hides_another(
    app_server: AppServer, page: Page, request_log: RequestLog
) -> None:
    from playwright.sync_api import expect

    _open(page, app_server.url + "/")
    frame = _frame_locator(page)
    clusters = frame.locator(CLUSTER)
    expect(clusters.first).to_be_visible(timeout=TIMEOUT_MS)
    counts = [int(t) for t in clusters.all_inner_texts()]
    assert counts and max(counts) > 1

    def centres() -> list[tuple[float, float]]:
        out = []
        for item in frame.locator(f"{CLUSTER}, {MARKER}").all():
            box = item.bounding_box()
            if box is not None and box["width"] > 0:
                out.append((box["x"] + box["width"] / 2, box["y"] + box["height"] / 2))
        return out

    def overlapping(points: list[tuple[float, float]]) -> int:
        return sum(
            1
            for i, a in enumerate(points)
            for b in points[i + 1 :]
            if abs(a[0] - b[0]) < 4 and abs(a[1] - b[1]) < 4
        )

    assert overlapping(centres()) == 0
    # the biggest cluster opens (zooming in, or spreading pins that share a spot)
    biggest = clusters.nth(counts.index(max(counts)))
    before = frame.locator(MARKER).count()
    for _ in range(6):
        if not biggest.is_visible():
            break
        biggest.click(force=True)
        page.wait_for_timeout(700)
        visible = frame.locator(CLUSTER)
        if visible.count() == 0:
            break
        texts = [int(t) for t in visible.all_inner_texts()]
        if not texts:  # the clusters were redrawn between the count and the read
            continue
        biggest = visible.nth(texts.index(max(texts)))
    assert frame.locator(MARKER).count() > before
    assert overlapping(centres()) == 0
    assert request_log.external() == []


def test_find_a_place_by_name_and_go_to_a_postcode(
    app_server: AppServer, page: Page, request_log: RequestLog
) -> None:
    from playwright.sync_api import expect

    _open(page, app_server.url + "/")
    _frame_locator(page)
    start = _view(page)
    table = page.get_by_test_id("stDataFrame").first
    expect(table).to_be_visible(timeout=TIMEOUT_MS)

    _find(page, POSTCODE)
    _wait_for_zoom(page, 15)
    lat, lon, zoom = _view(page)
    assert zoom >= 15 > start[2]
    assert 52.9 < lat < 53.1 and -2.25 < lon < -2.1  # Hanley

    _find(page, "Hanley Bus")  # part of a place's name: the first place that matches
    expect(page.get_by_role("button", name="Back to the flagged places")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    expect(page.get_by_test_id("stHeading").filter(has_text="Hanley Bus")).to_be_visible()
    page.wait_for_url(re.compile(r"place=\d+"), timeout=TIMEOUT_MS)
    assert request_log.external() == []


def test_a_row_zooms_to_its_place_and_the_link_restores_place_and_view(
    app_server: AppServer, page: Page, request_log: RequestLog, browser: Browser
) -> None:
    from playwright.sync_api import expect

    _open(page, app_server.url + "/")
    _frame_locator(page)
    table = page.get_by_test_id("stDataFrame").first
    expect(table).to_be_visible(timeout=TIMEOUT_MS)
    box = table.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 16, box["y"] + 35 + 17)  # the first row's selection box
    back = page.get_by_role("button", name="Back to the flagged places")
    expect(back).to_be_visible(timeout=TIMEOUT_MS)
    heading = page.get_by_test_id("stHeading").filter(has_text=re.compile(".")).last
    place_name = heading.inner_text()
    _wait_for_zoom(page, 15)
    lat, lon, zoom = _view(page)
    page.wait_for_url(re.compile(r"place=\d+"), timeout=TIMEOUT_MS)
    # the view in the link once the map has moved to the place (zoom 15 or more)
    page.wait_for_url(re.compile(r"view=[-\d.]+%2C[-\d.]+%2C1[5-8]"), timeout=TIMEOUT_MS)
    link = page.url

    copy = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
    copy.on("request", lambda req: request_log.urls.append(req.url))
    _open(copy, link)
    _frame_locator(copy)
    expect(copy.get_by_role("button", name="Back to the flagged places")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    expect(copy.get_by_test_id("stHeading").filter(has_text=place_name).first).to_be_visible()
    _wait_for_zoom(copy, zoom - 0.01)
    lat2, lon2, zoom2 = _view(copy)
    assert zoom2 == pytest.approx(zoom, abs=0.01)
    assert lat2 == pytest.approx(lat, abs=0.002) and lon2 == pytest.approx(lon, abs=0.002)
    copy.context.close()
    assert request_log.external() == []


def test_incident_points_switched_on_in_a_live_map_are_drawn(
    app_server: AppServer, page: Page, request_log: RequestLog
) -> None:
    from playwright.sync_api import expect

    _open(page, app_server.url + "/")
    frame = _frame_locator(page)
    assert frame.locator(".marker-cluster").count() == 0
    page.get_by_role("toolbar", name="Layers").get_by_role("button", name="Incident points").click()
    page.wait_for_url("**layers=**points**", timeout=TIMEOUT_MS)
    expect(frame.locator(".leaflet-marker-pane .marker-cluster").first).to_be_visible(
        timeout=TIMEOUT_MS
    )
    expect(frame.locator(".map-legend")).to_contain_text("Incident points")
    assert request_log.external() == []


def test_the_legend_folds_and_lists_only_the_layers_shown(
    app_server: AppServer, page: Page, request_log: RequestLog
) -> None:
    from playwright.sync_api import expect

    _open(page, app_server.url + "/")
    frame = _frame_locator(page)
    legend = frame.locator(".map-legend")
    if "folded" in (legend.get_attribute("class") or ""):
        legend.locator(".map-legend-toggle").click()
    expect(legend).to_contain_text("Hot and cold spots")
    expect(legend).to_contain_text("Flagged places")
    expect(legend.get_by_text("Density", exact=True)).to_be_hidden()
    legend.locator(".map-legend-toggle").click()
    expect(legend.locator(".map-legend-body")).to_be_hidden()
    assert request_log.external() == []


# The pages a lead reads the map's findings on: (URL path, what shows once it has drawn).
PAGES = {
    "map": ("/", "map"),
    "places": ("/places", "Places"),
    "mace": ("/mace", "Clusters, ranked"),
}
SIZES = [(1366, 768), (1920, 1080)]


def _drawn(page: Page, name: str) -> None:
    """Wait until the page has drawn what it shows, and Streamlit is idle."""
    from playwright.sync_api import expect

    page.set_default_timeout(TIMEOUT_MS)
    if name == "map":
        _frame_locator(page)
        expect(page.get_by_test_id("stMetric").first).to_be_visible(timeout=TIMEOUT_MS)
    else:
        heading = PAGES[name][1]
        expect(page.get_by_role("heading", name=heading).first).to_be_visible(timeout=TIMEOUT_MS)
    _idle(page)
    page.wait_for_timeout(1_000)  # fonts and the map's own layout


def _figures_whole(page: Page) -> None:
    """Every headline figure shows in full (no "2,…")."""
    for value in page.get_by_test_id("stMetricValue").all():
        inner = value.evaluate("(el) => [el.scrollWidth, el.clientWidth, el.innerText]")
        assert inner[0] <= inner[1] + 1, f"the figure {inner[2]!r} is cut off"
        assert "…" not in inner[2], f"the figure {inner[2]!r} is cut off"


@pytest.mark.parametrize("name", list(PAGES))
@pytest.mark.parametrize(("width", "height"), SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_nothing_is_cut_off(
    app_server: AppServer,
    browser: Browser,
    request_log: RequestLog,
    screenshot_dir: Path,
    width: int,
    height: int,
    name: str,
) -> None:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.on("request", lambda req: request_log.urls.append(req.url))
    try:
        sign_in(page, app_server.url + PAGES[name][0], "lead")
        _drawn(page, name)
        overflowing = page.evaluate(OVERFLOWING_TEXT)
        page.screenshot(path=screenshot_dir / f"{name}-{width}x{height}.png")
        if name == "map":
            DOCS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=DOCS / f"map-{width}x{height}.png")
        assert overflowing == [], overflowing
        _figures_whole(page)
    finally:
        context.close()
    assert request_log.external() == []


def test_the_overflow_check_sees_text_cut_off(
    app_server: AppServer, browser: Browser, request_log: RequestLog
) -> None:
    """The control: a label squeezed into a narrow box is reported."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    try:
        sign_in(page, app_server.url + "/places", "lead")
        _drawn(page, "places")
        assert page.evaluate(OVERFLOWING_TEXT) == []
        page.get_by_test_id("stMetricLabel").first.locator("p").first.evaluate(
            "(el) => { el.style.display = 'block'; el.style.minWidth = '0';"
            " el.style.maxWidth = '12px'; el.style.whiteSpace = 'nowrap';"
            " el.style.overflow = 'hidden'; el.style.textOverflow = 'ellipsis'; }"
        )
        assert page.evaluate(OVERFLOWING_TEXT) != []
    finally:
        context.close()


def test_at_800_px_the_sidebar_folds_and_the_figures_wrap(
    app_server: AppServer, browser: Browser, request_log: RequestLog, screenshot_dir: Path
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 800, "height": 900})
    page = context.new_page()
    page.on("request", lambda req: request_log.urls.append(req.url))
    try:
        _open(page, app_server.url + "/")
        _drawn(page, "map")
        sidebar = page.get_by_test_id("stSidebar")
        right_edge = "(el) => el.getBoundingClientRect().right"
        if sidebar.evaluate(right_edge) > 10:  # open: fold it (its button shows on hover)
            sidebar.hover()
            page.get_by_role("button", name="Collapse sidebar").click()
        expect(page.get_by_role("button", name="Expand sidebar")).to_be_visible(timeout=TIMEOUT_MS)
        page.wait_for_function(  # the page takes the room the sidebar left
            "() => document.querySelector(\"[data-testid='stMain']\")"
            ".getBoundingClientRect().left < 50",
            timeout=TIMEOUT_MS,
        )
        _idle(page)
        page.wait_for_timeout(1_000)  # the map takes the room the sidebar left
        main = page.get_by_test_id("stMain").bounding_box()
        assert main is not None and main["x"] < 50 and main["width"] > 700, main
        # the figures stay on the screen (wrapping onto another line when they must), whole
        boxes = [b for b in (m.bounding_box() for m in page.get_by_test_id("stMetric").all()) if b]
        assert len(boxes) == 4 and all(b["x"] + b["width"] <= 800 for b in boxes), boxes
        _figures_whole(page)
        assert page.evaluate(OVERFLOWING_TEXT) == []
        # nothing wider than the screen: no sideways scrolling
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 800
        map_box = page.locator(MAP_IFRAME).bounding_box()
        assert map_box is not None and map_box["x"] + map_box["width"] <= 800
        page.screenshot(path=screenshot_dir / "map-800x900.png")
    finally:
        context.close()
    assert request_log.external() == []


def test_the_map_downloads_as_a_png_of_the_view(
    app_server: AppServer, page: Page, request_log: RequestLog, screenshot_dir: Path
) -> None:
    _open(page, app_server.url + "/")
    _frame_locator(page)
    _idle(page)
    with page.expect_download(timeout=TIMEOUT_MS) as download:
        page.get_by_role("button", name="Download map as PNG").click()
    path = screenshot_dir / "map-download.png"
    download.value.save_as(path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000  # a drawn map, not an empty picture
    assert request_log.external() == []


# The flagged table's cells are drawn on a canvas: a reason cut at the column's edge or
# below the row leaves no trace in the page. Its text is read from the grid's accessible
# table (one row of cells per visible row), laid out as the grid lays it out (words wrapped
# to the column's width less its padding, 1.4 lines of the 14 px font each) and measured
# with the grid's own font.
CELLS_CUT = """([placePx, whyPx, rowPx, markerPx]) => {
    const grid = [...document.querySelectorAll("[data-testid='stDataFrame']")].find(
        (el) => [...el.querySelectorAll("th")].some((th) => th.innerText.trim() === "Why"));
    if (!grid) return ["no flagged table"];
    const styled = grid.querySelector("[style*='--gdg-font-family']");
    const css = getComputedStyle(styled);
    const size = parseFloat(css.getPropertyValue("--gdg-base-font-style").split(" ").pop());
    const pad = parseFloat(css.getPropertyValue("--gdg-cell-horizontal-padding"));
    const vpad = parseFloat(css.getPropertyValue("--gdg-cell-vertical-padding"));
    const ctx = document.createElement("canvas").getContext("2d");
    ctx.font = css.getPropertyValue("--gdg-base-font-style") + " "
        + css.getPropertyValue("--gdg-font-family");
    const lines = (text, width) => {
        let count = 1, line = "";
        for (const word of text.split(/\\s+/)) {
            const next = line ? line + " " + word : word;
            if (ctx.measureText(next).width <= width) { line = next; continue; }
            if (line) count += 1;
            line = word;
            while (ctx.measureText(line).width > width) {  // a word wider than the column
                let cut = line.length;
                while (cut > 1 && ctx.measureText(line.slice(0, cut)).width > width) cut -= 1;
                line = line.slice(cut);
                count += 1;
            }
        }
        return count;
    };
    const out = [];
    const box = grid.getBoundingClientRect();
    if (markerPx + placePx + whyPx > box.width) {
        out.push(`the Why column ends at ${markerPx + placePx + whyPx} px, the table at `
            + `${Math.round(box.width)} px`);
    }
    const scroller = grid.querySelector(".dvn-scroller");
    if (scroller.scrollWidth > scroller.clientWidth + 1) {
        out.push(`a sideways scroll: ${scroller.scrollWidth} px of columns in `
            + `${scroller.clientWidth} px`);
    }
    const names = [...grid.querySelectorAll("th")].map((th) => th.innerText.trim());
    for (const name of names.filter((n) => n && !["Place", "Why"].includes(n))) {
        out.push(`a column past Why, cut at the right: ${name}`);
    }
    const column = (name) => [...grid.querySelectorAll("th")].find(
        (th) => th.innerText.trim() === name).getAttribute("aria-colindex");
    const widths = {[column("Place")]: placePx, [column("Why")]: whyPx};
    const seen = new Set();
    for (let top = 0; ; top += rowPx * 4) {
        scroller.scrollTop = top;
        scroller.dispatchEvent(new Event("scroll"));
        for (const td of grid.querySelectorAll("td")) {
            const width = widths[td.getAttribute("aria-colindex")];
            if (!width || seen.has(td.id)) continue;
            seen.add(td.id);
            const n = lines(td.innerText.trim(), width - 2 * pad);
            if (size + 1.4 * size * (n - 1) + vpad > rowPx) {
                out.push(`${n} lines do not fit a ${rowPx} px row: ${td.innerText.trim()}`);
            }
        }
        if (top + scroller.clientHeight >= scroller.scrollHeight) break;
    }
    scroller.scrollTop = 0;
    if (seen.size < 4) out.push(`only ${seen.size} cells read`);
    return out;
}"""
ROW_MARKER_PX = 33  # the grid's column of selection boxes, with its border


@pytest.mark.parametrize(("width", "height"), [(1366, 768), (1920, 1080)], ids=["1366", "1920"])
def test_every_column_of_the_flagged_table_reads_in_full(
    app_server: AppServer, browser: Browser, request_log: RequestLog, width: int, height: int
) -> None:
    """Every cell of every column (the place with its kind and assessment, the reason)
    fits its row, and no column runs past the table's right edge (no sideways scroll)."""
    from playwright.sync_api import expect

    from dashboard.flag_table import PLACE_PX, ROW_PX, WHY_PX

    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.on("request", lambda req: request_log.urls.append(req.url))
    try:
        sign_in(page, app_server.url + "/", "lead")
        _drawn(page, "map")
        table = page.get_by_test_id("stDataFrame").filter(has=page.locator("th", has_text="Why"))
        expect(table.first).to_be_visible(timeout=TIMEOUT_MS)
        table.first.scroll_into_view_if_needed()
        page.wait_for_timeout(500)  # the grid's cells after the scroll
        assert page.evaluate(CELLS_CUT, [PLACE_PX, WHY_PX, ROW_PX, ROW_MARKER_PX]) == []
        # the control: the same reasons or places in a narrower column, or in one-line
        # rows, are cut, and columns wider than the table are caught
        assert page.evaluate(CELLS_CUT, [PLACE_PX, WHY_PX // 2, ROW_PX, ROW_MARKER_PX]) != []
        assert page.evaluate(CELLS_CUT, [PLACE_PX // 2, WHY_PX, ROW_PX, ROW_MARKER_PX]) != []
        assert page.evaluate(CELLS_CUT, [PLACE_PX, WHY_PX, 35, ROW_MARKER_PX]) != []
        assert page.evaluate(CELLS_CUT, [PLACE_PX, 400, ROW_PX, ROW_MARKER_PX]) != []
    finally:
        context.close()
    assert request_log.external() == []
