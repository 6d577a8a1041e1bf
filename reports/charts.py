"""Charts and maps of the meeting drawn as images, for the screen and the exported pack.

Plotly draws the interactive charts on the screen; the pack needs images that work with no
browser and no internet, so they are drawn here with matplotlib (Agg backend) from the
same :class:`reports.meeting.MeetingFigures`. No Streamlit here.
"""

from __future__ import annotations

import contextlib
import functools
import io
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as MplFigure
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from matplotlib.ticker import StrMethodFormatter
from matplotlib.transforms import Bbox

from geo.points import BNG
from reports.meeting import MeetingFigures

__all__ = [
    "EMERGING_COLOURS",
    "chart_marks",
    "emerging_map_figure",
    "emerging_map_png",
    "separate",
    "text_box",
    "trend_figure",
    "trend_png",
]

EMERGING_COLOURS: dict[str, str] = {
    "Persistent": "#b2182b",
    "Emerging": "#f46d43",
    "Intermittent": "#fdae61",
    "Former": "#92c5de",
}
"""Colour of each simple emerging category, on the map and in its legend."""

_STYLE: dict[str, Any] = {
    "font.size": 15,
    "axes.titlesize": 18,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "pdf.fonttype": 42,
}


DRAWING = threading.RLock()
"""Held while a chart is drawn: the style is matplotlib's global ``rcParams``.

Charts are drawn by many sessions' threads at once, so they are made with matplotlib's
object API (a ``Figure`` on its own Agg canvas), never through pyplot's shared register of
figures: two threads there could be handed the same figure number, and one's ``close``
left the other's figure without a canvas (``'FigureCanvasBase' object has no attribute
'get_renderer'``, 6 of 26 slide steps at 100 sessions, ``benchmarks/bench_sessions.py``).
"""


@contextlib.contextmanager
def styled() -> Iterator[None]:
    """Draw with the charts' style, one thread at a time (see :data:`DRAWING`)."""
    with DRAWING, matplotlib.rc_context(_STYLE):  # type: ignore[arg-type]  # rc keys
        yield


def new_figure(**kwargs: Any) -> MplFigure:
    """Return a figure on its own Agg canvas, outside pyplot (see :data:`DRAWING`)."""
    figure = MplFigure(**kwargs)
    FigureCanvasAgg(figure)
    return figure


def _png(figure: MplFigure) -> bytes:
    buffer = io.BytesIO()
    with DRAWING:
        figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight", facecolor="white")
    return buffer.getvalue()


def chart_marks(figures: MeetingFigures) -> dict[str, str]:
    """Return one label per notable month, e.g. ``{"2026-03": "Peak, +39%"}``.

    A month that is both the peak and a sharp rise gets one label holding both, so the two
    are never written over each other.
    """
    marks: dict[str, list[str]] = {}
    for month, mark in figures.marks:
        marks.setdefault(month, []).append(mark)
    return {month: ", ".join(words) for month, words in marks.items()}


def text_box(label: Text, renderer: Any) -> Bbox:
    """Return the box of a label's words and their white ground.

    An annotation's own window extent also holds its arrow, which grows as it moves.
    """
    words = Text.get_window_extent(label, renderer)
    ground = label.get_bbox_patch()
    if ground is None:
        return words
    pad = float(getattr(ground.get_boxstyle(), "pad", 0.3)) * float(label.get_fontsize())
    return words.padded(pad * label.figure.dpi / 72)


def _overlaps(box: Bbox, others: list[Bbox], gap: float) -> bool:
    return any(box.expanded(1, 1).padded(gap).overlaps(other) for other in others)


def trend_figure(figures: MeetingFigures) -> MplFigure | None:
    """Return the monthly incidents and referrals chart (None with no data).

    Every month of the window is on the axis. Notable months carry one label each
    (:func:`chart_marks`), on a white ground above the point; a label that would touch
    another label, the legend or the axes' top is moved up (and the axes made taller)
    until it does not, so no two labels ever overlap, on the screen or in the pack.
    Hidden small counts (text such as ``"<5"``) are left out as gaps in the lines.
    """
    monthly = figures.monthly
    values = monthly[["incidents", "referrals"]].apply(
        lambda c: pd.to_numeric(c.astype(str).str.replace(",", ""), errors="coerce")
    )
    if values.fillna(0).to_numpy().sum() == 0:
        return None
    months = list(pd.PeriodIndex(monthly["month"], freq="M").strftime("%b\n%Y"))
    top = float(values.max().max())
    with styled():
        figure = new_figure(figsize=(12, 4.8), layout="constrained")
        axes = figure.subplots()
        axes.plot(months, values["incidents"], marker="o", lw=3, color="#1f4e79", label="Incidents")
        axes.plot(months, values["referrals"], marker="s", lw=3, color="#c55a11", label="Referrals")
        axes.set_ylim(bottom=0, top=top * 1.3)
        axes.grid(axis="y", alpha=0.3)
        axes.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        axes.tick_params(axis="x", labelsize=12)
        axes.set_xlim(-0.5, len(months) - 0.5)
        legend = axes.legend(
            frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=14
        )
        position = {m: i for i, m in enumerate(monthly["month"])}
        labels = []
        for month, text in sorted(chart_marks(figures).items()):
            i = position[month]
            y = values["incidents"].iloc[i]
            if pd.isna(y):
                continue
            labels.append(
                axes.annotate(
                    text,
                    (i, y),
                    xytext=(0, 14),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize=13,
                    fontweight="bold",
                    bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "#888888"},
                    arrowprops={"arrowstyle": "-", "color": "#555555"},
                    annotation_clip=False,
                )
            )
        _make_room(figure, axes, labels, legend)
        return figure


def separate(figure: MplFigure, labels: list, *, direction: float = 1.0) -> None:
    """Move text labels (offset in points) until no two overlap, in the order given.

    Each label that touches one already placed is moved by its own height (up for
    ``direction`` 1, down for -1), up to twelve times.
    """
    placed: list[Bbox] = []
    for label in labels:
        label.set_in_layout(False)  # the layout is the axes'; labels move within them
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]  # Agg's
    figure.canvas.draw()
    for label in labels:
        for _ in range(12):
            box = text_box(label, renderer)
            if not _overlaps(box, placed, 3):
                break
            x, y = label.get_position()
            label.set_position((x, y + direction * (box.height / figure.dpi * 72 + 3)))
        placed.append(text_box(label, renderer))


def _make_room(figure: MplFigure, axes: Axes, labels: list, legend: object) -> None:
    """Move labels up until none touches another; grow the axes to hold them under the legend."""
    separate(figure, labels)
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]  # Agg's
    for _ in range(8):  # keep every label under the legend, inside the axes
        figure.canvas.draw()
        boxes = [text_box(label, renderer) for label in labels]
        highest = max((box.y1 for box in boxes), default=0)
        if highest <= axes.get_window_extent(renderer).y1 - 2:
            break
        bottom, top = axes.get_ylim()
        axes.set_ylim(bottom, top * 1.15)


def trend_png(figures: MeetingFigures) -> bytes | None:
    """Return :func:`trend_figure` as PNG bytes (None with no data).

    The last few pictures are kept, by what they show (the monthly counts as disclosed and
    the marks), so stepping back to the slide does not draw it again.
    """
    return _trend_png(figures.monthly.to_json(orient="split"), tuple(figures.marks))


@functools.lru_cache(maxsize=16)
def _trend_png(monthly: str, marks: tuple[tuple[str, str], ...]) -> bytes | None:
    shown = SimpleNamespace(
        monthly=pd.read_json(io.StringIO(monthly), orient="split", dtype=False), marks=list(marks)
    )
    figure = trend_figure(shown)  # type: ignore[arg-type]
    return None if figure is None else _png(figure)


def emerging_map_png(
    figures: MeetingFigures, districts: gpd.GeoDataFrame, *, title: str = ""
) -> bytes:
    """Return :func:`emerging_map_figure` as PNG bytes."""
    return _png(emerging_map_figure(figures, districts, title=title))


def emerging_map_figure(
    figures: MeetingFigures, districts: gpd.GeoDataFrame, *, title: str = ""
) -> MplFigure:
    """Return the map of emerging hot spot cells over the district outlines.

    District names are kept apart (:func:`separate`); the legend is beside the map.

    Parameters
    ----------
    figures
        The meeting's figures (``emerging_cells`` in WGS84, flagged places).
    districts
        District outlines (any CRS), drawn as thin lines with their names.
    title
        A title above the map.
    """
    with styled():
        figure = new_figure(figsize=(10, 8.5), layout="constrained")
        axes = figure.subplots()
        outlines = districts.to_crs(BNG)
        outlines.boundary.plot(ax=axes, color="#555555", linewidth=0.8)
        cells = figures.emerging_cells.to_crs(BNG)
        handles = []
        for name, colour in EMERGING_COLOURS.items():
            chosen = cells.loc[cells["simple_category"] == name]
            if not chosen.empty:
                chosen.plot(ax=axes, color=colour, edgecolor="none")
            handles.append(Rectangle((0, 0), 1, 1, color=colour, label=name))
        names = []
        for row in outlines.sort_values("name").itertuples():
            point = row.geometry.representative_point()
            names.append(
                axes.annotate(
                    str(row.name),
                    (point.x, point.y),
                    xytext=(0, 0),
                    textcoords="offset points",
                    ha="center",
                    va="center",
                    fontsize=11,
                    color="#222222",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.6},
                )
            )
        axes.legend(
            handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=13
        )
        axes.set_axis_off()
        if title:
            axes.set_title(title)
        separate(figure, names, direction=-1)
        return figure
