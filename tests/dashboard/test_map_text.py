"""Place names and reasons on the map are text, not HTML, in what the browser gets (issue 15)."""

from __future__ import annotations

import folium
import geopandas as gpd
import pandas as pd
import shapely

from dashboard import layers, maps

HOSTILE = '<img src="http://127.0.0.1:8699/x.png" onerror="alert(1)">'


def _html(group: folium.FeatureGroup) -> str:
    m = maps.offline_map(bounds=(-2.2, 52.6, -1.9, 52.8))
    group.add_to(m)
    return m.get_root().render()


def _flags() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": [1], "name": [HOSTILE], "category": ["park"], "reason": [HOSTILE]},
        geometry=[shapely.Point(-2.1, 52.7)],
        crs=4326,
    )


def test_hostile_place_names_reach_the_browser_only_as_escaped_data():
    for group in (
        layers.flagged_places_layer(_flags(), states=pd.Series(dtype=str)),
        layers.places_layer(_flags().drop(columns="reason"), states=pd.Series(dtype=str)),
    ):
        html = _html(group)
        assert "<img" not in html.split("<body>", 1)[1].replace("<img src=\"data:", "")
        assert "\\u003cimg" in html  # the name travels as JSON text ...
        assert "esc(r[4])" in html and "esc(r[6])" in html  # ... and is escaped when drawn


def test_control_a_raw_folium_tooltip_would_carry_the_tag():
    group = folium.FeatureGroup()
    folium.Marker([52.7, -2.1], tooltip=HOSTILE).add_to(group)
    assert "<img src=" in _html(group).split("<body>", 1)[1]
