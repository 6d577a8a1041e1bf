"""The read service: every figure the Map shows, already scoped and disclosed for an audience.

Every function takes an :class:`services.audience.Audience` (the districts, whether points may
be sent, k and exact-or-perturbed) and returns frames that may be shown as they are; pages
and loaders never decide disclosure themselves. No Streamlit and no SQL here: the reads go
through ``store.queries`` and ``store.sites``; ``dashboard.loaders`` caches these functions
at the page boundary.

The incidents are read once per audience and filter as counts per snapped location, month
and type (:func:`read_sites`), never as one row per incident, so the work after the query
does not grow with the number of incidents, only with the number of places they were
snapped to. Metric work is in British National Grid (EPSG:27700); frames for display are
returned in WGS84.

Disclosure: for an audience without exact counts (``Audience.exact`` False)
every count returned here is perturbed by the cell key method (``services.disclosure``: the
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
from sqlalchemy import Engine

from geo.density import density_bands, kernel_density
from geo.emerging import emerging_from_counts
from geo.flags import figures_of, render_reason, render_why_not
from geo.grid import Grid, contiguity, locate_xy
from geo.hotspots import cell_size_advice, confidence_bins, gi_star_test
from geo.measures import monthly_counts
from geo.points import BNG, WGS84, drawable
from services.access import Viewer
from services.audience import MIN_CELL_SIZE, Audience
from services.disclosure import (
    D_MAX,
    disclose_counts,
    disclose_flags,
    perturbation_note,
    protect_table,
)
from store import queries
from store import sites as store_sites
from store.audit import log_event
from store.sites import TREND_MONTHS, as_points, flag_sites, sites_in
from store.sites import located as located_rows
from store.vocabulary import AGE_BANDS, AGENCIES, EXPLOITATION_TYPES, label

if TYPE_CHECKING:
    from services.context import ContextPicture
    from services.impact import DisclosedImpact, ImpactFigures
    from services.links import LinksView

__all__ = [
    "CONFIDENCE_LEVELS",
    "DEFAULT_SETTINGS",
    "D_MAX",
    "MIN_CELL_SIZE",
    "MIN_INCIDENTS",
    "POINTS_LIMIT",
    "RADII",
    "WIDE_FLAGS",
    "WIDE_QUEUE_FLAGS",
    "Click",
    "ExactMonths",
    "MapQuery",
    "MapSettings",
    "MonthlyPicture",
    "aggregate_squares",
    "cell_geometry",
    "context",
    "density_layer",
    "disclose_reason",
    "disclosed_months",
    "events_near",
    "exact_months",
    "flagged_places",
    "hot_cells",
    "impact",
    "in_scope",
    "incident_points",
    "is_wide",
    "legend",
    "links",
    "locate_click",
    "monthly_picture",
    "note",
    "period_months",
    "period_totals",
    "place_summary",
    "protect",
    "queue_flags",
    "read_month_totals",
    "read_sites",
    "record_panel_view",
    "settings_from_params",
    "settings_to_params",
    "wide_since",
    "wide_square",
    "window_months",
]

CONFIDENCE_LEVELS: dict[int, tuple[int, float]] = {90: (1, 0.10), 95: (2, 0.05), 99: (3, 0.01)}
"""Confidence (per cent) to (smallest Gi* bin shown, FDR q-value below which a place's cell
counts as a hot spot for flagging)."""

RADII: tuple[int, ...] = (100, 200, 300, 500)
"""Distances (metres) offered for counting incidents around a place."""

MIN_INCIDENTS: tuple[int, ...] = (3, 5, 10, 15, 20, 30, 50, 100)
"""Thresholds offered: flag a place with at least this many incidents within the radius."""

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
        The districts to read, already within the audience's scope (``Audience.scope``).
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


# Reading ---------------------------------------------------------------------------------


def in_scope(
    frame: pd.DataFrame, audience: Audience, districts: tuple[str, ...] = (), *,
    column: str = "district_code",
) -> pd.DataFrame:  # fmt: skip
    """Return the rows of a frame (districts, wards, places...) in the audience's scope.

    ``districts`` are those wanted (all of the audience's when empty); one outside the
    scope is refused (``services.access.AccessDenied``).

    Examples
    --------
    >>> audience = Audience(("E07000197",), False, 5, False, 250)
    >>> frame = pd.DataFrame({"district_code": ["E07000197", "E07000192"]})
    >>> in_scope(frame, audience)["district_code"].tolist()
    ['E07000197']
    """
    return frame.loc[frame[column].isin(audience.scope(districts))]


WIDE_DISTRICTS = 40
"""More districts than this in scope make a wide scope (:func:`wide_square`). Every county
partnership in England (the largest, with its unitary councils, has 14 districts) stays on
the per-spot path and sees its flagged places; regional and national scopes go wide."""

WIDE_SQUARE = 250
"""The side in metres of the squares a wide scope is counted in (the hot-spot grid's)."""


WIDE_FLAGS = (
    f"Flagged places are worked out for at most {WIDE_DISTRICTS} districts at a time: "
    "choose fewer districts to see them."
)
"""What the Map says instead of flags for a wide scope: the flag rule counts incidents
within 200 m of a place, which square counts cannot tell, and the per-spot read it
needs is what a wide scope must not make."""
WIDE_QUEUE_FLAGS = (
    f"Your account covers more than {WIDE_DISTRICTS} districts, and flagged places are "
    f"worked out for at most {WIDE_DISTRICTS} at a time, so this queue lists none: choose "
    "fewer districts on the Map to see them."
)
"""What the Assessments queue says instead of flags for a wide scope: it lists the flags
of the account's whole scope, which the reader cannot narrow there."""


def is_wide(n_districts: int) -> bool:
    """Return True for a wide scope: more than :data:`WIDE_DISTRICTS` districts.

    A wide scope is counted per square and flags no place (:func:`wide_square`,
    :data:`WIDE_FLAGS`); a wide database measures the impact of actions district by district
    (``services.impact.impact_areas``).

    Examples
    --------
    >>> is_wide(WIDE_DISTRICTS), is_wide(WIDE_DISTRICTS + 1)
    (False, True)
    """
    return n_districts > WIDE_DISTRICTS


def wide_square(n_districts: int, cell_size: float) -> int:
    """Return the square side to count a scope's events in, or 0 to count per spot.

    The switch is the number of districts, not a COUNT: it costs no query, keys the
    caches by plain values, and is what the size of the spot read follows. At national
    density (10 million incidents over 296 districts, about 34,000 a district over three
    years) a spot read returns nearly one row per incident, about 30,000 rows a district:
    a few districts are a few hundred thousand rows (the district path, unchanged and
    fine), all England 9.5 million rows (7.8 GB, issue 21). Above
    :data:`WIDE_DISTRICTS` districts (about 1.3 million rows at that density) the events are
    counted per :data:`WIDE_SQUARE` m square in SQL (:func:`store.sites.read_squares`),
    so the rows follow the occupied squares, not the incidents. Square cells whose size
    is a multiple of the square see the same counts; other cell sizes are counted in
    squares of their own size.

    Examples
    --------
    >>> wide_square(1, 250), wide_square(296, 250), wide_square(296, 1000), wide_square(296, 100)
    (0, 250, 250, 100)
    """
    if not is_wide(n_districts):
        return 0
    size = int(cell_size)
    return WIDE_SQUARE if size % WIDE_SQUARE == 0 else size


def wide_since(first: str, last: str) -> str:
    """Return the first month a wide Map reads: its period's or its trend window's.

    Empty (every month) when the period is open ("all data").

    Examples
    --------
    >>> wide_since("2026-08", "2026-10"), wide_since("2024-01", "2026-10"), wide_since("", "")
    ('2025-11', '2024-01', '')
    """
    if not first or not last:
        return ""
    start = pd.Period(last, freq="M") - (TREND_MONTHS - 1)
    return str(min(pd.Period(first, freq="M"), start))


def read_sites(
    engine: Engine,
    audience: Audience,
    *,
    kind: str = "incidents",
    districts: tuple[str, ...] = (),
    ages: tuple[str, ...] = (),
    agencies: tuple[str, ...] = (),
    square: int = 0,
    since: str = "",
) -> pd.DataFrame:
    """Return :func:`store.sites.read_sites` for the districts in the audience's scope.

    ``districts`` are those wanted, all of the audience's when empty; the other arguments
    are those of :func:`store.sites.read_sites`. With ``square`` (see
    :func:`wide_square`) the events are counted per square of that side in SQL
    (:func:`store.sites.read_squares`): the same columns, with square centres, from the
    month ``since`` (:func:`wide_since`).

    Raises
    ------
    services.access.AccessDenied
        When a district outside the audience's scope is asked for.
    """
    scope = audience.scope(districts)
    if square:
        return store_sites.read_squares(
            engine, scope, size=square, kind=kind, ages=ages, agencies=agencies, since=since
        )
    return store_sites.read_sites(engine, scope, kind=kind, ages=ages, agencies=agencies)


def read_month_totals(
    engine: Engine,
    audience: Audience,
    *,
    before: str,
    kind: str = "incidents",
    districts: tuple[str, ...] = (),
    ages: tuple[str, ...] = (),
    agencies: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Return :func:`store.sites.read_month_totals` for the districts in the audience's scope.

    Raises
    ------
    services.access.AccessDenied
        When a district outside the audience's scope is asked for.
    """
    scope = audience.scope(districts)
    return store_sites.read_month_totals(
        engine, scope, before=before, kind=kind, ages=ages, agencies=agencies
    )


def _counts(grid: Grid, sites: pd.DataFrame, column: str = "n") -> np.ndarray:
    located = located_rows(sites)
    cell = locate_xy(grid, located["easting"].to_numpy(), located["northing"].to_numpy())
    ok = cell >= 0
    weights = located[column].to_numpy()[ok] if column in located else np.zeros(int(ok.sum()))
    return np.bincount(cell[ok], weights=weights, minlength=grid.n_cells).astype(np.int64)


def _shown(values: np.ndarray, keys: np.ndarray, audience: Audience) -> list[int | str]:
    """Return counts as the audience may see them: exact, or perturbed from their key sums."""
    if not audience.exact:
        return disclose_counts(values, keys, k=audience.k)
    return [int(v) for v in values]


def legend(audience: Audience, *, short: bool = False) -> str:
    """Return the caption that explains protected counts, ``""`` for exact ones.

    ``short`` gives the form for a shared screen: perturbed, by how much, what ``"<k"`` means.

    Examples
    --------
    >>> legend(Audience(("E07000197",), False, 5, False, 250), short=True)
    'Counts are perturbed by at most 5 (ONS cell key method); <5 means fewer than 5.'
    >>> legend(Audience(("E07000197",), True, 5, True, 0))
    ''
    """
    return "" if audience.exact else note(audience.k, short=short)


def note(k: int, *, short: bool = False) -> str:
    """Return the sentence that explains counts protected under threshold ``k``."""
    if short:
        return (
            f"Counts are perturbed by at most {D_MAX} (ONS cell key method); <{k} means "
            f"fewer than {k}."
        )
    return perturbation_note(k)


def protect(
    frame: pd.DataFrame, counts: list[str], keys: list[str], audience: Audience
) -> pd.DataFrame:
    """Return a table of counts as the audience may see it (``services.disclosure.protect_table``).

    ``keys`` name the columns of record-key sums, one per count column; they are dropped.
    """
    if audience.exact:
        return frame.drop(columns=keys)
    return protect_table(frame, counts, keys, k=audience.k)  # the key sums dropped there


def period_totals(sites: pd.DataFrame, *, audience: Audience) -> dict[str, int | str]:
    """Return the period's headline counts as the audience may see them.

    Parameters
    ----------
    sites
        The period's :func:`read_sites` rows (types and months already chosen).
    audience
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
    total, without = _shown(counts, key_sums, audience)
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
    return gpd.GeoSeries(grid.polygons(np.asarray(index, dtype=np.int64)), crs=BNG).to_crs(crs)


def hot_cells(
    sites: pd.DataFrame,
    grid: Grid,
    *,
    confidence: int,
    audience: Audience,
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
    audience
        Who will see the counts (perturbed unless exact, thin neighbourhoods left out).

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
        if not audience.exact:
            drawn &= ~_thin_neighbourhoods(grid, counts, audience.k)
        index = np.flatnonzero(drawn)
        bins = all_bins[index]
    return gpd.GeoDataFrame(
        {
            "cell": index,
            "cell_id": grid.cell_ids(index).astype(str),
            "bin": bins.astype(int),
            "count": _shown(counts[index], keys[index], audience),
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


@dataclass(frozen=True, eq=False)
class ExactMonths:
    """Exact Gi* month by month, and each cell's emerging hot spot category, before disclosure.

    They depend only on the counts and the grid, so one computation serves every audience
    of the same districts and filters, and the Meeting (``dashboard.loaders.emerging_months``):
    all England's took 7 to 9 s and a gigabyte of memory each time (issue 21). Only what can
    be drawn is kept: the months and cells with a confidence bin, and a category per cell.
    Shared between sessions: do not change them.

    Attributes
    ----------
    months
        ``"YYYY-MM"``, oldest first.
    significant
        One row per month and cell with a confidence bin (``geo.hotspots.confidence_bins``),
        month by month and cell by cell: ``step`` (the month's position), ``cell``, ``bin``,
        ``count`` (incidents), ``key`` (their record-key sum, ``services.disclosure``) and
        ``around`` (incidents in the cell and its neighbours that month).
    category, simple_category
        Per cell: the Esri category over the window, and its simple grouping.
    """

    months: tuple[str, ...]
    significant: pd.DataFrame
    category: pd.Categorical
    simple_category: pd.Categorical


def exact_months(
    sites: pd.DataFrame, grid: Grid, *, last: str, months: int = TREND_MONTHS
) -> ExactMonths | None:
    """Return Gi* per month and the emerging hot spots of the ``months`` months to ``last``.

    The same statistics as :func:`geo.emerging.emerging_hotspots` (Gi* per month, FDR
    within each month, Mann-Kendall on each cell's z-scores, Esri categories), computed on
    the site counts directly (``store.sites.month_counts``).

    Parameters
    ----------
    sites
        :func:`read_sites` rows (types already chosen); months outside the window are
        left out.
    grid
        The grid.
    last
        The window's last month, ``"YYYY-MM"``.
    months
        The window's length.

    Returns
    -------
    ExactMonths or None
        None when no incident in the window is located or the grid has fewer than 3 cells.
    """
    names = window_months(last, months)
    window = pd.PeriodIndex(names, freq="M")
    in_window = sites_in(sites, first=names[0], last=names[-1])
    if located_rows(in_window).empty or grid.n_cells < 3:
        return None
    counts = store_sites.month_counts(in_window, grid, window)
    result = emerging_from_counts(counts, grid, window)
    bins = confidence_bins(result.z, result.q)
    category = pd.Categorical(result.category)
    simple_category = pd.Categorical(result.simple_category)
    del result  # months by cells of statistics: let them go before the next ones
    step, cell = np.nonzero(bins)
    # the key sums are counted only now (locating the spots a second time, about 0.3 s for
    # all England) so that their months-by-cells array is never held beside the statistics'
    keys = store_sites.month_counts(in_window, grid, window, weight="key")
    # incidents in each significant cell's neighbourhood that month (its row of the weights)
    around = (contiguity(grid)[cell] @ counts.T)[np.arange(cell.size), step]
    significant = pd.DataFrame(
        {
            "step": step,
            "cell": cell,
            "bin": bins[step, cell].astype(np.int8),
            "count": counts[step, cell],
            "key": keys[step, cell],
            "around": np.asarray(around, dtype=np.int64),
        }
    )
    return ExactMonths(names, significant, category, simple_category)


def disclosed_months(
    exact: ExactMonths | None,
    *,
    confidence: int,
    audience: Audience,
    months: tuple[str, ...],
) -> MonthlyPicture:
    """Return the month-by-month picture an audience may see, from :func:`exact_months`.

    Parameters
    ----------
    exact
        The exact statistics (None: nothing to show).
    confidence
        90, 95 or 99: the least confidence shown.
    audience
        Who will see the counts, and the disclosure threshold: for a role without point
        access a cell is drawn only where its neighbourhood holds at least ``k`` incidents
        that month, and its count is perturbed.
    months
        The window's months (the slider's, shown even when empty).
    """
    if exact is None:
        return MonthlyPicture(
            months, pd.DataFrame(columns=["month", "cell", "bin", "count"]), category={}
        )
    significant = exact.significant
    drawn = (significant["bin"].abs() >= CONFIDENCE_LEVELS[confidence][0]).to_numpy()
    if not audience.exact:
        drawn = drawn & (significant["around"] >= audience.k).to_numpy()
    rows = significant.loc[drawn]
    cells = rows["cell"].to_numpy()
    frame = pd.DataFrame(
        {
            "month": np.asarray(exact.months, dtype=object)[rows["step"].to_numpy()],
            "cell": cells,
            "bin": rows["bin"].to_numpy().astype(int),
            "count": _shown(rows["count"].to_numpy(), rows["key"].to_numpy(), audience),
        }
    )
    category = exact.category
    return MonthlyPicture(exact.months, frame, {int(i): str(category[i]) for i in np.unique(cells)})


def monthly_picture(
    sites: pd.DataFrame,
    grid: Grid,
    *,
    last: str,
    confidence: int,
    audience: Audience,
    months: int = TREND_MONTHS,
) -> MonthlyPicture:
    """Return the month-by-month hot spots and each cell's emerging hot spot category.

    :func:`exact_months` of ``sites`` on ``grid``, then :func:`disclosed_months` for the
    audience at ``confidence`` (the Map shares the first between audiences, see
    ``dashboard.loaders.monthly_to``). Empty when the window holds no located incident.
    """
    exact = exact_months(sites, grid, last=last, months=months)
    return disclosed_months(
        exact, confidence=confidence, audience=audience, months=window_months(last, months)
    )


def window_months(last: str, months: int = TREND_MONTHS) -> tuple[str, ...]:
    """Return the ``months`` months to ``last``, oldest first.

    Examples
    --------
    >>> window_months("2026-02", 3)
    ('2025-12', '2026-01', '2026-02')
    """
    end = pd.Period(last, freq="M")
    return tuple(str(p) for p in pd.period_range(end - (months - 1), end, freq="M"))


# Flagged places --------------------------------------------------------------------------


def disclose_reason(flags: pd.DataFrame, audience: Audience) -> pd.DataFrame:
    """Return flags (``store.sites.flag_sites``) with counts and reasons as the audience sees them.

    A lead's are exact; for a role without point access the counts are perturbed and the
    reason written again from the perturbed numbers (``services.disclosure.disclose_flags``).
    Either way ``reason_short`` is the reason without its period (the Map's flagged table
    says it once, in its caption), rendered from the same numbers, never cut from the
    sentence.
    """
    if not audience.exact:
        return disclose_flags(flags, k=audience.k)
    out = flags.drop(columns=["incidents_key", "previous_key"])
    out["reason_short"] = [
        render_reason(figures_of(row), period=False) for _, row in flags.iterrows()
    ]
    return out


def queue_flags(flags: pd.DataFrame, audience: Audience) -> pd.DataFrame:
    """Return the assessment queue's flags in the audience's districts, counts disclosed.

    ``flags`` are ``services.assessments.recent_flags`` (every district, exact). Unless the
    audience sees exact counts, ``incidents`` and ``previous`` are perturbed by the cell key
    method (from ``incidents_key`` and ``previous_key``, shown as text) and the reason is
    written again from the perturbed numbers. The key sums never leave here.
    """
    mine = in_scope(flags, audience).copy()
    if not audience.exact:
        mine = disclose_flags(mine, k=audience.k)
        for column in ("incidents", "previous"):
            mine[column] = [str(n) for n in mine[column]]
    else:
        mine = mine.drop(columns=["incidents_key", "previous_key"], errors="ignore")
    return mine.reset_index(drop=True)


def flagged_places(
    places: gpd.GeoDataFrame,
    sites: pd.DataFrame,
    grid: Grid,
    *,
    first: str,
    last: str,
    settings: MapSettings,
    audience: Audience,
) -> gpd.GeoDataFrame:
    """Flag and rank the places that need a look in the period, with the engine's reasons.

    Runs :func:`store.sites.flag_sites` (the one definition of a flagged place) with the
    map's settings, then hides small counts for the audience.

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
    audience
        Who will read the reasons and counts, and the disclosure threshold.

    Returns
    -------
    geopandas.GeoDataFrame
        In WGS84, best first: ``rank``, ``id``, ``name``, ``category``, ``incidents``
        (suppressed where needed), ``hot_bin``, ``trend``, ``reason``, ``reason_short``
        (the reason without its period, :func:`disclose_reason`) and the point.
        Empty when there are no located events or places.
    """
    least = settings.min_incidents
    if not audience.exact:
        least = max(least, audience.k)  # a flag must not say "fewer than k here"
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
    shown = disclose_reason(flags, audience)
    columns = ["rank", "id", "name", "category", "incidents", "hot_bin", "trend", "reason"]
    return shown[[*columns, "reason_short", "geometry"]]


def why_not_flagged(
    places: gpd.GeoDataFrame,
    sites: pd.DataFrame,
    grid: Grid,
    place_id: int,
    *,
    first: str,
    last: str,
    settings: MapSettings,
    audience: Audience,
) -> str:
    """Return why a place is not flagged, its counts hidden where the audience needs it.

    The figures come from :func:`store.sites.place_figures` (the same rules as the flags);
    the sentence is rendered from the counts as the audience may see them.

    Parameters
    ----------
    places, sites, grid, first, last, settings, audience
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
    (now,) = _shown(np.array([figures.count_now]), np.array([key]), audience)
    if not audience.exact:
        # The incidents counting towards a nearer place are a difference of two counts:
        # a reader without point access is not told them.
        figures = replace(figures, nearby_elsewhere=0)
    return render_why_not(figures, count_now=str(now))


# Density and aggregates ------------------------------------------------------------------


def density_layer(
    sites: pd.DataFrame,
    *,
    audience: Audience,
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
    audience
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
    if not audience.exact:
        lone = kernel_density(
            gpd.GeoSeries.from_xy([0.0], [0.0], crs=BNG), bandwidth=bandwidth, cell_size=cell_size
        )
        floor = audience.k * float(lone.values.max())
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
    audience: Audience,
    size: float = AGGREGATE_SIZE,
) -> gpd.GeoDataFrame:
    """Count the period's incidents and referrals in squares of the national grid.

    Parameters
    ----------
    incidents, referrals
        The period's :func:`read_sites` rows of each.
    audience
        Who will see the counts: for a role without point access each is perturbed
        (``services.disclosure.protect_table``, small counts ``"<5"``).
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
    k = audience.k
    level = np.digitize(table["incidents"].to_numpy(), [k, 4 * k, 16 * k])
    shown = (
        protect_table(table, ["incidents", "referrals"], ["incidents_key", "referrals_key"], k=k)
        if not audience.exact
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
    engine: Engine, audience: Audience, query: MapQuery, *, limit: int = POINTS_LIMIT
) -> tuple[pd.DataFrame | None, int]:
    """Return the period's located incidents as points, for a lead's map, if few enough.

    Parameters
    ----------
    engine
        The database.
    audience
        Must have point access (``Audience.points``).
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
    services.access.AccessDenied
        For an audience without point access.
    """
    audience.require_points("single incident points")
    chosen = _event_filter(query, audience, first=query.first)
    frame, total = queries.load_points(engine, chosen, limit=limit)
    if frame is None:
        return None, total
    points = gpd.GeoSeries.from_xy(frame["easting"], frame["northing"], crs=BNG).to_crs(WGS84)
    out = pd.DataFrame(
        {"lat": points.y.round(5), "lon": points.x.round(5), "category": frame["category"]}
    )
    return out, total


def _event_filter(query: MapQuery, audience: Audience, *, first: str) -> queries.EventFilter:
    """Return the stored-event filter for a map query, within the audience's scope."""
    return queries.EventFilter(
        start=pd.Period(first, freq="M").start_time.date() if first else None,
        end=pd.Period(query.last, freq="M").end_time.date() if query.last else None,
        categories=query.types,
        age_bands=query.ages,
        agencies=query.agencies,
        districts=audience.scope(query.districts),
    )


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
    audience: Audience,
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
    audience
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
    return queries.load_events_in(engine, _event_filter(query, audience, first=first), area)


def place_summary(
    events: pd.DataFrame,
    *,
    first: str,
    audience: Audience,
    months: tuple[str, str] | None = None,
) -> dict[str, pd.DataFrame]:
    """Return the panel's tables: the monthly trend by type, and the period by age and source.

    Parameters
    ----------
    events
        From :func:`events_near` (the trend window).
    first
        The period's first month: the age and source tables count from it.
    audience
        Who will see the tables: for roles without point access every count is perturbed
        from its records' keys (``services.disclosure``) and cells shown as ``"<5"`` are left
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
    suppress = not audience.exact
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
                for v in disclose_counts(
                    long["count"].to_numpy(), long["key"].to_numpy(), k=audience.k
                )
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
        shown = disclose_counts(n, np.array([int(key_sums[c]) for c in order]), k=audience.k)
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


# Reads whose disclosure lives beside their figures ------------------------------------------


def context(
    engine: Engine,
    audience: Audience,
    *,
    districts: tuple[str, ...],
    first: date | None,
    last: date | None,
    types: tuple[str, ...] = (),
) -> ContextPicture:
    """Return context events (public crime, all ages) as ``audience`` may see them.

    See :func:`services.context.context_picture`; districts outside the scope are refused.
    """
    from services.context import context_picture

    return context_picture(
        engine, audience.viewer, districts=audience.scope(districts), first=first, last=last,
        types=types, k=audience.k,
    )  # fmt: skip


def links(
    engine: Engine,
    audience: Audience,
    *,
    since: str | None,
    until: str | None,
    recent_since: str | None = None,
) -> LinksView:
    """Return the links between places as ``audience`` may see them (``links.links_for``)."""
    from services.links import links_for

    return links_for(
        engine, audience.viewer, since=since, until=until, k=audience.k, recent_since=recent_since
    )


def impact(
    figures: ImpactFigures,
    audience: Audience,
    *,
    districts: tuple[str, ...],
    district_names: dict[str, str],
) -> DisclosedImpact:
    """Return the impact of actions in some districts as ``audience`` may see it.

    ``figures`` are computed once for every district (``services.impact.impact_figures``);
    this keeps the districts in scope and protects the counts (``services.impact.disclose``).
    """
    from services.impact import disclose

    return disclose(
        figures,
        districts=audience.scope(districts),
        suppressed=not audience.exact,
        k=audience.k,
        district_names=district_names,
    )
