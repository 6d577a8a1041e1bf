"""The map's data layers, checked on the HTML that streamlit-folium sends to the browser."""

from __future__ import annotations

import json

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import streamlit_folium

from dashboard import layers, maps
from geo.grid import build_grid
from services import reads as analysis
from services.access import Viewer
from services.audience import Audience
from store.sites import sites_in

LEAD = Audience.of(Viewer("lead", "lead", ("E07000197",)), k=5)
OFFICER = Audience.of(Viewer("officer", "officer", ("E07000197",)), k=5)
AREA = shapely.box(390_000, 320_000, 394_000, 324_000)
CLUSTER = (390_125.0, 320_125.0)
LONE = (393_517.0, 323_389.0)  # one incident on its own, off every cell corner


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Capture the arguments st_folium sends to its browser component."""
    calls: list[dict] = []

    def component(**kwargs):
        calls.append({k: v for k, v in kwargs.items() if k not in ("on_change", "default")})
        return None

    monkeypatch.setattr(streamlit_folium, "_component_func", component)
    return calls


def _payload(sent: list[dict], groups: list[folium.FeatureGroup]) -> str:
    m = maps.offline_map(bounds=(-2.2, 52.7, -2.0, 52.8))
    streamlit_folium.st_folium(
        m,
        key="map",
        feature_group_to_add=groups,
        layer_control=folium.LayerControl(),
        returned_objects=["last_object_clicked"],
    )
    return json.dumps(sent[-1])


def _sites() -> pd.DataFrame:
    rows = [(*CLUSTER, "2026-10", "cce", 40), (*LONE, "2026-10", "cse", 1)]
    rows += [(*CLUSTER, "2026-09", "cce", 4)]
    return pd.DataFrame(rows, columns=["easting", "northing", "month", "category", "n"])


def _places() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": [1, 2], "name": ["Bus <station>", "Lost"], "category": ["transport_hub", "park"]},
        geometry=[shapely.Point(CLUSTER[0] + 30, CLUSTER[1]), shapely.Point()],
        crs=27700,
    )


def _all_layers(viewer: Viewer) -> list[folium.FeatureGroup]:
    grid = build_grid(gpd.GeoSeries([AREA], crs=27700), cell_size=250)
    sites = _sites()
    october = sites_in(sites, first="2026-10")
    settings = analysis.MapSettings(min_incidents=3)
    flags = analysis.flagged_places(
        _places(), sites, grid, first="2026-10", last="2026-10", settings=settings, audience=viewer
    )
    picture = analysis.monthly_picture(sites, grid, last="2026-10", confidence=95, audience=viewer)
    states = pd.Series({1: "overdue"})
    return [
        layers.density_layer(analysis.density_layer(october, audience=viewer)),
        layers.aggregates_layer(analysis.aggregate_squares(october, october, audience=viewer)),
        layers.hotspot_layer(
            analysis.hot_cells(october, grid, confidence=90, audience=viewer),
            trend=picture.category,
        ),
        layers.places_layer(_places().to_crs(4326), states=states),
        layers.flagged_places_layer(flags, states=states),
    ]


def _lone_coordinates() -> list[str]:
    """The lone incident's latitude and longitude as a map would write them (4-6 decimals)."""
    point = gpd.GeoSeries([shapely.Point(LONE)], crs=27700).to_crs(4326).iloc[0]
    return [str(round(v, d)) for v in (point.y, point.x) for d in (4, 5, 6)]


def test_an_officers_map_holds_no_incident_coordinates(sent) -> None:
    payload = _payload(sent, _all_layers(OFFICER))
    for coordinate in _lone_coordinates():
        assert coordinate not in payload
    assert maps.external_urls(payload) == []


def test_a_leads_points_carry_the_incident_coordinates(sent) -> None:
    lone = gpd.GeoSeries([shapely.Point(LONE)], crs=27700).to_crs(4326).iloc[0]
    points = pd.DataFrame(
        {"lat": [round(lone.y, 5)], "lon": [round(lone.x, 5)], "category": ["cse"]}
    )
    payload = _payload(sent, [*_all_layers(LEAD), layers.points_layer(points)])
    assert str(round(lone.y, 5)) in payload and str(round(lone.x, 5)) in payload
    assert "markerClusterGroup" in payload
    assert "/app/static/vendor/leaflet.markercluster/leaflet.markercluster.js" in payload
    assert maps.external_urls(payload) == []


def test_layers_are_named_for_the_layer_control(sent) -> None:
    groups = _all_layers(LEAD)
    payload = _payload(sent, groups)
    control = sent[-1]["layer_control"]
    for name in ("Density", "Hot and cold spots", "Flagged places", "All places in the register"):
        assert name in control
    assert "Incidents and referrals per 1 km square" in control
    assert payload.count("feature_group_feature_group_") >= len(groups)


def test_hot_cells_are_coloured_by_confidence_with_counts_and_trend() -> None:
    cells = gpd.GeoDataFrame(
        {"cell": [0, 1], "bin": [3, -2], "count": [12, "<5"]},
        geometry=[shapely.box(-2.1, 52.7, -2.09, 52.71), shapely.box(-2.0, 52.7, -1.99, 52.71)],
        crs=4326,
    )
    group = layers.hotspot_layer(cells, trend={0: "Intensifying Hot Spot"})
    m = maps.offline_map(bounds=(-2.2, 52.6, -1.9, 52.8))
    group.add_to(m)
    html = m.get_root().render()
    assert layers.HOTSPOT_COLOURS[3] in html and layers.HOTSPOT_COLOURS[-2] in html
    assert "Hot spot, 99% confidence" in html and "Cold spot, 95% confidence" in html
    assert "Intensifying Hot Spot" in html and "No pattern detected" in html
    assert '"n": "\\u003c5"' in html or '"n": "<5"' in html


def test_flagged_places_have_icons_by_category_and_colours_by_state() -> None:
    flags = gpd.GeoDataFrame(
        {
            "id": [1, 2, 3],
            "name": ["Park A", "Hub B", "Nowhere C"],
            "category": ["park", "transport_hub", "hotel"],
            "reason": ["12 incidents within 200 m", "99% hot spot", "unlocated"],
        },
        geometry=[shapely.Point(-2.1, 52.7), shapely.Point(-2.0, 52.75), shapely.Point()],
        crs=4326,
    )
    group = layers.flagged_places_layer(flags, states=pd.Series({2: "current"}))
    rows = _rows(_render(group))
    assert [r[4] for r in rows] == ["Park A", "Hub B"]  # the place without a point is left out
    assert [r[2] for r in rows] == ["tree", "bus"]
    assert [r[3] for r in rows] == ["red", "green"]
    assert rows[0][6] == "12 incidents within 200 m"


def _render(group: folium.FeatureGroup) -> str:
    m = maps.offline_map(bounds=(-2.2, 52.6, -1.9, 52.8))
    group.add_to(m)
    return m.get_root().render()


def _rows(html: str) -> list[list]:
    start = html.index("})([[") + 3
    end = html.index("]]);", start) + 2
    return json.loads(html[start:end])


def test_every_category_has_a_vendored_icon() -> None:
    css = (maps.VENDOR_DIR / "fontawesome-free" / "css" / "fontawesome.min.css").read_text()
    from store.vocabulary import PLACE_CATEGORIES

    assert set(layers.CATEGORY_ICONS) == set(PLACE_CATEGORIES)
    for icon in [*layers.CATEGORY_ICONS.values(), "location-dot"]:
        assert f".fa-{icon}:before" in css, icon


def test_geojson_is_rounded_and_keeps_only_what_is_asked() -> None:
    frame = gpd.GeoDataFrame(
        {"keep": [1], "drop": ["secret"]},
        geometry=[shapely.box(-2.123456789, 52.1, -2.0, 52.2)],
        crs=4326,
    )
    data = maps.geojson(frame, ["keep"])
    text = json.dumps(data)
    assert "-2.12346" in text and "-2.123456" not in text and "secret" not in text
    with pytest.raises(ValueError, match="EPSG:4326"):
        maps.geojson(frame.to_crs(27700), ["keep"])


def test_the_legend_is_plain_html_and_lists_every_class() -> None:
    m = maps.offline_map(bounds=(-2.2, 52.6, -1.9, 52.8))
    maps.add_legend(m, layers.legend_html(k=5, points=True))
    html = m.get_root().render()
    for text in [*layers.STATE_LABELS.values(), *layers.HOTSPOT_LABELS.values()]:
        assert text in html
    assert "fewer than 5" in html and "80 or more" in html and "clustered" in html
    assert "fewer than 5" not in layers.legend_html(k=10)
    assert maps.external_urls(html) == []


def test_area_labels_and_wards_draw_names() -> None:
    wards = gpd.GeoDataFrame(
        {"name": ["Ward <One>"], "code": ["E05000001"]},
        geometry=[shapely.box(-2.1, 52.7, -2.0, 52.8)],
        crs=4326,
    )
    m = maps.offline_map(bounds=(-2.2, 52.6, -1.9, 52.8))
    maps.add_ward_outlines(m, wards, approximate=False)
    maps.add_area_labels(m, wards)
    html = m.get_root().render()
    assert "Ward <One>" not in html and "area-label" in html
    assert "One\\u0026gt;" in html or "One&gt;" in html
    assert maps.add_ward_outlines(m, wards.iloc[0:0], approximate=False) is None


def test_view_for_bounds_fits_a_smaller_area_closer() -> None:
    (lat, lon), county = maps.view_for_bounds((-2.5, 52.4, -1.6, 53.2))
    _, town = maps.view_for_bounds((-2.15, 52.78, -2.05, 52.84))
    assert 52.7 < lat < 52.9 and -2.1 < lon < -2.0
    assert town > county + 2
    assert np.isfinite(county)
