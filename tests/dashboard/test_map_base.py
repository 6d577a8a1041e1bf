"""The Map's base: the tile setting, the offline base layer, the legend, the view, the PNG."""

from __future__ import annotations

import io

import folium
import geopandas as gpd
import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import shapely

from dashboard import maps
from dashboard.layers import HOTSPOT_COLOURS, legend_sections
from dashboard.mappng import map_png

BOUNDS = (-2.3, 52.6, -1.9, 52.9)


def test_openstreetmap_is_the_default_with_its_attribution() -> None:
    tiles = maps.base_tiles(None)
    assert tiles is not None
    assert tiles.url == "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    assert "OpenStreetMap" in tiles.attribution


def test_ordnance_survey_needs_a_key_and_carries_it() -> None:
    tiles = maps.base_tiles("OS", os_key=" abc123 ")
    assert tiles is not None and tiles.url.endswith("/{z}/{x}/{y}.png?key=abc123")
    assert "Crown copyright" in tiles.attribution
    with pytest.raises(ValueError, match="no OS Maps API key"):
        maps.base_tiles("os")


@pytest.mark.parametrize("value", ["none", "None", "off", "0"])
def test_none_switches_tiles_off(value: str) -> None:
    assert maps.base_tiles(value) is None


def test_a_url_template_needs_placeholders_and_attribution() -> None:
    url = "https://tiles.example.org/{z}/{x}/{y}.png"
    tiles = maps.base_tiles(url, attribution="© Example")
    assert tiles is not None and tiles.url == url
    with pytest.raises(ValueError, match="attribution"):
        maps.base_tiles(url)
    with pytest.raises(ValueError, match=r"lacks \{y\}"):
        maps.base_tiles("https://tiles.example.org/{z}/{x}.png", attribution="x")
    with pytest.raises(ValueError, match="unknown map tiles setting"):
        maps.base_tiles("google")


def _towns() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["Stafford", "Little <Haywood>"], "rank": [1, 3]},
        geometry=[shapely.Point(-2.117, 52.806), shapely.Point(-2.0, 52.8)],
        crs=4326,
    )


def _built_up() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=[shapely.box(-2.13, 52.79, -2.10, 52.82)], crs=4326)


def test_the_offline_base_layer_needs_no_network_and_escapes_names() -> None:
    m = maps.offline_map(bounds=BOUNDS)
    maps.add_offline_base(m, built_up=_built_up(), towns=_towns())
    html = m.get_root().render()
    assert maps.external_urls(html) == []
    assert 'createPane("offlineBase")' in html and 'createPane("offlineLabels")' in html
    assert "Stafford" in html
    assert "<Haywood>" not in html  # names go through esc() in the browser, as JSON text
    assert "-2.13" in html  # the built-up area's corner


def test_tiles_sit_above_the_offline_layer_and_are_the_only_external_link() -> None:
    tiles = maps.base_tiles("osm")
    m = maps.offline_map(bounds=BOUNDS, base=tiles)
    maps.add_offline_base(m, built_up=_built_up(), towns=_towns())
    html = m.get_root().render()
    external = maps.external_urls(html)
    assert external  # the control: the offline check sees the tile server
    assert all("openstreetmap.org" in url for url in external)
    assert "base-tiles-loaded .leaflet-offlineBase-pane" in html  # covered once tiles load
    assert "removeLayer(tiles)" in html  # and removed if they cannot load


def test_towns_must_be_wgs84_with_names_and_ranks() -> None:
    m = maps.offline_map(bounds=BOUNDS)
    with pytest.raises(ValueError, match="EPSG:4326"):
        maps.add_offline_base(m, built_up=None, towns=_towns().to_crs(27700))
    with pytest.raises(ValueError, match="rank"):
        maps.add_offline_base(m, built_up=None, towns=_towns().drop(columns="rank"))


def test_every_map_loads_the_marker_cluster_plugin() -> None:
    """Layers added to a live map bring no scripts: without this, points drew nothing."""
    m = maps.offline_map(bounds=BOUNDS)
    links = [url for _, url in m.default_js]
    assert maps.local_url("leaflet.markercluster/leaflet.markercluster.js") in links
    assert maps.external_urls(m.get_root().render()) == []


def test_the_legend_lists_only_the_layers_on_the_map() -> None:
    m = maps.offline_map(bounds=BOUNDS)
    maps.add_legend(m, legend_sections(k=5, points=False))
    html = m.get_root().render()
    for key in ("hot", "flags", "density", "counts", "places"):
        assert f'data-layer=\\"{key}\\"' in html
    assert 'data-layer=\\"points\\"' not in html
    assert 'map.on("layeradd layerremove"' in html
    group = maps.legend_key(folium.FeatureGroup(name="Hot"), "hot")
    group.add_to(m)
    assert '.options.legend = "hot";' in m.get_root().render()


def test_a_view_target_moves_the_map_once_per_key() -> None:
    fit = maps.view_target("fit:E1", bounds=BOUNDS)
    m = maps.offline_map(bounds=BOUNDS, fit=False)
    fit.add_to(m)
    html = m.get_root().render()
    assert "fitBounds([[52.6, -2.3], [52.9, -1.9]]" in html
    assert 'map._saferSpacesView === "fit:E1"' in html
    # the map does not fit itself: only the view target does
    assert "fitBounds" not in html.replace("map.fitBounds([[52.6", "")
    there = maps.view_target("aim-3", center=(52.8, -2.1), zoom=16)
    there.add_to(m)
    html = m.get_root().render()
    assert "map.setView([52.8, -2.1], 16.0, {animate: false})" in html
    # the move is not reported back (streamlit-folium sends only what differs from this)
    assert "g.previous_data = JSON.parse(JSON.stringify(data))" in html
    with pytest.raises(ValueError, match="either bounds"):
        maps.view_target("x")
    with pytest.raises(ValueError, match="either bounds"):
        maps.view_target("x", center=(52.8, -2.1))


def test_small_cells_get_thick_outlines_when_zoomed_out() -> None:
    group = maps.emphasise_small_cells(folium.FeatureGroup(name="Hot"), far=11, near=13)
    m = maps.offline_map(bounds=BOUNDS)
    group.add_to(m)
    html = m.get_root().render()
    assert "z < 11 ? 4 : (z < 13 ? 2 : 0.5)" in html


def _red_pixels(png: bytes) -> int:
    image = matplotlib.image.imread(io.BytesIO(png), format="png")[:, :, :3]
    red = np.array([int(HOTSPOT_COLOURS[3][i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return int((np.abs(image - red).max(axis=2) < 0.08).sum())


def test_the_png_draws_the_view_with_its_layers() -> None:
    districts = gpd.GeoDataFrame(
        {"name": ["Stafford"]}, geometry=[shapely.box(-2.25, 52.7, -1.95, 52.88)], crs=4326
    )
    cells = gpd.GeoDataFrame(
        {"bin": [3, 3, 0]},
        geometry=[
            shapely.box(-2.12, 52.80, -2.10, 52.81),
            shapely.box(-2.10, 52.80, -2.08, 52.81),
            shapely.box(-2.0, 52.75, -1.98, 52.76),
        ],
        crs=4326,
    )
    flags = gpd.GeoDataFrame({"id": [1]}, geometry=[shapely.Point(-2.11, 52.805)], crs=4326)
    common = {
        "view": BOUNDS,
        "title": "Safer Spaces: Stafford",
        "subtitle": "Aug 2026 to Oct 2026",
        "districts": districts,
        "built_up": _built_up(),
        "towns": _towns(),
        "states": pd.Series({1: "draft"}),
        "attribution": "Contains OS data © Crown copyright",
    }
    with_cells = map_png(cells=cells, flags=flags, **common)
    without = map_png(cells=None, flags=None, **common)
    assert with_cells[:8] == b"\x89PNG\r\n\x1a\n"
    assert _red_pixels(with_cells) > 100  # the 99% hot cells, and their legend swatch
    assert _red_pixels(without) == 0
