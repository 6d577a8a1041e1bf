"""Charts and maps of the meeting drawn as images, for the screen and the exported pack.

Plotly draws the interactive charts on the screen; the pack needs images that work with no
browser and no internet, so they are drawn here with matplotlib (Agg backend) from the
same :class:`store.meeting.MeetingFigures`. No Streamlit here.
"""

from __future__ import annotations

import io

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd

from store.meeting import MeetingFigures

__all__ = ["EMERGING_COLOURS", "emerging_map_png", "trend_png"]

EMERGING_COLOURS: dict[str, str] = {
    "Persistent": "#b2182b",
    "Emerging": "#f46d43",
    "Intermittent": "#fdae61",
    "Former": "#92c5de",
}
"""Colour of each simple emerging category, on the map and in its legend."""

_STYLE = {
    "font.size": 15,
    "axes.titlesize": 18,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "pdf.fonttype": 42,
}


def _png(figure: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight", facecolor="white")
    plt.close(figure)
    return buffer.getvalue()


def trend_png(figures: MeetingFigures) -> bytes | None:
    """Return the monthly incidents and referrals chart as PNG bytes (None with no data).

    Hidden small counts (text such as ``"<5"``) are left out as gaps in the lines, as on
    the screen.
    """
    monthly = figures.monthly
    values = monthly[["incidents", "referrals"]].apply(
        lambda c: pd.to_numeric(c.astype(str).str.replace(",", ""), errors="coerce")
    )
    if values.fillna(0).to_numpy().sum() == 0:
        return None
    months = pd.PeriodIndex(monthly["month"], freq="M").strftime("%b %y")
    with plt.rc_context(_STYLE):
        figure, axes = plt.subplots(figsize=(11, 4.6))
        axes.plot(months, values["incidents"], marker="o", lw=3, color="#1f4e79", label="Incidents")
        axes.plot(months, values["referrals"], marker="s", lw=3, color="#c55a11", label="Referrals")
        position = {m: i for i, m in enumerate(monthly["month"])}
        for month, mark in figures.marks:
            i = position[month]
            axes.annotate(
                mark,
                (i, values["incidents"].iloc[i]),
                xytext=(0, 18),
                textcoords="offset points",
                ha="center",
                fontsize=13,
                fontweight="bold",
                arrowprops={"arrowstyle": "-", "color": "#555555"},
            )
        axes.set_ylim(bottom=0, top=values.max().max() * 1.15)
        axes.grid(axis="y", alpha=0.3)
        axes.legend(frameon=False, loc="upper left")
        axes.tick_params(axis="x", rotation=0, labelsize=12)
        return _png(figure)


def emerging_map_png(
    figures: MeetingFigures, districts: gpd.GeoDataFrame, *, title: str = ""
) -> bytes:
    """Return the map of emerging hot spot cells over the district outlines as PNG bytes.

    Parameters
    ----------
    figures
        The meeting's figures (``emerging_cells`` in WGS84, flagged places).
    districts
        District outlines (any CRS), drawn as thin lines with their names.
    title
        A title above the map.
    """
    with plt.rc_context(_STYLE):
        figure, axes = plt.subplots(figsize=(9, 9))
        outlines = districts.to_crs(27700)
        outlines.boundary.plot(ax=axes, color="#555555", linewidth=0.8)
        cells = figures.emerging_cells.to_crs(27700)
        handles = []
        for name, colour in EMERGING_COLOURS.items():
            chosen = cells.loc[cells["simple_category"] == name]
            if not chosen.empty:
                chosen.plot(ax=axes, color=colour, edgecolor="none")
            handles.append(plt.Rectangle((0, 0), 1, 1, color=colour, label=name))
        for row in outlines.itertuples():
            point = row.geometry.representative_point()
            axes.annotate(
                str(row.name), (point.x, point.y), ha="center", fontsize=10, color="#333333"
            )
        axes.legend(handles=handles, loc="lower left", frameon=True, fontsize=12)
        axes.set_axis_off()
        if title:
            axes.set_title(title)
        return _png(figure)
