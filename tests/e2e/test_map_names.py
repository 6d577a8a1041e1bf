"""Area names on the map keep out of each other's way, in Debian's Chromium.

All England's 296 district names, written at once, overlapped into a grey smear at the
national zoom. ``maps.add_area_labels`` now hides a name that would overlap a larger
area's, at each zoom. The map here is the app's own offline map with 64 small areas
packed close together, served on the app's origin so that the vendored Leaflet loads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
from shapely.geometry import box

from dashboard import maps

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.e2e.conftest import AppServer

TIMEOUT_MS = 30_000
SIDE = 8  # 8 x 8 areas packed together

_RECTS = """() => Array.from(document.querySelectorAll(".area-label")).map(label => {
    const r = label.getBoundingClientRect();
    return [r.left, r.top, r.right, r.bottom, getComputedStyle(label).visibility !== "hidden"];
})"""


def _areas() -> gpd.GeoDataFrame:
    """64 squares 200 m apart in Stafford and two 10 km away, named ``Area number n``.

    The far two set the fitted zoom, at which the 64 names overlap; zoomed in four
    times on the middle, there is room for every name.
    """
    cells, names = [], []
    for i in range(SIDE * SIDE):
        x, y = 392_000 + 200 * (i % SIDE), 322_000 + 200 * (i // SIDE)
        side = 100 + i  # listed last, the largest must still keep its name
        cells.append(box(x, y, x + side, y + side))
        names.append(f"Area number {i}")
    for x, y in ((382_000, 312_000), (411_600, 331_600)):
        cells.append(box(x, y, x + 50, y + 50))
        names.append(f"Far {x}")
    return gpd.GeoDataFrame({"name": names}, geometry=cells, crs=27700).to_crs(4326)


def _overlapping(rects: list[list[float]]) -> int:
    """Count the pairs of boxes that overlap."""
    return sum(
        1
        for i, a in enumerate(rects)
        for b in rects[i + 1 :]
        if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
    )


def test_names_that_would_overlap_are_hidden_until_the_map_is_zoomed_in(
    app_server: AppServer, page: Page
) -> None:
    areas = _areas()
    m = maps.offline_map(bounds=tuple(areas.total_bounds))
    maps.add_area_labels(m, areas)
    url = app_server.url + "/names-apart-test.html"
    page.route(
        url, lambda route: route.fulfill(body=m.get_root().render(), content_type="text/html")
    )
    page.goto(url)
    name = m.get_name()
    page.wait_for_function(
        "document.querySelectorAll('.area-label').length === 66 && "
        "Array.from(document.querySelectorAll('.area-label'))"
        ".some(l => l.style.visibility === 'hidden')",
        timeout=TIMEOUT_MS,
    )

    rects = page.evaluate(_RECTS)
    shown = [r for r in rects if r[4]]
    assert _overlapping(rects) > 0  # the control: written all at once, names overlap
    assert _overlapping(shown) == 0
    assert 0 < len(shown) < len(rects)
    largest = "Area number 63"
    assert page.get_by_text(largest, exact=True).evaluate("l => l.style.visibility") == ""

    # asked until it takes: straight after loading, Leaflet may drop a zoom it is given
    closer_zoom = page.evaluate(f"window['{name}'].getZoom()") + 4
    page.wait_for_function(
        f"(() => {{ const map = window['{name}']; if (map.getZoom() !== {closer_zoom}) "
        f"{{ map.setZoom({closer_zoom}, {{animate: false}}); }} return map.getZoom() === "
        f"{closer_zoom}; }})()",
        timeout=TIMEOUT_MS,
        polling=250,
    )
    page.wait_for_function(
        "!Array.from(document.querySelectorAll('.area-label'))"
        ".some(l => l.style.visibility === 'hidden')",
        timeout=TIMEOUT_MS,
    )
    closer = page.evaluate(_RECTS)
    assert all(r[4] for r in closer) and _overlapping(closer) == 0  # room for every name
