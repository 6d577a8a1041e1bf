"""Offline folium maps, checked on their rendered HTML."""

from __future__ import annotations

import re

import folium
import geopandas as gpd
import pytest
from folium.elements import JSCSSMixin
from folium.plugins import HeatMap, MiniMap
from shapely.geometry import box

from dashboard import maps

STAFFORDSHIRE = (-2.47, 52.42, -1.59, 53.23)
DISTRICTS = {
    "E07000192": "Cannock Chase",
    "E07000193": "East Staffordshire",
    "E07000194": "Lichfield",
    "E07000195": "Newcastle-under-Lyme",
    "E07000196": "South Staffordshire",
    "E07000197": "Stafford",
    "E07000198": "Staffordshire Moorlands",
    "E07000199": "Tamworth",
    "E06000021": "Stoke-on-Trent",
}


@pytest.fixture
def districts() -> gpd.GeoDataFrame:
    """Nine rectangles on a 3x3 grid over Staffordshire, in WGS84."""
    minx, miny, maxx, maxy = STAFFORDSHIRE
    dx, dy = (maxx - minx) / 3, (maxy - miny) / 3
    cells = [
        box(minx + i * dx, miny + j * dy, minx + (i + 1) * dx, miny + (j + 1) * dy)
        for j in range(3)
        for i in range(3)
    ]
    return gpd.GeoDataFrame(
        {"code": list(DISTRICTS), "name": list(DISTRICTS.values())}, geometry=cells, crs=4326
    )


def render(m: folium.Map) -> str:
    return m.get_root().render()


def asset_links(html: str) -> list[str]:
    return re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', html)


def loaded_by_streamlit_folium(m: folium.Map) -> list[str]:
    """The links streamlit-folium loads in its iframe: default_js/css of every element."""
    urls: list[str] = []
    stack: list[object] = [m]
    while stack:
        element = stack.pop()
        if isinstance(element, JSCSSMixin):
            urls += [url for _, url in [*element.default_js, *element.default_css]]
        stack.extend(getattr(element, "_children", {}).values())
    return urls


def test_offline_map_links_only_vendored_assets() -> None:
    m = maps.offline_map(bounds=STAFFORDSHIRE)
    html = render(m)

    assert maps.external_urls(html) == []
    links = asset_links(html)
    assert "/app/static/vendor/leaflet/leaflet.js" in links
    assert "/app/static/vendor/leaflet/leaflet.css" in links
    assert all(link.startswith(maps.STATIC_URL_PREFIX + "/") for link in links)
    assert all(url.startswith(maps.STATIC_URL_PREFIX) for url in loaded_by_streamlit_folium(m))


def test_every_local_link_is_a_vendored_file() -> None:
    m = maps.offline_map(bounds=STAFFORDSHIRE)
    maps.fast_marker_cluster([[52.8, -2.1]]).add_to(m)
    maps.fullscreen().add_to(m)
    maps.localise(HeatMap([[52.8, -2.1, 1.0]])).add_to(m)

    links = asset_links(render(m))
    assert len(links) >= 12
    assert all(link.startswith(maps.STATIC_URL_PREFIX + "/") for link in links)
    files = [maps.VENDOR_DIR / link.removeprefix(maps.STATIC_URL_PREFIX + "/") for link in links]
    missing = [str(path) for path in files if not path.is_file()]
    assert missing == [], "run scripts/vendor_map_assets.sh"


def test_every_mapped_asset_exists_and_is_listed_in_versions() -> None:
    versions = (maps.VENDOR_DIR / "VERSIONS.txt").read_text(encoding="utf-8")
    for entries in maps.LOCAL_ASSETS.values():
        for _, path in entries:
            assert (maps.VENDOR_DIR / path).is_file(), path
            assert path in versions, path


def test_no_tiles_by_default_and_a_plain_background() -> None:
    html = render(maps.offline_map(bounds=STAFFORDSHIRE))

    assert "L.tileLayer" not in html
    assert f"background: {maps.BACKGROUND_COLOUR}" in html
    assert "Crown copyright" in html
    assert "fitBounds" in html
    assert '"maxZoom": 18' in html  # without tiles, MarkerCluster needs it on the map
    assert 'L.Icon.Default.imagePath = "/app/static/vendor/leaflet/images/"' in html


def test_tiles_are_optional_and_then_external() -> None:
    url = "https://tiles.example.org/{z}/{x}/{y}.png"
    html = render(maps.offline_map(bounds=STAFFORDSHIRE, tiles=url))

    assert "L.tileLayer" in html
    assert url in maps.external_urls(html)


def test_folium_class_links_are_left_alone() -> None:
    before = list(folium.Map.default_js), list(folium.Map.default_css)
    maps.offline_map(bounds=STAFFORDSHIRE)
    maps.fast_marker_cluster([])

    assert (folium.Map.default_js, folium.Map.default_css) == before
    assert folium.Map.default_js[0][1].startswith("https://")


@pytest.mark.parametrize(
    "bounds",
    [
        pytest.param((-1.6, 52.4, -2.5, 53.2), id="x-reversed"),
        pytest.param((-2.5, 53.2, -1.6, 52.4), id="y-reversed"),
        pytest.param((390000, 300000, 420000, 340000), id="british-national-grid"),
    ],
)
def test_offline_map_rejects_bad_bounds(bounds: tuple[float, float, float, float]) -> None:
    with pytest.raises(ValueError, match="to_crs"):
        maps.offline_map(bounds=bounds)


@pytest.mark.parametrize("approximate", [True, False], ids=["approximate", "exact"])
def test_district_outlines_carry_names(districts: gpd.GeoDataFrame, approximate: bool) -> None:
    m = maps.offline_map(bounds=STAFFORDSHIRE)
    layer = maps.add_district_outlines(m, districts, approximate=approximate)
    html = render(m)

    assert maps.external_urls(html) == []
    for code, name in DISTRICTS.items():
        assert name in html
        assert code in html
    assert ("approximate boundaries" in html) is approximate
    assert ("dashArray" in html) is approximate
    assert layer.layer_name == (
        "Districts (approximate boundaries)" if approximate else "Districts"
    )


def test_district_names_are_escaped_for_the_tooltip(districts: gpd.GeoDataFrame) -> None:
    districts.loc[0, "name"] = "<b>Cannock</b>"
    m = maps.offline_map(bounds=STAFFORDSHIRE)
    maps.add_district_outlines(m, districts, approximate=False)

    assert "<b>Cannock</b>" not in render(m)


def test_district_outlines_need_wgs84(districts: gpd.GeoDataFrame) -> None:
    m = maps.offline_map(bounds=STAFFORDSHIRE)
    with pytest.raises(ValueError, match="EPSG:4326"):
        maps.add_district_outlines(m, districts.to_crs(27700), approximate=False)
    with pytest.raises(ValueError, match="no CRS"):
        maps.add_district_outlines(
            m, districts.set_crs(None, allow_override=True), approximate=False
        )
    with pytest.raises(ValueError, match="lad_name"):
        maps.add_district_outlines(m, districts, name_field="lad_name", approximate=False)


def test_plugins_use_vendored_copies() -> None:
    for plugin in (maps.fast_marker_cluster([]), maps.fullscreen()):
        urls = [url for _, url in [*plugin.default_js, *plugin.default_css]]
        assert urls
        assert all(url.startswith(maps.STATIC_URL_PREFIX) for url in urls)


def test_unvendored_plugin_is_refused() -> None:
    m = maps.offline_map(bounds=STAFFORDSHIRE)
    with pytest.raises(ValueError, match="vendor_map_assets"):
        maps.localise(MiniMap()).add_to(m)


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        pytest.param('<script src="/app/static/vendor/a.js">', [], id="root-relative"),
        pytest.param('<img src="http://127.0.0.1:8501/x.png">', [], id="loopback"),
        pytest.param('<img src="http://localhost:8501/x.png">', [], id="localhost"),
        pytest.param('<svg xmlns="http://www.w3.org/2000/svg">', [], id="xml-namespace"),
        pytest.param("// a comment in a script", [], id="js-comment"),
        pytest.param(
            '<link href="https://cdn.jsdelivr.net/a.css"><link href="https://cdn.jsdelivr.net/a.css">',
            ["https://cdn.jsdelivr.net/a.css"],
            id="deduplicated",
        ),
        pytest.param('<script src="//code.jquery.com/j.js">', ["//code.jquery.com/j.js"], id="//"),
        pytest.param(
            "url(https://fonts.example/f.woff2)", ["https://fonts.example/f.woff2"], id="css"
        ),
    ],
)
def test_external_urls(html: str, expected: list[str]) -> None:
    assert maps.external_urls(html) == expected


def test_templates_without_jinja_render_as_jinja_would(
    districts: gpd.GeoDataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Texts with no jinja syntax are not compiled (issue 21), yet the map's HTML is the
    same as when every template is jinja's. Control: a text with jinja syntax is compiled,
    and taken as plain text it would render otherwise."""
    import itertools

    import branca.element
    from jinja2 import Template

    made: list[object] = []

    def counted(source: str) -> object:
        made.append(maps._compiled_template(source))
        return made[-1]

    def drawn(template: object) -> str:
        """The map drawn with these templates, its elements' ids numbered from 0."""
        ids = itertools.count()
        monkeypatch.setattr(
            branca.element.Element, "_generate_id", classmethod(lambda cls: f"{next(ids):032x}")
        )
        monkeypatch.setattr(branca.element, "Template", template)
        m = maps.offline_map(bounds=STAFFORDSHIRE)
        maps.add_district_outlines(m, districts, approximate=True)
        maps.add_area_labels(m, districts)
        return render(m)

    m = maps.offline_map(bounds=STAFFORDSHIRE)
    plain = drawn(counted)
    assert sum(isinstance(t, maps._PlainText) for t in made) >= len(districts)
    assert drawn(Template) == plain  # jinja's, every one
    for text in ("<b>x</b>", "<b>x</b>\n", "<b>x</b>\n\n", "\n  <i>y</i>\n  "):
        assert maps._PlainText(text).render(this=m) == Template(text).render(this=m)
    source = "<b>{{ this }}</b>\n"
    assert not isinstance(maps._compiled_template(source), maps._PlainText)
    assert maps._PlainText(source).render(this="x") != Template(source).render(this="x")
