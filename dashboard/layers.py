"""Data layers drawn on the offline map: places, hot spot cells.

No Streamlit here: each function adds a folium layer built from a GeoDataFrame
in WGS84 (EPSG:4326), so the HTML can be tested directly.
"""

from __future__ import annotations

import html

import folium
import geopandas as gpd
import pandas as pd

from store.vocabulary import PLACE_CATEGORIES, label

__all__ = ["HOTSPOT_COLOURS", "STATE_COLOURS", "STATE_LABELS", "add_hotspot_cells", "add_places"]

STATE_COLOURS: dict[str, str] = {
    "none": "#b03a2e",
    "draft": "#d68910",
    "current": "#1e8449",
    "overdue": "#6c3483",
}
STATE_LABELS: dict[str, str] = {
    "none": "No assessment",
    "draft": "Assessment in progress",
    "current": "Assessed, current",
    "overdue": "Review overdue",
}
HOTSPOT_COLOURS: dict[int, str] = {
    3: "#b2182b",
    2: "#ef8a62",
    1: "#fddbc7",
    -1: "#d1e5f0",
    -2: "#67a9cf",
    -3: "#2166ac",
}
HOTSPOT_LABELS: dict[int, str] = {
    3: "Hot spot, 99% confidence",
    2: "Hot spot, 95% confidence",
    1: "Hot spot, 90% confidence",
    -1: "Cold spot, 90% confidence",
    -2: "Cold spot, 95% confidence",
    -3: "Cold spot, 99% confidence",
}


def _require_wgs84(frame: gpd.GeoDataFrame, what: str) -> None:
    if frame.crs is None or frame.crs.to_epsg() != 4326:
        raise ValueError(f"{what} must be in EPSG:4326 for display; reproject with to_crs(4326)")


def add_places(
    m: folium.Map,
    places: gpd.GeoDataFrame,
    *,
    states: pd.Series,
    reasons: pd.Series | None = None,
    name: str = "Places",
) -> folium.FeatureGroup:
    """Draw places as circles coloured by the state of their assessment.

    Parameters
    ----------
    m
        The map.
    places
        Points in EPSG:4326 with ``id``, ``name``, ``category``; places with an
        empty point are not drawn.
    states
        The assessment state per place id: ``none``, ``draft``, ``current`` or
        ``overdue`` (missing ids count as ``none``).
    reasons
        Optional plain-English reason each place was flagged, by place id.
    name
        The layer's name in the layer control.

    Returns
    -------
    folium.FeatureGroup
        The layer, added to the map.
    """
    _require_wgs84(places, "places")
    layer = folium.FeatureGroup(name=name)
    drawable = places.loc[~places.geometry.is_empty & places.geometry.notna()]
    for row in drawable.itertuples():
        state = str(states.get(row.id, "none"))
        lines = [
            f"<b>{html.escape(str(row.name))}</b>",
            html.escape(label(PLACE_CATEGORIES, row.category)),
            STATE_LABELS.get(state, state),
        ]
        if reasons is not None and row.id in reasons.index:
            lines.append(html.escape(str(reasons[row.id])))
        folium.CircleMarker(
            location=(row.geometry.y, row.geometry.x),
            radius=6,
            color="#ffffff",
            weight=1,
            fill=True,
            fill_color=STATE_COLOURS.get(state, STATE_COLOURS["none"]),
            fill_opacity=0.95,
            tooltip="<br>".join(lines),
            place_id=int(row.id),
        ).add_to(layer)
    layer.add_to(m)
    return layer


def add_hotspot_cells(m: folium.Map, cells: gpd.GeoDataFrame, *, name: str = "Hot spots") -> None:
    """Draw significant Gi* cells (``bin`` not 0) coloured by confidence.

    Parameters
    ----------
    m
        The map.
    cells
        Polygons in EPSG:4326 with ``bin`` (-3..3) and ``count`` columns; cells
        with bin 0 are left out to keep the page small.
    name
        The layer's name in the layer control.
    """
    _require_wgs84(cells, "cells")
    significant = cells.loc[cells["bin"] != 0, ["bin", "count", cells.geometry.name]].copy()
    significant["confidence"] = significant["bin"].map(HOTSPOT_LABELS)
    if significant.empty:
        return
    folium.GeoJson(
        significant,
        name=name,
        style_function=lambda feature: {
            "color": HOTSPOT_COLOURS[feature["properties"]["bin"]],
            "weight": 0.5,
            "fillColor": HOTSPOT_COLOURS[feature["properties"]["bin"]],
            "fillOpacity": 0.6,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["confidence", "count"], aliases=["", "Incidents in cell"]
        ),
    ).add_to(m)
