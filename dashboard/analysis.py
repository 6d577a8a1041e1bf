"""The Map page's analysis for one viewer: hot spots, trends, flagged places, density, counts.

No Streamlit here: every function takes plain values and frames, so it can be tested
directly; ``dashboard.loaders`` caches them at the page boundary.

The incidents are read once per viewer and filter as counts per snapped location, month
and type (:func:`read_sites`), never as one row per incident, so the work after the query
does not grow with the number of incidents, only with the number of places they were
snapped to. Metric work is in British National Grid (EPSG:27700); frames for display are
returned in WGS84.

Disclosure: for a viewer without point access (``store.disclosure.needs_suppression``)
every count returned here is perturbed by the cell key method (``store.disclosure``: the
site rows carry ``key``, the sum of their record keys, and every count is returned with
the noise of its own records, small ones as ``"<5"``), flag reasons are written again from
the perturbed numbers, hot-spot cells are at least :data:`MIN_CELL_SIZE` metres and none
is drawn whose 3x3 neighbourhood holds fewer than k incidents, the density surface keeps
only levels that at least k incidents must have made, and :func:`incident_points` refuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Engine, func, select

from geo.density import density_bands, kernel_density
from geo.emerging import emerging_from_counts
from geo.flags import render_why_not
from geo.grid import Grid, contiguity, locate_xy
from geo.hotspots import cell_size_advice, confidence_bins, gi_star_test
from geo.points import BNG, WGS84, drawable
from store import sites as store_sites
from store.access import Viewer
from store.audit import log_event
from store.disclosure import (
    disclose_counts,
    disclose_flags,
    needs_suppression,
    protect_table,
)
from store.measures import monthly_counts
from store.models import Incident
from store.sites import TREND_MONTHS, as_points, flag_sites, sites_in
from store.sites import located as located_rows
from store.vocabulary import AGE_BANDS, AGENCIES, EXPLOITATION_TYPES, label

if TYPE_CHECKING:
    from dashboard.filters import Filters

__all__ = [
    "CONFIDENCE_LEVELS",
    "DEFAULT_SETTINGS",
    "MIN_CELL_SIZE",
    "MIN_INCIDENTS",
    "POINTS_LIMIT",
    "RADII",
    "Click",
    "MapQuery",
    "MapSettings",
    "MonthlyPicture",
    "aggregate_squares",
    "cell_geometry",
    "density_layer",
    "disclose_reason",
    "events_near",
    "flagged_places",
    "hot_cells",
    "incident_points",
    "locate_click",
    "monthly_picture",
    "period_months",
    "period_totals",
    "place_summary",
    "read_sites",
    "record_panel_view",
    "settings_from_params",
    "settings_to_params",
]

CONFIDENCE_LEVELS: dict[int, tuple[int, float]] = {90: (1, 0.10), 95: (2, 0.05), 99: (3, 0.01)}
"""Confidence (per cent) to (smallest Gi* bin shown, FDR q-value below which a place's cell
counts as a hot spot for flagging)."""

RADII: tuple[int, ...] = (100, 200, 300, 500)
"""Distances (metres) offered for counting incidents around a place."""

MIN_INCIDENTS: tuple[int, ...] = (3, 5, 10, 15, 20, 30, 50, 100)
"""Thresholds offered: flag a place with at least this many incidents within the radius."""

MIN_CELL_SIZE = 250
"""The smallest hot-spot cell (metres) drawn for a role without point access: finer cells
would line up with the 100 m squares that imports snap to and pin single incidents."""

POINTS_LIMIT = 5_000
"""Most incident points sent to a lead's browser; above it the map shows aggregates only."""

AGGREGATE_SIZE = 1_000.0
"""Side (metres) of the squares in which incidents and referrals are counted."""

DENSITY_BANDWIDTH = 400.0
"""Kernel bandwidth of the density surface (metres on the ground, so zoom does not change it)."""

DENSITY_CELL = 100.0
"""Raster cell of the density surface (metres)."""


@dataclass(frozen=True)
class MapSettings:
    """The map's own analysis settings (the sidebar holds the shared filters).

    Attributes
    ----------
    confidence
        90, 95 or 99: the least confidence at which a cell is drawn as a hot or cold spot,
        and at which a place's cell counts as a hot spot for flagging.
    radius
        Metres around a place within which incidents are counted.
    min_incidents
        Flag a place with at least this many incidents within ``radius`` in the period.
    """

    confidence: int = 95
    radius: int = 200
    min_incidents: int = 10


DEFAULT_SETTINGS = MapSettings()

_PARAMS = {"confidence": "conf", "radius": "radius", "min_incidents": "min"}
_ALLOWED: dict[str, tuple[int, ...]] = {
    "confidence": tuple(CONFIDENCE_LEVELS),
    "radius": RADII,
    "min_incidents": MIN_INCIDENTS,
}
_WORDS = {
    "confidence": ("confidence", "%"),
    "radius": ("radius", " m"),
    "min_incidents": ("threshold", " incidents"),
}


def settings_from_params(params: Mapping[str, str]) -> tuple[MapSettings, list[str]]:
    """Read the map settings from URL query parameters (``conf``, ``radius``, ``min``).

    Parameters
    ----------
    params
        The query parameters (``st.query_params``); other keys are ignored.

    Returns
    -------
    MapSettings, list of str
        The settings, each value that is not offered replaced by its default, and a
        plain-English notice for each such value.

    Examples
    --------
    >>> settings_from_params({"conf": "99", "radius": "300"})
    (MapSettings(confidence=99, radius=300, min_incidents=10), [])
    >>> settings_from_params({"min": "lots"})[1]
    ["The link's threshold 'lots' is not offered; using 10 incidents."]
    """
    values: dict[str, int] = {}
    notices: list[str] = []
    for field, key in _PARAMS.items():
        raw = params.get(key)
        if raw is None or raw == "":
            continue
        try:
            value = int(raw)
        except ValueError:
            value = -1
        if value in _ALLOWED[field]:
            values[field] = value
        else:
            word, unit = _WORDS[field]
            notices.append(
                f"The link's {word} '{raw}' is not offered; using "
                f"{getattr(DEFAULT_SETTINGS, field)}{unit}."
            )
    return MapSettings(**values), notices


def settings_to_params(settings: MapSettings) -> dict[str, str]:
    """Return the query parameters that reproduce the settings (defaults left out).

    Examples
    --------
    >>> settings_to_params(MapSettings(confidence=99))
    {'conf': '99'}
    """
    return {
        key: str(getattr(settings, field))
        for field, key in _PARAMS.items()
        if getattr(settings, field) != getattr(DEFAULT_SETTINGS, field)
    }


@dataclass(frozen=True)
class MapQuery:
    """What the map shows: plain values, so that the cached loaders can be keyed on it.

    Attributes
    ----------
    districts
        The districts to read, already within the viewer's scope (``Viewer.scope``).
    types, ages, agencies
        Exploitation types, age bands and source agencies (empty: all).
    first, last
        The period's first and last month as ``"YYYY-MM"``; empty strings for all data.
    cell_size
        Hot-spot cell size in metres.
    """

    districts: tuple[str, ...]
    types: tuple[str, ...] = ()
    ages: tuple[str, ...] = ()
    agencies: tuple[str, ...] = ()
    first: str = ""
    last: str = ""
    cell_size: int = 250


def period_months(start: date | None, end: date | None) -> tuple[str, str]:
    """Return the months of a period as ``"YYYY-MM"`` strings (empty for an open end).

    Examples
    --------
    >>> period_months(date(2026, 8, 1), date(2026, 10, 31))
    ('2026-08', '2026-10')
    >>> period_months(None, None)
    ('', '')
    """
    return (
        f"{start:%Y-%m}" if start is not None else "",
        f"{end:%Y-%m}" if end is not None else "",
    )


def map_query(
    filters: Filters,
    scope: tuple[str, ...],
    latest: date,
    months: pd.Series,
    *,
    viewer: Viewer | None = None,
) -> MapQuery:
    """Return what the map shows for the sidebar's filters, within a viewer's scope.

    Parameters
    ----------
    filters
        The sidebar's choice.
    scope
        The districts to read (``Viewer.scope``).
    latest
        The newest data date: the end of the preset periods.
    months
        The months that have data (``"YYYY-MM"``): an open-ended period starts at the first.
    viewer
        Who will see it: for a role without point access the cell size is at least
        :data:`MIN_CELL_SIZE`.

    Examples
    --------
    >>> from dashboard.filters import Filters
    >>> q = map_query(Filters("quarter"), ("E07000197",), date(2026, 10, 5), pd.Series([]))
    >>> q.first, q.last, q.cell_size
    ('2026-08', '2026-10', 250)
    >>> map_query(Filters("all"), ("E07000197",), date(2026, 10, 5), pd.Series(["2024-01"])).first
    '2024-01'
    """
    first, last = period_months(*filters.window(latest))
    known = months.dropna()
    cell_size = filters.cell_size
    if viewer is not None and needs_suppression(viewer):
        cell_size = max(cell_size, MIN_CELL_SIZE)
    return MapQuery(
        districts=scope,
        types=filters.types,
        ages=filters.ages,
        agencies=filters.agencies,
        first=first or (str(known.min()) if not known.empty else f"{latest:%Y-%m}"),
        last=last or f"{latest:%Y-%m}",
        cell_size=cell_size,
    )


# Reading ---------------------------------------------------------------------------------


def read_sites(
    engine: Engine,
    viewer: Viewer,
    *,
    kind: str = "incidents",
    districts: tuple[str, ...] = (),
    ages: tuple[str, ...] = (),
    agencies: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Return :func:`store.sites.read_sites` for the districts in the viewer's scope.

    ``districts`` are those wanted, all of the viewer's when empty; the other arguments
    are those of :func:`store.sites.read_sites`.

    Raises
    ------
    store.access.AccessDenied
        When a district outside the viewer's scope is asked for.
    """
    return store_sites.read_sites(
        engine, viewer.scope(districts), kind=kind, ages=ages, agencies=agencies
    )


def _counts(grid: Grid, sites: pd.DataFrame, column: str = "n") -> np.ndarray:
    located = located_rows(sites)
    cell = locate_xy(grid, located["easting"].to_numpy(), located["northing"].to_numpy())
    ok = cell >= 0
    weights = located[column].to_numpy()[ok] if column in located else np.zeros(int(ok.sum()))
    return np.bincount(cell[ok], weights=weights, minlength=grid.n_cells).astype(np.int64)


def _shown(values: np.ndarray, keys: np.ndarray, viewer: Viewer, k: int) -> list[int | str]:
    """Return counts as the viewer may see them: exact, or perturbed from their key sums."""
    if needs_suppression(viewer):
        return disclose_counts(values, keys, k=k)
    return [int(v) for v in values]


def period_totals(sites: pd.DataFrame, *, viewer: Viewer, k: int = 5) -> dict[str, int | str]:
    """Return the period's headline counts as the viewer may see them.

    Parameters
    ----------
    sites
        The period's :func:`read_sites` rows (types and months already chosen).
    viewer, k
        Who will see them, and the disclosure threshold.

    Returns
    -------
    dict
        ``"total"``: every event; ``"unlocated"``: those with no location (online or
        unknown). Each exact for a lead, perturbed as its own cell otherwise.
    """
    unlocated = sites["easting"].isna() | sites["northing"].isna()
    keys = sites["key"] if "key" in sites else pd.Series(0, index=sites.index)
    counts = np.array([sites["n"].sum(), sites.loc[unlocated, "n"].sum()], dtype=np.int64)
    key_sums = np.array([keys.sum(), keys[unlocated].sum()], dtype=np.int64)
    total, without = _shown(counts, key_sums, viewer, k)
    return {"total": total, "unlocated": without}


def _thin_neighbourhoods(grid: Grid, counts: np.ndarray, k: int) -> np.ndarray:
    """Return True for each cell whose 3x3 neighbourhood (itself included) holds fewer than k."""
    return np.asarray(contiguity(grid) @ counts) < k


# Hot spots ---------------------------------------------------------------------------------


def cell_geometry(grid: Grid, index: np.ndarray, *, crs: str = WGS84) -> gpd.GeoSeries:
    """Return the polygons of some cells of a grid, in WGS84 for display by default.

    Parameters
    ----------
    grid
        The grid.
    index
        Cell positions in the grid.
    crs
        Output CRS.

    Returns
    -------
    geopandas.GeoSeries
        One polygon per cell, in the order given.
    """
    return gpd.GeoSeries(grid.geometry[np.asarray(index, dtype=np.int64)], crs=BNG).to_crs(crs)


def hot_cells(
    sites: pd.DataFrame,
    grid: Grid,
    *,
    confidence: int,
    viewer: Viewer,
    k: int = 5,
) -> gpd.GeoDataFrame:
    """Return the cells that are Gi* hot or cold spots at a confidence, for the map.

    The statistic is :func:`geo.hotspots.gi_star_test` (exact p-values, edge cells mostly
    outside the area left out) with false discovery rate control, on
    the counts of the period's events per cell (as :func:`geo.hotspots.hotspot_cells`).

    Parameters
    ----------
    sites
        The period's :func:`read_sites` rows.
    grid
        The grid.
    confidence
        90, 95 or 99: cells less significant than this are left out.
    viewer
        Who will see the counts (suppressed for roles without point access).
    k
        The disclosure threshold.

    Returns
    -------
    geopandas.GeoDataFrame
        In WGS84: ``cell``, ``cell_id``, ``bin`` (-3..3), ``count`` (int, or ``"<5"``) and
        the cell square.
    """
    min_bin = CONFIDENCE_LEVELS[confidence][0]
    counts = _counts(grid, sites)
    keys = _counts(grid, sites, "key")
    if counts.sum() == 0 or grid.n_cells < 3:
        index = np.zeros(0, dtype=np.int64)
        bins = np.zeros(0, dtype=np.int8)
    else:
        test = gi_star_test(counts, grid)
        all_bins = confidence_bins(test.z, test.q())
        drawn = np.abs(all_bins) >= min_bin
        if needs_suppression(viewer):
            drawn &= ~_thin_neighbourhoods(grid, counts, k)
        index = np.flatnonzero(drawn)
        bins = all_bins[index]
    return gpd.GeoDataFrame(
        {
            "cell": index,
            "cell_id": grid.cell_ids[index].astype(str),
            "bin": bins.astype(int),
            "count": _shown(counts[index], keys[index], viewer, k),
        },
        geometry=cell_geometry(grid, index).array,
        crs=WGS84,
    )


def cell_size_note(sites: pd.DataFrame, grid: Grid, *, sizes: tuple[int, ...]) -> str:
    """Return the map's note when the squares are too small for the period's incidents.

    Gi* needs a few incidents per neighbourhood (:func:`geo.hotspots.cell_size_advice`).
    The note names one of the offered sizes, never the count itself, so it tells no reader
    a small number.

    Parameters
    ----------
    sites
        The period's :func:`read_sites` rows.
    grid
        The grid.
    sizes
        The cell sizes the map offers, in metres.

    Returns
    -------
    str
        The note, or ``""`` when the size is fine or there is nothing to count.
    """
    counts = _counts(grid, sites)
    if counts.sum() == 0 or grid.n_cells < 3:
        return ""
    advice = cell_size_advice(int(counts.sum()), grid)
    if not advice.too_small or advice.suggested is None:
        return ""
    better = [size for size in sizes if size >= advice.suggested]
    suggestion = (
        f"{min(better)} m squares" if better else f"{max(sizes)} m squares and a longer period"
    )
    return (
        f"Few incidents for {grid.cell_size:g} m squares: on average a square and its "
        f"neighbours hold fewer than {advice.target:g} in this period, so few hot spots can be "
        f"told apart from chance. Try {suggestion}."
    )


@dataclass(frozen=True)
class MonthlyPicture:
    """Gi* month by month over the trend window, for the time slider.

    Attributes
    ----------
    months
        ``"YYYY-MM"``, oldest first.
    cells
        One row per cell and month in which the cell is significant: ``month``, ``cell``
        (position in the grid), ``bin`` and ``count`` (suppressed where needed).
    category
        The Esri emerging hot spot category of every significant cell over the window,
        by cell position.
    """

    months: tuple[str, ...]
    cells: pd.DataFrame
    category: dict[int, str]


def monthly_picture(
    sites: pd.DataFrame,
    grid: Grid,
    *,
    last: str,
    confidence: int,
    viewer: Viewer,
    k: int = 5,
    months: int = TREND_MONTHS,
) -> MonthlyPicture:
    """Return the month-by-month hot spots and each cell's emerging hot spot category.

    The same statistics as :func:`geo.emerging.emerging_hotspots` (Gi* per month, FDR
    within each month, Mann-Kendall on each cell's z-scores, Esri categories), computed on
    the site counts directly.

    Parameters
    ----------
    sites
        :func:`read_sites` rows (types already chosen); months outside the window are
        left out.
    grid
        The grid.
    last
        The window's last month, ``"YYYY-MM"``.
    confidence
        90, 95 or 99: the least confidence shown.
    viewer, k
        Who will see the counts, and the disclosure threshold.
    months
        The window's length.

    Returns
    -------
    MonthlyPicture
        Empty when the window holds fewer than 2 months.
    """
    end = pd.Period(last, freq="M")
    window = pd.period_range(end - (months - 1), end, freq="M")
    names = tuple(str(p) for p in window)
    empty = MonthlyPicture(
        names, pd.DataFrame(columns=["month", "cell", "bin", "count"]), category={}
    )
    located = located_rows(sites_in(sites, first=names[0], last=names[-1]))
    if located.empty or grid.n_cells < 3:
        return empty
    cell = locate_xy(grid, located["easting"].to_numpy(), located["northing"].to_numpy())
    step = pd.PeriodIndex(located["month"], freq="M").asi8 - window[0].ordinal
    ok = cell >= 0
    flat = step[ok] * grid.n_cells + cell[ok]
    counts = np.bincount(
        flat, weights=located["n"].to_numpy()[ok], minlength=len(window) * grid.n_cells
    ).reshape(len(window), grid.n_cells)
    key_rows = located["key"].to_numpy()[ok] if "key" in located else np.zeros(int(ok.sum()))
    keys = (
        np.bincount(flat, weights=key_rows, minlength=len(window) * grid.n_cells)
        .reshape(len(window), grid.n_cells)
        .astype(np.int64)
    )
    result = emerging_from_counts(counts, grid, window)
    bins = confidence_bins(result.z, result.q)
    min_bin = CONFIDENCE_LEVELS[confidence][0]
    drawn = np.abs(bins) >= min_bin
    if needs_suppression(viewer):
        drawn &= ~np.asarray(k > (contiguity(grid) @ counts.T).T)
    t, c = np.nonzero(drawn)
    frame = pd.DataFrame(
        {
            "month": np.asarray(names, dtype=object)[t],
            "cell": c,
            "bin": bins[t, c].astype(int),
            "count": _shown(counts[t, c].astype(np.int64), keys[t, c], viewer, k),
        }
    )
    category = result.category
    cells = np.unique(c)
    return MonthlyPicture(names, frame, {int(i): str(category[i]) for i in cells})


# Flagged places --------------------------------------------------------------------------


def disclose_reason(flags: pd.DataFrame, viewer: Viewer, *, k: int = 5) -> pd.DataFrame:
    """Return flags (``store.sites.flag_sites``) with counts and reasons as the viewer may see them.

    A lead's are exact; for a role without point access the counts are perturbed and the
    reason written again from the perturbed numbers (``store.disclosure.disclose_flags``).
    """
    if needs_suppression(viewer):
        return disclose_flags(flags, k=k)
    return flags.drop(columns=["incidents_key", "previous_key"])


def flagged_places(
    places: gpd.GeoDataFrame,
    sites: pd.DataFrame,
    grid: Grid,
    *,
    first: str,
    last: str,
    settings: MapSettings,
    viewer: Viewer,
    k: int = 5,
) -> gpd.GeoDataFrame:
    """Flag and rank the places that need a look in the period, with the engine's reasons.

    Runs :func:`store.sites.flag_sites` (the one definition of a flagged place) with the
    map's settings, then hides small counts for the viewer.

    Parameters
    ----------
    places
        The place register in EPSG:27700 (``store.queries.load_places``); inactive places
        and places with no point are left out of the flagging.
    sites
        :func:`read_sites` rows, types already chosen, every month.
    grid
        The hot-spot grid.
    first, last
        The period's months, ``"YYYY-MM"``.
    settings
        Radius, threshold and confidence.
    viewer, k
        Who will read the reasons and counts, and the disclosure threshold.

    Returns
    -------
    geopandas.GeoDataFrame
        In WGS84, best first: ``rank``, ``id``, ``name``, ``category``, ``incidents``
        (suppressed where needed), ``hot_bin``, ``trend``, ``reason`` and the point.
        Empty when there are no located events or places.
    """
    least = settings.min_incidents
    if needs_suppression(viewer):
        least = max(least, k)  # a flag must not say "fewer than k here"
    flags = flag_sites(
        places,
        sites,
        grid,
        first=first,
        last=last,
        radius=float(settings.radius),
        min_incidents=least,
        hot_alpha=CONFIDENCE_LEVELS[settings.confidence][1],
    )
    flags = disclose_reason(flags, viewer, k=k)
    columns = ["rank", "id", "name", "category", "incidents", "hot_bin", "trend", "reason"]
    return flags[[*columns, "geometry"]]


def why_not_flagged(
    places: gpd.GeoDataFrame,
    sites: pd.DataFrame,
    grid: Grid,
    place_id: int,
    *,
    first: str,
    last: str,
    settings: MapSettings,
    viewer: Viewer,
    k: int = 5,
) -> str:
    """Return why a place is not flagged, its counts hidden where the viewer needs it.

    The figures come from :func:`store.sites.place_figures` (the same rules as the flags);
    the sentence is rendered from the counts as the viewer may see them.

    Parameters
    ----------
    places, sites, grid, first, last, settings, viewer, k
        As :func:`flagged_places`.
    place_id
        The place.

    Returns
    -------
    str
        The reason, ``""`` when the place is flagged after all.
    """
    found = store_sites.place_figures(
        places,
        sites,
        grid,
        place_id,
        first=first,
        last=last,
        radius=float(settings.radius),
        min_incidents=settings.min_incidents,
        hot_alpha=CONFIDENCE_LEVELS[settings.confidence][1],
    )
    if found is None:
        return (
            f"No incidents within {settings.radius} m in this period, the threshold is "
            f"{settings.min_incidents}."
        )
    figures, key = found
    (now,) = _shown(np.array([figures.count_now]), np.array([key]), viewer, k)
    if needs_suppression(viewer):
        # The incidents counting towards a nearer place are a difference of two counts:
        # a reader without point access is not told them.
        figures = replace(figures, nearby_elsewhere=0)
    return render_why_not(figures, count_now=str(now))


# Density and aggregates ------------------------------------------------------------------


def density_layer(
    sites: pd.DataFrame,
    *,
    viewer: Viewer,
    k: int = 5,
    bandwidth: float = DENSITY_BANDWIDTH,
    cell_size: float = DENSITY_CELL,
    simplify: float = 25.0,
) -> gpd.GeoDataFrame:
    """Return the kernel density of the period's events as a few filled bands, for a map.

    The bands are :func:`geo.density.density_bands` at 20, 40, 60 and 80 per cent of the
    peak, simplified by ``simplify`` metres. For a role without point access the lowest
    level is raised to what k incidents at one spot would make, so no band can be drawn
    around fewer than k incidents (a lone incident would otherwise show as a disc centred
    on it).

    Parameters
    ----------
    sites
        The period's :func:`read_sites` rows.
    viewer, k
        Who will see it, and the disclosure threshold.
    bandwidth, cell_size
        Kernel bandwidth and raster cell, in metres.
    simplify
        Tolerance in metres for simplifying the band outlines.

    Returns
    -------
    geopandas.GeoDataFrame
        In WGS84: ``band`` (1 lowest), ``level_min``, ``level_max`` (incidents per km²)
        and the band's (Multi)Polygon.
    """
    located = located_rows(sites)
    if located.empty:
        return gpd.GeoDataFrame(
            {"band": [], "level_min": [], "level_max": []}, geometry=[], crs=WGS84
        )
    surface = kernel_density(
        as_points(located), bandwidth=bandwidth, cell_size=cell_size, weight_column="n"
    )
    peak = float(surface.values.max())
    levels = np.array([0.2, 0.4, 0.6, 0.8]) * peak
    if needs_suppression(viewer):
        lone = kernel_density(
            gpd.GeoSeries.from_xy([0.0], [0.0], crs=BNG), bandwidth=bandwidth, cell_size=cell_size
        )
        floor = k * float(lone.values.max())
        levels = np.unique(np.maximum(levels, floor))
        levels = levels[levels < peak]
    if levels.size == 0:
        return gpd.GeoDataFrame(
            {"band": [], "level_min": [], "level_max": []}, geometry=[], crs=WGS84
        )
    bands = density_bands(surface, levels=levels, crs=BNG)
    bands["geometry"] = bands.geometry.simplify(simplify)
    bands.insert(0, "band", np.arange(1, len(bands) + 1))
    return bands.to_crs(WGS84)


def aggregate_squares(
    incidents: pd.DataFrame,
    referrals: pd.DataFrame,
    *,
    viewer: Viewer,
    k: int = 5,
    size: float = AGGREGATE_SIZE,
) -> gpd.GeoDataFrame:
    """Count the period's incidents and referrals in squares of the national grid.

    Parameters
    ----------
    incidents, referrals
        The period's :func:`read_sites` rows of each.
    viewer, k
        Who will see the counts: for a role without point access each is perturbed
        (``store.disclosure.protect_table``, small counts ``"<5"``).
    size
        Side of the squares in metres.

    Returns
    -------
    geopandas.GeoDataFrame
        In WGS84, squares with any event: ``incidents`` and ``referrals`` (int, or text
        where suppressed), ``level`` (0-3 for shading, from the incident count) and the
        square.
    """
    parts = []
    for name, frame in (("incidents", incidents), ("referrals", referrals)):
        located = located_rows(frame)
        key = pd.DataFrame(
            {
                "col": np.floor(located["easting"].to_numpy() / size).astype(np.int64),
                "row": np.floor(located["northing"].to_numpy() / size).astype(np.int64),
                name: located["n"].to_numpy(),
                f"{name}_key": located["key"].to_numpy() if "key" in located else 0,
            }
        )
        parts.append(key.groupby(["col", "row"])[[name, f"{name}_key"]].sum())
    table = pd.concat(parts, axis=1).fillna(0).astype(np.int64).reset_index()
    if table.empty:
        return gpd.GeoDataFrame(
            {"incidents": [], "referrals": [], "level": []}, geometry=[], crs=WGS84
        )
    level = np.digitize(table["incidents"].to_numpy(), [k, 4 * k, 16 * k])
    shown = (
        protect_table(table, ["incidents", "referrals"], ["incidents_key", "referrals_key"], k=k)
        if needs_suppression(viewer)
        else table
    )
    x0, y0 = table["col"].to_numpy() * size, table["row"].to_numpy() * size
    squares = shapely.box(x0, y0, x0 + size, y0 + size)
    return gpd.GeoDataFrame(
        {"incidents": shown["incidents"], "referrals": shown["referrals"], "level": level},
        geometry=squares,
        crs=BNG,
    ).to_crs(WGS84)


def incident_points(
    engine: Engine, viewer: Viewer, query: MapQuery, *, limit: int = POINTS_LIMIT
) -> tuple[pd.DataFrame | None, int]:
    """Return the period's located incidents as points, for a lead's map, if few enough.

    Parameters
    ----------
    engine
        The database.
    viewer
        Must have point access (``Viewer.sees_points``).
    query
        The districts, filters and period.
    limit
        Above this many points none are returned.

    Returns
    -------
    pandas.DataFrame or None, int
        ``lat`` and ``lon`` (WGS84, rounded to 5 decimals, about a metre) and
        ``category`` per incident, or None when there are more than ``limit``; and
        the number of located incidents.

    Raises
    ------
    store.access.AccessDenied
        For a viewer without point access.
    """
    viewer.require(viewer.sees_points, "see single incident points")
    scope = viewer.scope(query.districts)
    where = [Incident.district_code.in_(scope), Incident.easting.is_not(None)]
    if query.types:
        where.append(Incident.category.in_(query.types))
    if query.ages:
        where.append(Incident.age_band.in_(query.ages))
    if query.agencies:
        where.append(Incident.source_agency.in_(query.agencies))
    if query.first:
        where.append(Incident.occurred_on >= pd.Period(query.first, freq="M").start_time.date())
    if query.last:
        where.append(Incident.occurred_on <= pd.Period(query.last, freq="M").end_time.date())
    with engine.connect() as connection:
        total = int(connection.scalar(select(func.count()).where(*where)) or 0)
        if total > limit:
            return None, total
        frame = pd.read_sql(
            select(Incident.easting, Incident.northing, Incident.category).where(*where),
            connection,
        )
    points = gpd.GeoSeries.from_xy(frame["easting"], frame["northing"], crs=BNG).to_crs(WGS84)
    out = pd.DataFrame(
        {"lat": points.y.round(5), "lon": points.x.round(5), "category": frame["category"]}
    )
    return out, total


# Clicks and the panel --------------------------------------------------------------------


@dataclass(frozen=True)
class Click:
    """What a click on the map landed on: a place or a hot-spot cell."""

    kind: str
    id: str


def locate_click(
    lat: float,
    lng: float,
    *,
    places: gpd.GeoDataFrame,
    cells: gpd.GeoDataFrame,
    tolerance: float = 15.0,
) -> Click | None:
    """Match a clicked point to the nearest drawn place, or the hot-spot cell under it.

    Leaflet reports a marker's own position for a click on it; for a polygon, the point
    clicked. So a place within ``tolerance`` metres wins, then a cell containing the point.

    Parameters
    ----------
    lat, lng
        The click, in WGS84 degrees.
    places
        Drawn places in WGS84 with an ``id``.
    cells
        Drawn cells in WGS84 with a ``cell_id``.
    tolerance
        Metres within which a click matches a place.

    Returns
    -------
    Click or None
        None when the click is on neither.

    Examples
    --------
    >>> spot = gpd.GeoDataFrame({"id": [7]}, geometry=gpd.points_from_xy([-2.1], [52.8]), crs=4326)
    >>> none = gpd.GeoDataFrame({"cell_id": []}, geometry=[], crs=4326)
    >>> locate_click(52.8, -2.1, places=spot, cells=none)
    Click(kind='place', id='7')
    >>> locate_click(52.9, -2.1, places=spot, cells=none) is None
    True
    """
    click = gpd.GeoSeries.from_xy([lng], [lat], crs=WGS84).to_crs(BNG).iloc[0]
    if not places.empty:
        drawn = places.loc[drawable(places)]
        distance = drawn.geometry.to_crs(BNG).distance(click)
        if len(distance) and distance.min() <= tolerance:
            return Click("place", str(drawn["id"].iloc[int(np.argmin(distance.to_numpy()))]))
    if not cells.empty:
        hit = cells.loc[cells.geometry.to_crs(BNG).contains(click)]
        if not hit.empty:
            return Click("cell", str(hit["cell_id"].iloc[0]))
    return None


def events_near(
    engine: Engine,
    viewer: Viewer,
    query: MapQuery,
    *,
    area: shapely.Geometry,
    first: str,
) -> pd.DataFrame:
    """Return the incidents inside an area (a place's circle or a cell) from ``first`` on.

    Parameters
    ----------
    engine
        The database.
    viewer
        Only districts in their scope are read.
    query
        Districts, types, age bands, agencies and the last month.
    area
        A polygon in EPSG:27700.
    first
        The first month wanted, ``"YYYY-MM"`` (the start of the trend window).

    Returns
    -------
    pandas.DataFrame
        ``category``, ``occurred_on`` (datetime64), ``age_band``, ``source_agency`` and
        ``record_key`` (for the disclosure of counts made from them); no coordinates.
    """
    scope = viewer.scope(query.districts)
    minx, miny, maxx, maxy = area.bounds
    where = [
        Incident.district_code.in_(scope),
        Incident.easting.between(minx, maxx),
        Incident.northing.between(miny, maxy),
    ]
    for column, values in (
        (Incident.category, query.types),
        (Incident.age_band, query.ages),
        (Incident.source_agency, query.agencies),
    ):
        if values:
            where.append(column.in_(values))
    if first:
        where.append(Incident.occurred_on >= pd.Period(first, freq="M").start_time.date())
    if query.last:
        where.append(Incident.occurred_on <= pd.Period(query.last, freq="M").end_time.date())
    columns = (
        Incident.easting,
        Incident.northing,
        Incident.category,
        Incident.occurred_on,
        Incident.age_band,
        Incident.source_agency,
        Incident.record_key,
    )
    with engine.connect() as connection:
        frame = pd.read_sql(select(*columns).where(*where), connection)
    inside = shapely.contains_xy(
        area, frame["easting"].to_numpy(dtype=float), frame["northing"].to_numpy(dtype=float)
    )
    frame = frame.loc[inside].drop(columns=["easting", "northing"]).reset_index(drop=True)
    frame["occurred_on"] = pd.to_datetime(frame["occurred_on"])
    return frame


def place_summary(
    events: pd.DataFrame,
    *,
    first: str,
    viewer: Viewer,
    k: int = 5,
    months: tuple[str, str] | None = None,
) -> dict[str, pd.DataFrame]:
    """Return the panel's tables: the monthly trend by type, and the period by age and source.

    Parameters
    ----------
    events
        From :func:`events_near` (the trend window).
    first
        The period's first month: the age and source tables count from it.
    viewer, k
        Who will see the tables: for roles without point access every count is perturbed
        from its records' keys (``store.disclosure``) and cells shown as ``"<5"`` are left
        blank (NaN) in ``count``.
    months
        The trend's first and last month (``"YYYY-MM"``), so that months without
        incidents show as 0; by default from the first to the last month with any.

    Returns
    -------
    dict of pandas.DataFrame
        ``"trend"`` (``month``, ``type``, ``count``, ``shown``: the text to show),
        ``"ages"`` (``Age band``, ``Incidents``) and ``"sources"`` (``Source``,
        ``Incidents``).
    """
    suppress = needs_suppression(viewer)
    keys = events["record_key"] if "record_key" in events else pd.Series(0, index=events.index)
    trend = monthly_counts(events, by="category")
    if not trend.empty:
        wide = trend.pivot_table(index="month", columns="category", values="count", aggfunc="sum")
        month = events["occurred_on"].dt.to_period("M").dt.to_timestamp().rename("month")
        key_wide = keys.groupby([month, events["category"]]).sum().unstack("category")
        key_wide = key_wide.reindex(index=wide.index, columns=wide.columns)
        if months is not None:
            whole = pd.period_range(months[0], months[1], freq="M").to_timestamp()
            wide = wide.reindex(whole.rename("month"))
            key_wide = key_wide.reindex(whole.rename("month"))
        wide = wide.fillna(0).astype(int)
        key_wide = key_wide.fillna(0).astype(np.int64)
        long = wide.reset_index().melt(id_vars="month", var_name="category", value_name="count")
        if suppress:
            long_keys = key_wide.reset_index().melt(
                id_vars="month", var_name="category", value_name="key"
            )
            long = long.merge(long_keys, on=["month", "category"])
            long["shown"] = [
                str(v)
                for v in disclose_counts(long["count"].to_numpy(), long["key"].to_numpy(), k=k)
            ]
            long["count"] = pd.to_numeric(long["shown"], errors="coerce")
        else:
            long["shown"] = long["count"].astype(str)
        long["type"] = long["category"].map(lambda c: label(EXPLOITATION_TYPES, c))
        trend = long[["month", "type", "count", "shown"]]
    in_period = events["occurred_on"] >= pd.Period(first, freq="M").start_time
    period = events.loc[in_period]
    period_keys = keys.loc[in_period]

    def table(column: str, vocabulary: dict[str, str], heading: str) -> pd.DataFrame:
        values = period[column].fillna("not recorded")
        counts = values.value_counts()
        key_sums = period_keys.groupby(values).sum()
        order = [c for c in vocabulary if c in counts.index] + [
            c for c in counts.index if c not in vocabulary
        ]
        n = np.array([int(counts[c]) for c in order], dtype=np.int64)
        frame = pd.DataFrame({heading: [label(vocabulary, c) for c in order], "Incidents": n})
        if not suppress:
            return frame
        shown = disclose_counts(n, np.array([int(key_sums[c]) for c in order]), k=k)
        return frame.assign(Incidents=[str(v) for v in shown])

    return {
        "trend": trend,
        "ages": table("age_band", AGE_BANDS, "Age band"),
        "sources": table("source_agency", AGENCIES, "Source"),
    }


def record_panel_view(engine: Engine, viewer: Viewer, click: Click, *, detail: dict) -> None:
    """Write a "view place panel" event to the audit log.

    Parameters
    ----------
    engine
        The database.
    viewer
        Who opened the panel.
    click
        The place or cell opened.
    detail
        What was shown (filters, period), for the log.
    """
    log_event(
        engine,
        actor=viewer.username,
        action="view place panel",
        entity=click.kind,
        entity_id=click.id,
        detail=detail,
    )
