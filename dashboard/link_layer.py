"""The Map's Links layer (issue 19): lines between linked places, thicker for more young people.

No Streamlit calls: the page passes the links one viewer may see (``services.links.LinksView``,
counts already protected) and the place clicked, whose cluster is drawn stronger.
"""

from __future__ import annotations

from html import escape

import folium
import geopandas as gpd

from geo.points import BNG, WGS84
from services.links import LinksView

__all__ = ["links_layer"]

LINE = "#b5483b"
FAINT = "#8a8a8a"


def _width(young_people: object) -> float:
    """Return a line width from a count (a protected ``"<k"`` is drawn thinnest)."""
    try:
        n = float(young_people)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        n = 1.0
    return 2.0 + min(n, 30.0) / 2.5


def links_layer(
    view: LinksView, *, highlight_place_id: int | None = None, name: str = "Links between places"
) -> folium.FeatureGroup:
    """Return the links as lines in WGS84, and the linked places as rings.

    Parameters
    ----------
    view
        The links a viewer may see; ``places`` holds ``place_id``, ``easting`` and
        ``northing`` (EPSG:27700).
    highlight_place_id
        The place clicked on the map: its cluster is drawn strong, the rest faint.
    name
        The layer's name in the layer control.
    """
    group = folium.FeatureGroup(name=name)
    places = view.places.dropna(subset=["easting", "northing"])
    if places.empty:
        return group
    points = gpd.GeoSeries.from_xy(places["easting"], places["northing"], crs=BNG).to_crs(WGS84)
    where = dict(zip(places["place"], zip(points.y, points.x, strict=True), strict=True))
    cluster = None
    if highlight_place_id is not None:
        hit = places.loc[places["place_id"] == highlight_place_id, "cluster"]
        cluster = int(hit.iloc[0]) if len(hit) else None
    for link in view.links.itertuples(index=False):
        if link.place_a not in where or link.place_b not in where:
            continue
        strong = cluster is None or link.cluster == cluster
        folium.PolyLine(
            [where[link.place_a], where[link.place_b]],
            color=LINE if strong else FAINT,
            weight=_width(link.young_people),
            opacity=0.85 if strong else 0.25,
            tooltip=folium.Tooltip(
                escape(
                    f"{link.name_a} – {link.name_b}: {link.young_people} young people, "
                    f"{link.persons_of_concern} persons of concern"
                ),
                parse_html=False,
            ),
        ).add_to(group)
    for row, (lat, lon) in zip(
        places.itertuples(index=False), zip(points.y, points.x, strict=True), strict=True
    ):
        strong = cluster is None or row.cluster == cluster
        folium.CircleMarker(
            (lat, lon),
            radius=7 if strong else 4,
            color=LINE if strong else FAINT,
            weight=3,
            fill=False,
            tooltip=folium.Tooltip(
                escape(f"{row.name}: cluster {row.cluster}, linked to {row.linked_places} places"),
                parse_html=False,
            ),
        ).add_to(group)
    return group
