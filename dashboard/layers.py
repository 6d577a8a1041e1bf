"""Data layers drawn on the offline map: places, hot spots, density, counts, points.

No Streamlit here. Each function builds a ``folium.FeatureGroup`` from frames in WGS84
(EPSG:4326), named for the layer control and not yet added to a map: the page hands the
groups to ``st_folium(feature_group_to_add=...)`` so that a filter change swaps the data
without reloading the map (which keeps its centre and zoom), and tests add them to a map
and read the HTML.

Payload: polygons go as one GeoJSON per layer with coordinates rounded to 5 decimals
(about a metre) and only the properties the tooltip shows; incident points go as one
array to a marker cluster.

Legends are plain HTML (:func:`legend_html`): a branca colormap would make
streamlit-folium load d3 from the internet.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from folium.template import Template

from dashboard.maps import fast_marker_cluster, geojson
from geo.points import drawable
from store.vocabulary import CONTEXT_LABEL, EXPLOITATION_TYPES, PLACE_CATEGORIES, label

__all__ = [
    "AGGREGATE_COLOURS",
    "CATEGORY_ICONS",
    "CONTEXT_COLOURS",
    "DENSITY_COLOURS",
    "HOTSPOT_COLOURS",
    "HOTSPOT_LABELS",
    "STATE_COLOURS",
    "STATE_LABELS",
    "STATE_MARKERS",
    "aggregates_layer",
    "context_layer",
    "context_legend_html",
    "density_layer",
    "flagged_places_layer",
    "geojson",
    "hotspot_layer",
    "legend_html",
    "legend_sections",
    "places_layer",
    "points_layer",
]

STATE_MARKERS: dict[str, str] = {
    "none": "red",
    "draft": "orange",
    "current": "green",
    "overdue": "purple",
}
"""Awesome-markers colour of a flagged place by the state of its assessment."""

STATE_COLOURS: dict[str, str] = {
    "none": "#d63e2a",
    "draft": "#f69730",
    "current": "#72af26",
    "overdue": "#d252b9",
}
"""The same colours as hex (the awesome-markers sprite), for circles and legends."""

STATE_LABELS: dict[str, str] = {
    "none": "No assessment",
    "draft": "Assessment in progress",
    "current": "Assessed, current",
    "overdue": "Review overdue",
}

CATEGORY_ICONS: dict[str, str] = {
    "park": "tree",
    "fast_food": "burger",
    "shopping_centre": "cart-shopping",
    "transport_hub": "bus",
    "hotel": "bed",
    "licensed_premises": "martini-glass",
    "car_park": "square-parking",
    "school_surroundings": "school",
    "derelict_building": "house-crack",
    "leisure_venue": "futbol",
}
"""Font Awesome 6 (solid) icon of each place category; ``"location-dot"`` for others."""

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
DENSITY_COLOURS: tuple[str, ...] = ("#dadaeb", "#bcbddc", "#9e9ac8", "#6a51a3")
"""Density bands, lowest first (purples, so they do not read as hot spots)."""

AGGREGATE_COLOURS: tuple[str, ...] = ("#eff3ff", "#bdd7e7", "#6baed6", "#2171b5")
"""Squares of counts by level: fewer than k, k to 4k-1, 4k to 16k-1, 16k or more."""

POINT_COLOUR = "#1b1f24"


def _require_wgs84(frame: gpd.GeoDataFrame, what: str) -> None:
    if frame.crs is None or frame.crs.to_epsg() != 4326:
        raise ValueError(f"{what} must be in EPSG:4326 for display; reproject with to_crs(4326)")


def hotspot_layer(
    cells: gpd.GeoDataFrame,
    *,
    name: str = "Hot and cold spots",
    trend: dict[int, str] | None = None,
) -> folium.FeatureGroup:
    """Return the Gi* hot and cold spot cells, coloured by confidence.

    Parameters
    ----------
    cells
        In EPSG:4326 with ``bin`` (-3..3, 0 left out), ``count`` (a number or ``"<5"``)
        and, when ``trend`` is given, ``cell`` (the position used as its key).
    name
        The layer's name in the layer control.
    trend
        The emerging hot spot category of cells, by ``cell``, for the tooltip.

    Returns
    -------
    folium.FeatureGroup
        The layer (empty when no cell is significant).
    """
    _require_wgs84(cells, "cells")
    group = folium.FeatureGroup(name=name)
    shown = cells.loc[cells["bin"] != 0].copy()
    if shown.empty:
        return group
    shown["conf"] = shown["bin"].map(HOTSPOT_LABELS)
    shown["n"] = shown["count"].astype(str)
    fields, aliases = ["conf", "n"], ["", "Incidents in cell"]
    if trend is not None:
        shown["trend"] = shown["cell"].map(trend).fillna("No pattern detected")
        fields.append("trend")
        aliases.append("Trend over 12 months")
    folium.GeoJson(
        geojson(shown, ["bin", *fields]),
        name=name,
        style_function=lambda feature: {
            "color": HOTSPOT_COLOURS[feature["properties"]["bin"]],
            "weight": 0.5,
            "fillColor": HOTSPOT_COLOURS[feature["properties"]["bin"]],
            "fillOpacity": 0.6,
        },
        highlight_function=lambda _feature: {"weight": 2, "color": "#1b1f24"},
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases),
        control=False,
    ).add_to(group)
    return group


class _MarkerRows(folium.MacroElement):
    """Markers made in the browser from one array of rows.

    A row is ``[lat, lon, icon, colour, name, subtitle, reason]``, plain text that the
    browser escapes into the tooltip. One folium ``Marker`` per place costs about a
    kilobyte of script; a row costs its words and a few numbers. ``kind`` is ``"icon"``
    (an awesome marker: Font Awesome icon on a coloured pin) or ``"circle"`` (a small
    circle of that colour).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (rows) {
            function esc(s) {
                return String(s).replace(/[&<>"]/g, function (c) {
                    return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c];
                });
            }
            var target = {{ this._parent.get_name() }};
            {%- if this.cluster %}
            // Places on the same spot or close together gather into one numbered circle
            // (ringed in the colour of the most urgent state inside); a click zooms in,
            // or spreads the pins out where they share a position.
            var urgency = {{ this.urgency|tojson }};
            target = L.markerClusterGroup({
                maxClusterRadius: 36, spiderfyOnMaxZoom: true, showCoverageOnHover: false,
                spiderfyDistanceMultiplier: 1.6,
                iconCreateFunction: function (cluster) {
                    var worst = null;
                    cluster.getAllChildMarkers().forEach(function (m) {
                        var c = m.options.colour;
                        if (worst === null || (urgency[c] || 0) > (urgency[worst] || 0)) {
                            worst = c;
                        }
                    });
                    return L.divIcon({
                        className: "place-cluster", iconSize: L.point(34, 34),
                        html: '<div style="--ring:' + (urgency[worst] ? worst : "#d63e2a") +
                            '">' + cluster.getChildCount() + "</div>"
                    });
                }
            }).addTo({{ this._parent.get_name() }});
            {%- endif %}
            rows.forEach(function (r) {
                {%- if this.kind == "icon" %}
                var marker = L.marker([r[0], r[1]], {colour: {{ this.hex|tojson }}[r[3]] || r[3],
                    icon: L.AwesomeMarkers.icon(
                    {icon: r[2], markerColor: r[3], iconColor: "white", prefix: "fa"})});
                {%- else %}
                var marker = L.circleMarker([r[0], r[1]], {radius: 5, weight: 1,
                    color: "#ffffff", fillColor: r[3], fillOpacity: 0.9});
                {%- endif %}
                var text = "<b>" + esc(r[4]) + "</b><br>" + esc(r[5]);
                if (r[6]) { text += "<br><i>Flagged:</i> " + esc(r[6]); }
                marker.bindTooltip(text + "<br><small>Click for details</small>", {sticky: true});
                // A spread-out pin reports where it was drawn: report the place's own spot.
                marker.on("click", function (e) { e.latlng = L.latLng(r[0], r[1]); });
                marker.addTo(target);
            });
        })({{ this.rows|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, rows: list[list[object]], *, kind: str, cluster: bool = False) -> None:
        super().__init__()
        self._name = "MarkerRows"
        self.rows = rows
        self.kind = kind
        self.cluster = cluster
        self.hex = {STATE_MARKERS[s]: STATE_COLOURS[s] for s in STATE_MARKERS}
        # the most urgent first: no assessment, review overdue, in progress, current
        order = ("current", "draft", "overdue", "none")
        self.urgency = {STATE_COLOURS[s]: i + 1 for i, s in enumerate(order)}


def _place_rows(
    places: gpd.GeoDataFrame,
    states: pd.Series,
    *,
    icon: Callable[[str], str],
    colour: Callable[[str], str],
    reason: bool,
) -> list[list[object]]:
    """One marker row per drawable place: lat, lon, icon, colour, name, words, reason."""
    rows: list[list[object]] = []
    for row in places.loc[drawable(places)].itertuples():
        state = str(states.get(row.id, "none"))
        category = str(row.category)
        rows.append(
            [
                round(row.geometry.y, 6),
                round(row.geometry.x, 6),
                icon(category),
                colour(state),
                str(row.name),
                f"{label(PLACE_CATEGORIES, category)} · {STATE_LABELS.get(state, state)}",
                str(row.reason) if reason else "",
            ]
        )
    return rows


def flagged_places_layer(
    flags: gpd.GeoDataFrame, *, states: pd.Series, name: str = "Flagged places"
) -> folium.FeatureGroup:
    """Return flagged places as markers: icon by category, colour by assessment state.

    Parameters
    ----------
    flags
        Points in EPSG:4326 with ``id``, ``name``, ``category`` and ``reason``;
        places with no point are left out (list them beside the map).
    states
        The assessment state per place id (``none``, ``draft``, ``current``,
        ``overdue``; missing ids count as ``none``), as ``geo.measures.assessment_state``.
    name
        The layer's name in the layer control.

    Returns
    -------
    folium.FeatureGroup
        The layer.
    """
    _require_wgs84(flags, "flagged places")
    group = folium.FeatureGroup(name=name)
    rows = _place_rows(
        flags,
        states,
        icon=lambda category: CATEGORY_ICONS.get(category, "location-dot"),
        colour=lambda state: STATE_MARKERS.get(state, "red"),
        reason=True,
    )
    _MarkerRows(rows, kind="icon", cluster=True).add_to(group)
    return group


def places_layer(
    places: gpd.GeoDataFrame, *, states: pd.Series, name: str = "All places in the register"
) -> folium.FeatureGroup:
    """Return every place as a small circle coloured by the state of its assessment.

    Parameters
    ----------
    places
        Points in EPSG:4326 with ``id``, ``name`` and ``category``; places with an
        empty point are not drawn.
    states
        The assessment state per place id (missing ids count as ``none``).
    name
        The layer's name in the layer control.

    Returns
    -------
    folium.FeatureGroup
        The layer.
    """
    _require_wgs84(places, "places")
    group = folium.FeatureGroup(name=name)
    rows = _place_rows(
        places,
        states,
        icon=lambda category: "",
        colour=lambda state: STATE_COLOURS.get(state, STATE_COLOURS["none"]),
        reason=False,
    )
    _MarkerRows(rows, kind="circle").add_to(group)
    return group


def density_layer(bands: gpd.GeoDataFrame, *, name: str = "Density") -> folium.FeatureGroup:
    """Return the kernel density bands, lowest band palest.

    Parameters
    ----------
    bands
        In EPSG:4326 with ``band`` (1 lowest), ``level_min`` and ``level_max``
        (incidents per km²), as ``services.reads.density_layer`` returns them.
    name
        The layer's name in the layer control.

    Returns
    -------
    folium.FeatureGroup
        The layer.
    """
    _require_wgs84(bands, "density bands")
    group = folium.FeatureGroup(name=name)
    if bands.empty:
        return group
    shown = bands.copy()
    top = len(shown)
    shown["colour"] = [
        DENSITY_COLOURS[min(len(DENSITY_COLOURS) - 1, len(DENSITY_COLOURS) - top + i)]
        for i in range(top)
    ]
    shown["range"] = [
        f"{lo:,.0f} or more incidents per km²"
        if not np.isfinite(hi)
        else f"{lo:,.0f} to {hi:,.0f} incidents per km²"
        for lo, hi in zip(shown["level_min"], shown["level_max"], strict=True)
    ]
    folium.GeoJson(
        geojson(shown, ["colour", "range"]),
        name=name,
        style_function=lambda feature: {
            "color": feature["properties"]["colour"],
            "weight": 0,
            "fillColor": feature["properties"]["colour"],
            "fillOpacity": 0.55,
        },
        tooltip=folium.GeoJsonTooltip(fields=["range"], aliases=["Density"]),
        control=False,
    ).add_to(group)
    return group


def aggregates_layer(
    squares: gpd.GeoDataFrame, *, size_km: float = 1.0, name: str | None = None
) -> folium.FeatureGroup:
    """Return squares with the period's incident and referral counts in their tooltips.

    Parameters
    ----------
    squares
        In EPSG:4326 with ``incidents`` and ``referrals`` (numbers, or text where
        suppressed) and ``level`` (0-3), as ``services.reads.aggregate_squares``.
    size_km
        The squares' side, for the layer's name.
    name
        The layer's name; by default "Incidents and referrals per 1 km square".

    Returns
    -------
    folium.FeatureGroup
        The layer.
    """
    _require_wgs84(squares, "squares")
    name = name or f"Incidents and referrals per {size_km:g} km square"
    group = folium.FeatureGroup(name=name)
    if squares.empty:
        return group
    shown = squares.assign(
        incidents=squares["incidents"].astype(str),
        referrals=squares["referrals"].astype(str),
        level=squares["level"].astype(int),
    )
    folium.GeoJson(
        geojson(shown, ["incidents", "referrals", "level"]),
        name=name,
        style_function=lambda feature: {
            "color": "#4a6fa5",
            "weight": 0.3,
            "fillColor": AGGREGATE_COLOURS[feature["properties"]["level"]],
            "fillOpacity": 0.55,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["incidents", "referrals"], aliases=["Incidents", "Referrals"]
        ),
        control=False,
    ).add_to(group)
    return group


_POINT_CALLBACK = """function (row) {
    var marker = L.circleMarker(new L.LatLng(row[0], row[1]), {radius: 4, weight: 1,
        color: "#ffffff", fillColor: "POINT_COLOUR", fillOpacity: 0.85});
    marker.bindTooltip(row[2]);
    return marker;
}""".replace("POINT_COLOUR", POINT_COLOUR)


def points_layer(points: pd.DataFrame, *, name: str = "Incidents (points)") -> folium.FeatureGroup:
    """Return anonymised incident points, clustered (for roles with point access only).

    Parameters
    ----------
    points
        ``lat``, ``lon`` (WGS84) and ``category`` per incident.
    name
        The layer's name in the layer control.

    Returns
    -------
    folium.FeatureGroup
        The layer, holding one marker cluster.
    """
    group = folium.FeatureGroup(name=name)
    data: list[list[float | str]] = [
        [float(lat), float(lon), label(EXPLOITATION_TYPES, str(category))]
        for lat, lon, category in zip(points["lat"], points["lon"], points["category"], strict=True)
    ]
    fast_marker_cluster(
        data,
        callback=_POINT_CALLBACK,
        control=False,
        disableClusteringAtZoom=17,
        maxClusterRadius=50,
    ).add_to(group)
    return group


def _swatch(colour: str, text: str, *, round_: bool = False) -> str:
    radius = "border-radius:50%;" if round_ else ""
    return f'<i style="background:{colour};{radius}"></i>{html.escape(text)}<br>'


def legend_html(*, k: int = 5, points: bool = False) -> str:
    """Return the map legend as plain HTML.

    Parameters
    ----------
    k
        The disclosure threshold, for the counts' classes.
    points
        Include the incident points (shown to roles with point access only).

    Returns
    -------
    str
        HTML for ``dashboard.maps.add_legend``.
    """
    parts = ["<b>Hot and cold spots (Gi*)</b>"]
    parts += [_swatch(HOTSPOT_COLOURS[b], HOTSPOT_LABELS[b]) for b in (3, 2, 1, -1, -2, -3)]
    parts.append("<b>Flagged places, by assessment</b>")
    parts += [_swatch(STATE_COLOURS[s], STATE_LABELS[s], round_=True) for s in STATE_COLOURS]
    parts.append("<b>Density</b>")
    parts.append(
        "".join(f'<i style="background:{c};margin-right:0"></i>' for c in DENSITY_COLOURS)
        + " low to high<br>"
    )
    parts.append("<b>Incidents per 1 km square</b>")
    classes = (f"fewer than {k}", f"{k} to {4 * k - 1}", f"{4 * k} to {16 * k - 1}")
    parts += [
        _swatch(c, t)
        for c, t in zip(AGGREGATE_COLOURS, (*classes, f"{16 * k} or more"), strict=True)
    ]
    if points:
        parts.append(_swatch(POINT_COLOUR, "An incident (snapped), clustered", round_=True))
    return "".join(parts)


#: Colours of context counts (police-recorded crime, all ages): greys, apart from incident blues.
CONTEXT_COLOURS: tuple[str, ...] = ("#d9d9d9", "#a6a6a6", "#737373", "#404040")


def context_layer(squares: gpd.GeoDataFrame, *, name: str) -> folium.FeatureGroup:
    """Return context counts per 1 km square: public crime of all ages, never exploitation.

    Parameters
    ----------
    squares
        In EPSG:4326 with ``events`` (a number, or text where suppressed) and
        ``level`` (0-3), as ``dashboard.loaders.context_squares``.
    name
        The layer's name, naming the source and "all ages"
        (``store.vocabulary.context_label``).

    Returns
    -------
    folium.FeatureGroup
        The layer; its tooltips say what the count is.
    """
    _require_wgs84(squares, "squares")
    group = folium.FeatureGroup(name=name)
    if squares.empty:
        return group
    shown = squares.assign(events=squares["events"].astype(str), level=squares["level"].astype(int))
    folium.GeoJson(
        geojson(shown, ["events", "level"]),
        name=name,
        style_function=lambda feature: {
            "color": "#525252",
            "weight": 0.4,
            "dashArray": "3",
            "fillColor": CONTEXT_COLOURS[feature["properties"]["level"]],
            "fillOpacity": 0.6,
        },
        tooltip=folium.GeoJsonTooltip(fields=["events"], aliases=[html.escape(name)]),
        control=False,
    ).add_to(group)
    return group


def context_legend_html(name: str) -> str:
    """Return the legend of the context layer: its name (source, all ages) and its greys."""
    swatches = "".join(f'<i style="background:{c};margin-right:0"></i>' for c in CONTEXT_COLOURS)
    return (
        f"<b>{html.escape(name)}, per 1 km square</b><br>{swatches} fewest to most "
        "(context, not exploitation)<br>"
    )
def legend_sections(*, k: int = 5, points: bool = False) -> dict[str, str]:
    """Return the map legend in parts, by the key of the layer each part explains.

    Keys are the Map page's layer keys (``hot``, ``flags``, ``places``, ``density``,
    ``counts``, ``points``); ``dashboard.maps.add_legend`` shows a part only while a
    layer with that ``legend`` option is on the map.

    Parameters
    ----------
    k
        The disclosure threshold, for the counts' classes.
    points
        Include the incident points (shown to roles with point access only).

    Returns
    -------
    dict of str to str
        HTML per layer key.
    """
    states = "".join(_swatch(STATE_COLOURS[s], STATE_LABELS[s], round_=True) for s in STATE_COLOURS)
    classes = (f"fewer than {k}", f"{k} to {4 * k - 1}", f"{4 * k} to {16 * k - 1}")
    parts = {
        "hot": "<b>Hot and cold spots (Gi*)</b>"
        + "".join(_swatch(HOTSPOT_COLOURS[b], HOTSPOT_LABELS[b]) for b in (3, 2, 1, -1, -2, -3)),
        "flags": "<b>Flagged places, by assessment</b>"
        + states
        + '<i style="background:#2c3e50;border-radius:50%"></i>Several places (click to open)<br>',
        "places": "<b>All places, by assessment</b>" + states,
        "density": "<b>Density</b>"
        + "".join(f'<i style="background:{c};margin-right:0"></i>' for c in DENSITY_COLOURS)
        + " low to high<br>",
        "counts": "<b>Incidents per 1 km square</b>"
        + "".join(
            _swatch(c, t)
            for c, t in zip(AGGREGATE_COLOURS, (*classes, f"{16 * k} or more"), strict=True)
        ),
    }
    if points:
        parts["points"] = "<b>Incident points</b>" + _swatch(
            POINT_COLOUR, "An incident (snapped), clustered", round_=True
        )
    parts["context"] = context_legend_html(CONTEXT_LABEL)
    return parts
