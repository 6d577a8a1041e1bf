"""The map as a picture for reports and minutes, drawn offline with matplotlib.

No Streamlit and no network: the view the person is looking at is drawn again from the
same layers (built-up areas and town names, district outlines, hot and cold spot cells,
flagged places by assessment state) in Web Mercator, as on screen, with a legend, a title,
the period and the attribution.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from pyproj import Transformer

from dashboard.layers import HOTSPOT_COLOURS, HOTSPOT_LABELS, STATE_COLOURS, STATE_LABELS
from geo.points import drawable
from reports.charts import DRAWING, new_figure

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["map_png"]

WEB_MERCATOR = "EPSG:3857"
_TO_MERCATOR = Transformer.from_crs(4326, 3857, always_xy=True)


def _fit(view: tuple[float, float, float, float], aspect: float) -> tuple[float, ...]:
    """Return the view in Web Mercator metres, widened to the picture's aspect."""
    minx, miny = _TO_MERCATOR.transform(view[0], view[1])
    maxx, maxy = _TO_MERCATOR.transform(view[2], view[3])
    width, height = max(maxx - minx, 1.0), max(maxy - miny, 1.0)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    if width / height < aspect:
        width = height * aspect
    else:
        height = width / aspect
    return cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2


def map_png(
    *,
    view: tuple[float, float, float, float],
    title: str,
    subtitle: str,
    districts: gpd.GeoDataFrame,
    built_up: gpd.GeoDataFrame | None,
    towns: gpd.GeoDataFrame | None,
    cells: gpd.GeoDataFrame | None,
    flags: gpd.GeoDataFrame | None,
    states: pd.Series,
    attribution: str,
    size: tuple[float, float] = (12.0, 8.0),
    dpi: int = 120,
) -> bytes:
    """Draw the current map view as a PNG.

    Every frame must be in WGS84 (EPSG:4326); the picture is drawn in Web Mercator, as
    the map on screen.

    Parameters
    ----------
    view : tuple of float
        ``(minx, miny, maxx, maxy)`` in degrees: the map's bounds on screen.
    title, subtitle : str
        Drawn above the map (the subtitle carries the period and the filters).
    districts : geopandas.GeoDataFrame
        District outlines.
    built_up, towns : geopandas.GeoDataFrame or None
        The offline base layer (``towns`` with ``name`` and ``rank``).
    cells : geopandas.GeoDataFrame or None
        Hot and cold spot cells with ``bin`` (as drawn on the map), or None when that
        layer is off.
    flags : geopandas.GeoDataFrame or None
        Flagged places with ``id``, or None when that layer is off.
    states : pandas.Series
        Assessment state by place id (missing ids count as ``none``).
    attribution : str
        Drawn under the map.
    size : tuple of float, default (12, 8)
        Inches.
    dpi : int, default 120
        Dots per inch.

    Returns
    -------
    bytes
        The PNG file.
    """
    fig = new_figure(figsize=size, dpi=dpi)  # not pyplot: sessions draw at once
    with DRAWING:
        ax = fig.add_axes((0.01, 0.06, 0.98, 0.84))
        box = ax.get_position()
        aspect = (box.width * size[0]) / (box.height * size[1])
        minx, miny, maxx, maxy = _fit(view, aspect)
        ax.set_facecolor("#f3f3ef")
        if built_up is not None and not built_up.empty:
            built_up.to_crs(WEB_MERCATOR).plot(ax=ax, color="#dcd6c8", linewidth=0)
        districts.to_crs(WEB_MERCATOR).boundary.plot(ax=ax, color="#34495e", linewidth=1.2)
        handles: list[Patch | Line2D] = []
        if cells is not None and not cells.empty:
            shown = cells.loc[cells["bin"] != 0].to_crs(WEB_MERCATOR)
            for value in (3, 2, 1, -1, -2, -3):
                part = shown.loc[shown["bin"] == value]
                if part.empty:
                    continue
                colour = HOTSPOT_COLOURS[value]
                part.plot(ax=ax, color=colour, edgecolor=colour, linewidth=0.8, alpha=0.75)
                handles.append(
                    Patch(facecolor=colour, edgecolor=colour, label=HOTSPOT_LABELS[value])
                )
        if flags is not None and not flags.empty:
            drawn = flags.loc[drawable(flags)].to_crs(WEB_MERCATOR)
            state = drawn["id"].map(states).fillna("none").astype(str)
            for key, colour in STATE_COLOURS.items():
                part = drawn.loc[state == key]
                if part.empty:
                    continue
                ax.scatter(
                    part.geometry.x,
                    part.geometry.y,
                    s=42,
                    c=colour,
                    edgecolors="white",
                    linewidths=1.0,
                    zorder=5,
                )
                handles.append(
                    Line2D(
                        [],
                        [],
                        marker="o",
                        linestyle="",
                        markersize=7,
                        markerfacecolor=colour,
                        markeredgecolor="white",
                        label=f"Flagged: {STATE_LABELS[key]}",
                    )
                )
        if towns is not None and not towns.empty:
            halo = [patheffects.withStroke(linewidth=3, foreground="white")]
            points = towns.to_crs(WEB_MERCATOR)
            for name, rank, point in zip(
                points["name"], points["rank"], points.geometry, strict=True
            ):
                if minx <= point.x <= maxx and miny <= point.y <= maxy:
                    ax.text(
                        point.x,
                        point.y,
                        str(name),
                        ha="center",
                        va="center",
                        zorder=6,
                        fontsize={1: 11, 2: 9.5}.get(int(rank), 8.5),
                        fontweight="bold" if int(rank) < 3 else "normal",
                        color="#3b3a36",
                        path_effects=halo,
                    )
        ax.set_xlim(minx, maxx)
        ax.set_ylim(miny, maxy)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_edgecolor("#999999")
        if handles:
            ax.legend(
                handles=handles,
                loc="lower left",
                fontsize=8,
                framealpha=0.92,
                title="Legend",
                title_fontsize=9,
            )
        fig.text(0.01, 0.965, title, fontsize=15, fontweight="bold", va="top")
        fig.text(0.01, 0.925, subtitle, fontsize=9.5, color="#444444", va="top")
        fig.text(0.01, 0.02, attribution, fontsize=7.5, color="#555555", va="bottom")
        scale = _scale_text(minx, maxx, miny, maxy)
        fig.text(0.99, 0.02, scale, fontsize=7.5, color="#555555", va="bottom", ha="right")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi)
        return buffer.getvalue()


def _scale_text(minx: float, maxx: float, miny: float, maxy: float) -> str:
    """Return the picture's width on the ground in km (Mercator corrected for latitude)."""
    lat = np.degrees(2 * np.arctan(np.exp(((miny + maxy) / 2) / 6378137.0)) - np.pi / 2)
    km = (maxx - minx) * np.cos(np.radians(lat)) / 1000
    return f"Width of the picture: about {km:,.0f} km"
