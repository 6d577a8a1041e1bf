"""Emerging hot spots: how each cell's hot- or cold-spot status changes over time.

For each period (month or quarter) Gi* is computed on that period's cell counts
(:func:`geo.hotspots.gi_star_test`) with exact randomisation p-values by default
(``p_values``; see :mod:`geo.hotspots`), and Benjamini-Hochberg q-values. A
period is a *significant hot* period for a cell when ``q < alpha`` (0.05 by
default) and ``z > 0``, a *significant cold* one when ``q < alpha`` and ``z < 0``.

False discovery rate family (``fdr``)
-------------------------------------
``"step"`` (the default): each period's cells are one family, as if each month
were mapped on its own. ``"cube"``: every cell of every period is one family.
The default is per step because the categories are read period by period (is
the cell hot in the final period? in 90% of them?), and a family per step keeps
a month's calls the same whatever the length of the window: adding a thirteenth
month must not change which cells were hot in January. Over the cube the
threshold tightens as the window grows.

Neighbourhood (``neighbourhood``)
---------------------------------
``"space"`` (default): the cell and its neighbours in the same period.
``"space-time"``: as Esri's space-time cube with a neighbourhood time step of
one, the cell and its neighbours in the same period *and in the previous one*
(the first period has no previous one and uses space only). The null then deals
out the counts of both periods together (2n cells, neighbourhoods of 2W).

Trends
------
The Mann-Kendall test is run on each cell's series of Gi* z-scores (``mk_tau``,
``mk_p``) and on its series of its own counts (``count_tau``, ``count_p``). A
cell's trend is *rising* only when both are significant (``p < trend_alpha``)
and rising, *falling* only when both are significant and falling. The reason:
a cell's z-score moves with its neighbours and with the period's mean and
spread, so a cell with no incident at all can show a "rising" z when the rest
of the area gets quieter. Intensifying and Diminishing claim that the place
itself gets worse or better, so its own counts must say so too.

A cell with no incident in the window (its own count is zero in every period)
is *No Pattern Detected*, whatever its neighbours do: there is nothing there to
act on, and its hot periods are its neighbours'.

Esri categories
---------------
Following Esri's Emerging Hot Spot Analysis definitions. "At least 90 per cent"
means ``hot_periods >= 0.9 * n_periods`` (11 of 12 months, 22 of 24). The final
period decides the side: hot categories need the final period hot (except
Historical), cold categories need it cold (except Historical).

With the final period **hot**:

* *Intensifying Hot Spot*: hot in at least 90% of periods, and a rising trend.
* *Diminishing Hot Spot*: hot in at least 90% of periods, and a falling trend.
* *Persistent Hot Spot*: hot in at least 90% of periods, no significant trend.
* *Oscillating Hot Spot*: hot in fewer than 90% of periods, and a significant
  cold spot in some earlier period.
* *New Hot Spot*: hot in the final period only (never hot, or cold, before).
* *Consecutive Hot Spot*: a single uninterrupted run of at least two hot periods
  ending with the final one, never hot (or cold) before the run, and hot in
  fewer than 90% of periods.
* *Sporadic Hot Spot*: hot in fewer than 90% of periods, never cold, and also
  hot before its final run of hot periods (on-again, off-again).

With the final period **not hot**:

* *Historical Hot Spot*: the final period is neither hot nor cold, but at least
  90% of periods were hot. (When the final period is cold, the cold rules
  apply: such a cell is an Oscillating Cold Spot.)

The eight *Cold Spot* categories mirror these with hot and cold swapped and
"rising" and "falling" swapped (an Intensifying Cold Spot's z-scores fall).
Everything else is *No Pattern Detected*, as is a cell with no incident in the
window. Esri recommends at least 10 periods;
fewer are analysed with a warning.

Simple categories (for meetings)
--------------------------------
Hot spots only, in plain words:

* *Persistent*: hot in the latest period and in at least 90% of periods.
* *Emerging*: hot in the latest period but fewer than 90% of periods, and either
  never hot before its current run of hot periods or with a rising trend.
* *Former*: not hot in the latest period, but hot earlier, and either hot in at
  least 90% of periods, or with a falling trend, or not hot at all in the later
  half of the periods.
* *Intermittent*: any other cell that was hot in at least one period.
* *Not a hot spot*: never a significant hot spot, or no incident in the window.

The "rising" and "falling" trends of both sets are the combined ones above.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import stats

from geo.grid import Grid, cells_frame, count_points, locate_xy
from geo.hotspots import (
    DEFAULT_MIN_SHARE,
    Inference,
    gi_star_test,
    space_time_test,
)
from geo.points import WGS84, HotspotInputError, HotspotWarning, PeriodFreq, bng_xy, parse_periods

__all__ = [
    "ESRI_CATEGORIES",
    "SIMPLE_CATEGORIES",
    "EmergingResult",
    "classify_emerging",
    "classify_simple",
    "emerging_cells",
    "emerging_from_counts",
    "emerging_hotspots",
    "mann_kendall",
    "period_series",
]

ESRI_CATEGORIES: tuple[str, ...] = (
    *(
        f"{kind} {side} Spot"
        for side in ("Hot", "Cold")
        for kind in (
            "New",
            "Consecutive",
            "Intensifying",
            "Persistent",
            "Diminishing",
            "Sporadic",
            "Oscillating",
            "Historical",
        )
    ),
    "No Pattern Detected",
)
"""Esri's 17 labels, exactly as Esri spells them."""

SIMPLE_CATEGORIES: tuple[str, ...] = (
    "Persistent",
    "Emerging",
    "Former",
    "Intermittent",
    "Not a hot spot",
)
"""The simpler labels for meetings."""

FdrFamily = Literal["step", "cube"]
"""The false discovery rate family: each period (step) or all periods (cube)."""

Neighbourhood = Literal["space", "space-time"]
"""Gi* neighbours in the same period, or also in the previous period (Esri's cube)."""


@dataclass(frozen=True)
class EmergingResult:
    """Per-period Gi* and the trend and category of each cell.

    Attributes
    ----------
    periods
        The periods, oldest first, with none missing between first and last.
    counts, z, q
        Per period and cell, shape ``(n_periods, n_cells)``.
    hot, cold
        Significant hot or cold per period and cell.
    mk_tau, mk_p
        Mann-Kendall tau and two-sided p of each cell's z-score series.
    category, simple_category
        Esri and simple labels per cell.
    points_outside
        Incidents left out because they fall outside the area.
    count_tau, count_p
        Mann-Kendall tau and p of each cell's own count series.
    analysed
        False for cells left out as mostly outside the area.
    """

    periods: pd.PeriodIndex
    counts: np.ndarray
    z: np.ndarray
    q: np.ndarray
    hot: np.ndarray
    cold: np.ndarray
    mk_tau: np.ndarray
    mk_p: np.ndarray
    category: np.ndarray
    simple_category: np.ndarray
    points_outside: int = 0
    count_tau: np.ndarray | None = None
    count_p: np.ndarray | None = None
    analysed: np.ndarray | None = None


_MK_ROWS = 65_536
"""Series :func:`mann_kendall` tests at a time. All England's 940,000 cells by 12 months at
once held their differences and tie counts at the warm-up's peak: tested in blocks, the
national benchmark's peak fell from 2.15 to 2.07 GB (issue 21)."""


def mann_kendall(series: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mann-Kendall trend test of many series at once.

    The same as ``pymannkendall.original_test`` on each row: S with the tie
    correction of its variance, a continuity-corrected z, two-sided p and
    Kendall's tau-a, ``S / (n (n - 1) / 2)``.

    Parameters
    ----------
    series
        Shape ``(n_series, n_times)``, oldest first, no NaN.

    Returns
    -------
    tuple of numpy.ndarray
        ``tau``, ``p`` and ``z`` per series. A series with no variation has
        tau 0 and p 1.

    Examples
    --------
    >>> tau, p, z = mann_kendall(np.array([[1.0, 2, 3, 4, 5, 6], [3, 1, 3, 1, 3, 1]]))
    >>> tau.round(3).tolist(), p.round(4).tolist()
    ([1.0, -0.2], [0.0085, 0.6625])
    """
    x = np.atleast_2d(np.asarray(series, dtype="float64"))
    m, n = x.shape
    if n < 2:
        raise HotspotInputError("A trend needs at least 2 periods.")
    if m > _MK_ROWS:  # each series is tested on its own: a block at a time, same answers
        parts = [mann_kendall(x[start : start + _MK_ROWS]) for start in range(0, m, _MK_ROWS)]
        tau, p, z = (np.concatenate(part) for part in zip(*parts, strict=True))
        return tau, p, z
    s = np.zeros(m)
    ties = np.ones((m, n))  # size of each value's tie group
    for lag in range(1, n):  # a loop over time steps, vectorised over series
        later, earlier = x[:, lag:], x[:, :-lag]
        s += np.sign(later - earlier).sum(axis=1)
        equal = later == earlier
        ties[:, lag:] += equal
        ties[:, :-lag] += equal
    tie_term = ((ties - 1) * (2 * ties + 5)).sum(axis=1)  # = sum over groups t(t-1)(2t+5)
    var_s = (n * (n - 1) * (2 * n + 5) - tie_term) / 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, (s - 1) / np.sqrt(var_s), np.where(s < 0, (s + 1) / np.sqrt(var_s), 0))
    z = np.nan_to_num(z, nan=0.0)
    p = 2.0 * stats.norm.sf(np.abs(z))
    tau = s / (0.5 * n * (n - 1))
    return tau, p, z


def _trends(
    mk_tau: np.ndarray,
    mk_p: np.ndarray,
    count_tau: np.ndarray | None,
    count_p: np.ndarray | None,
    trend_alpha: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (rising, falling) per cell: the z trend, and the count trend when given."""
    trend = np.asarray(mk_p) < trend_alpha
    rising = trend & (np.asarray(mk_tau) > 0)
    falling = trend & (np.asarray(mk_tau) < 0)
    if count_tau is not None and count_p is not None:
        counted = np.asarray(count_p) < trend_alpha
        rising &= counted & (np.asarray(count_tau) > 0)
        falling &= counted & (np.asarray(count_tau) < 0)
    return rising, falling


def _runs(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (length of the final run of True, number of True before that run) per row."""
    t = flags.shape[1]
    rev = flags[:, ::-1]
    first_false = np.where(rev.all(axis=1), t, np.argmin(rev, axis=1))
    total = flags.sum(axis=1)
    return first_false, total - first_false


def classify_emerging(
    hot: np.ndarray,
    cold: np.ndarray,
    mk_tau: np.ndarray,
    mk_p: np.ndarray,
    *,
    trend_alpha: float = 0.05,
    count_tau: np.ndarray | None = None,
    count_p: np.ndarray | None = None,
    active: np.ndarray | None = None,
) -> np.ndarray:
    """Return the Esri Emerging Hot Spot category of each cell.

    The rules are in the module notes (:mod:`geo.emerging`).

    Parameters
    ----------
    hot, cold
        Significant hot or cold, shape ``(n_cells, n_periods)``, oldest first.
    mk_tau, mk_p
        Mann-Kendall tau and p of each cell's z-score series.
    trend_alpha
        A trend is significant when ``mk_p < trend_alpha``.
    count_tau, count_p
        Mann-Kendall tau and p of each cell's count series; when given, a rising or
        falling trend needs both series to agree (module notes).
    active
        False for a cell with no incident in the window: No Pattern Detected.

    Returns
    -------
    numpy.ndarray
        One of :data:`ESRI_CATEGORIES` per cell (object array).

    Examples
    --------
    >>> hot = np.array([[0, 0, 0, 1], [1, 1, 1, 1], [1, 0, 1, 1]], dtype=bool)
    >>> cold = np.zeros_like(hot)
    >>> classify_emerging(hot, cold, np.zeros(3), np.ones(3)).tolist()
    ['New Hot Spot', 'Persistent Hot Spot', 'Sporadic Hot Spot']
    """
    hot = np.asarray(hot, dtype=bool)
    cold = np.asarray(cold, dtype=bool)
    if hot.shape != cold.shape or hot.ndim != 2:
        raise HotspotInputError("hot and cold must both have shape (cells, periods).")
    n_cells, t = hot.shape
    rising, falling = _trends(mk_tau, mk_p, count_tau, count_p, trend_alpha)
    if active is not None:
        hot = hot & np.asarray(active, dtype=bool)[:, None]
        cold = cold & np.asarray(active, dtype=bool)[:, None]
    out = np.full(n_cells, "No Pattern Detected", dtype=object)
    neither_final = ~hot[:, -1] & ~cold[:, -1]
    for side, same, other, up, down in (
        ("Hot", hot, cold, rising, falling),
        ("Cold", cold, hot, falling, rising),
    ):
        final = same[:, -1]
        mostly = same.sum(axis=1) * 10 >= 9 * t
        run, before = _runs(same)
        other_before = other[:, :-1].any(axis=1)
        rules = (
            ("Intensifying", final & mostly & up),
            ("Diminishing", final & mostly & down),
            ("Persistent", final & mostly & ~up & ~down),
            ("Oscillating", final & ~mostly & other_before),
            ("New", final & ~mostly & ~other_before & (before == 0) & (run == 1)),
            ("Consecutive", final & ~mostly & ~other_before & (before == 0) & (run >= 2)),
            ("Sporadic", final & ~mostly & ~other_before & (before > 0)),
            ("Historical", neither_final & mostly),
        )
        for name, mask in rules:  # the rules are mutually exclusive
            out[mask] = f"{name} {side} Spot"
    return out


def classify_simple(
    hot: np.ndarray,
    mk_tau: np.ndarray,
    mk_p: np.ndarray,
    *,
    trend_alpha: float = 0.05,
    count_tau: np.ndarray | None = None,
    count_p: np.ndarray | None = None,
    active: np.ndarray | None = None,
) -> np.ndarray:
    """Return the simple meeting category of each cell.

    The rules are in the module notes (:mod:`geo.emerging`).

    Parameters
    ----------
    hot
        Significant hot, shape ``(n_cells, n_periods)``, oldest first.
    mk_tau, mk_p
        Mann-Kendall tau and p of each cell's z-score series.
    trend_alpha
        A trend is significant when ``mk_p < trend_alpha``.
    count_tau, count_p, active
        As :func:`classify_emerging`.

    Returns
    -------
    numpy.ndarray
        One of :data:`SIMPLE_CATEGORIES` per cell (object array).

    Examples
    --------
    >>> hot = np.array([[1, 1, 1, 1], [0, 0, 1, 1], [1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]])
    >>> classify_simple(hot.astype(bool), np.zeros(5), np.ones(5)).tolist()
    ['Persistent', 'Emerging', 'Former', 'Intermittent', 'Not a hot spot']
    """
    hot = np.asarray(hot, dtype=bool)
    if active is not None:
        hot = hot & np.asarray(active, dtype=bool)[:, None]
    t = hot.shape[1]
    rising, falling = _trends(mk_tau, mk_p, count_tau, count_p, trend_alpha)
    final = hot[:, -1]
    ever = hot.any(axis=1)
    mostly = hot.sum(axis=1) * 10 >= 9 * t
    _, before = _runs(hot)
    later_half = hot[:, t // 2 :].any(axis=1)
    out = np.full(hot.shape[0], "Not a hot spot", dtype=object)
    out[ever] = "Intermittent"
    out[~final & ever & (mostly | falling | ~later_half)] = "Former"
    out[final & ~mostly & ((before == 0) | rising)] = "Emerging"
    out[final & mostly] = "Persistent"
    return out


def period_series(
    periods: pd.Series, *, freq: PeriodFreq = "month"
) -> tuple[pd.PeriodIndex, np.ndarray]:
    """Return every period from the first to the last, and each incident's position in it.

    Parameters
    ----------
    periods
        Each incident's month or date (strings, dates or Periods).
    freq
        ``"month"`` or ``"quarter"``.

    Returns
    -------
    tuple
        The complete ``PeriodIndex`` (periods with no incidents included) and an
        int64 position per incident.

    Raises
    ------
    HotspotInputError
        When a value is not a date.

    Examples
    --------
    >>> index, pos = period_series(pd.Series(["2024-01", "2024-03"]))
    >>> [str(p) for p in index], pos.tolist()
    (['2024-01', '2024-02', '2024-03'], [0, 2])
    """
    parsed = parse_periods(periods, freq=freq)
    if parsed.empty:
        raise HotspotInputError("There are no incidents, so there are no periods to compare.")
    index = pd.period_range(parsed.min(), parsed.max())
    pos = np.asarray(pd.PeriodIndex(parsed).asi8, dtype=np.int64) - index[0].ordinal
    return index, pos


def emerging_hotspots(
    points: gpd.GeoDataFrame,
    grid: Grid,
    *,
    period_column: str = "period",
    freq: PeriodFreq = "month",
    alpha: float = 0.05,
    trend_alpha: float = 0.05,
    window: pd.PeriodIndex | None = None,
    weight_column: str | None = None,
    p_values: Inference = "exact",
    fdr: FdrFamily = "step",
    neighbourhood: Neighbourhood = "space",
    min_share: float = DEFAULT_MIN_SHARE,
) -> EmergingResult:
    """Run emerging hot spot analysis: Gi* per period, trends and categories.

    Works on points in any CRS (projected to EPSG:27700).

    Parameters
    ----------
    points
        Incident points with a CRS and a period column.
    grid
        The cells (:func:`geo.grid.build_grid`).
    period_column
        The column with each incident's month or date.
    freq
        The time step, ``"month"`` or ``"quarter"``.
    alpha
        A period is significant for a cell when its FDR q-value within that period
        is below ``alpha``.
    trend_alpha
        A Mann-Kendall trend is significant when ``mk_p < trend_alpha``.
    window
        The consecutive periods to analyse (incidents outside them are left out);
        by default every period from the first incident's to the last one's.
    weight_column
        A column with the number of incidents each point stands for (aggregated
        counts at snapped spots); one each when None.
    p_values, fdr, neighbourhood, min_share
        See :func:`emerging_from_counts`.

    Returns
    -------
    EmergingResult
        Everything per period and per cell.

    Raises
    ------
    HotspotInputError
        For points without CRS, unusable coordinates or dates, a missing period
        column, fewer than 2 periods, or a grid of fewer than 3 cells.
    """
    if period_column not in points.columns:
        raise HotspotInputError(
            f"The incidents have no {period_column!r} column, so they cannot be split into "
            "periods; give each incident its month."
        )
    if grid.n_cells < 3:
        raise HotspotInputError(
            f"The area has only {grid.n_cells} cell(s); use a smaller cell size or larger area."
        )
    index, pos = period_series(points[period_column], freq=freq)
    if window is not None:
        if len(window) == 0:
            raise HotspotInputError("The window of periods to analyse is empty.")
        pos = pos + (index[0].ordinal - window[0].ordinal)
        index = pd.PeriodIndex(window)
        pos = np.where((pos >= 0) & (pos < len(index)), pos, -1)
    t = len(index)
    if t < 2:
        raise HotspotInputError(
            f"All incidents are in one {freq} ({index[0]}); emerging hot spots compare at "
            "least 2 periods (Esri recommends 10 or more)."
        )
    if t < 10:
        warnings.warn(
            f"Only {t} periods: trends over fewer than 10 periods are weak evidence.",
            HotspotWarning,
            stacklevel=2,
        )
    x, y = bng_xy(points)
    cell = locate_xy(grid, x, y)
    weights = (
        np.ones(len(points), dtype=np.int64)
        if weight_column is None
        else points[weight_column].to_numpy()
    )
    counts = count_points(
        grid, np.where(pos >= 0, cell, -1), periods=pos, n_periods=t, weights=weights
    )
    empty = np.flatnonzero(counts.sum(axis=1) == 0)
    if empty.size == t:
        warnings.warn(
            "No incidents fall inside the area: every cell has no pattern.",
            HotspotWarning,
            stacklevel=2,
        )
    elif empty.size:
        names = ", ".join(str(index[i]) for i in empty[:3])
        warnings.warn(
            f"{empty.size} period(s) have no incidents in the area ({names}); "
            "no cell is significant in them.",
            HotspotWarning,
            stacklevel=2,
        )
    result = emerging_from_counts(
        counts,
        grid,
        index,
        alpha=alpha,
        trend_alpha=trend_alpha,
        p_values=p_values,
        fdr=fdr,
        neighbourhood=neighbourhood,
        min_share=min_share,
    )
    outside = int(weights[(cell < 0) & (pos >= 0)].sum())
    return dataclasses.replace(result, points_outside=outside)


def emerging_from_counts(
    counts: np.ndarray,
    grid: Grid,
    periods: pd.PeriodIndex,
    *,
    alpha: float = 0.05,
    trend_alpha: float = 0.05,
    p_values: Inference = "exact",
    fdr: FdrFamily = "step",
    neighbourhood: Neighbourhood = "space",
    min_share: float = DEFAULT_MIN_SHARE,
) -> EmergingResult:
    """Run emerging hot spot analysis on counts per period and cell.

    Parameters
    ----------
    counts
        Shape ``(n_periods, n_cells)``, oldest first.
    grid
        The grid.
    periods
        The periods of the rows.
    alpha
        A period is significant for a cell when its FDR q-value is below ``alpha``.
    trend_alpha
        A Mann-Kendall trend is significant when its p-value is below this.
    p_values
        ``"exact"`` (default) or ``"normal"`` (see :mod:`geo.hotspots`).
    fdr
        The false discovery rate family: ``"step"`` (default) or ``"cube"``.
    neighbourhood
        ``"space"`` (default) or ``"space-time"`` (module notes).
    min_share
        Cells with less of their area inside the area are left out.

    Returns
    -------
    EmergingResult
        Everything per period and per cell.
    """
    counts = np.asarray(counts, dtype="float64")
    if fdr not in ("step", "cube"):
        raise HotspotInputError(f"The FDR family must be 'step' or 'cube', not {fdr!r}.")
    if neighbourhood == "space":
        test = gi_star_test(counts, grid, p_values=p_values, min_share=min_share)
    elif neighbourhood == "space-time":
        test = space_time_test(counts, grid, p_values=p_values, min_share=min_share)
    else:
        raise HotspotInputError(
            f"The neighbourhood must be 'space' or 'space-time', not {neighbourhood!r}."
        )
    z, q, analysed = test.z, test.q(family=fdr), test.analysed
    del test  # its p-values (all England: 90 MB) are not needed past the q-values
    sig = q < alpha
    hot, cold = sig & (z > 0), sig & (z < 0)
    tau, mk_p, _ = mann_kendall(z.T)
    active = counts.sum(axis=0) > 0
    count_tau, count_p = np.zeros(counts.shape[1]), np.ones(counts.shape[1])
    if active.any():  # an all-zero series has tau 0 and p 1: test only the others
        count_tau[active], count_p[active], _ = mann_kendall(counts[:, active].T)
    trends = {"count_tau": count_tau, "count_p": count_p, "active": active}
    return EmergingResult(
        periods=pd.PeriodIndex(periods),
        counts=counts,
        z=z,
        q=q,
        hot=hot,
        cold=cold,
        mk_tau=tau,
        mk_p=mk_p,
        category=classify_emerging(hot.T, cold.T, tau, mk_p, trend_alpha=trend_alpha, **trends),
        simple_category=classify_simple(hot.T, tau, mk_p, trend_alpha=trend_alpha, **trends),
        count_tau=count_tau,
        count_p=count_p,
        analysed=analysed,
    )


def emerging_cells(result: EmergingResult, grid: Grid, *, crs: str = WGS84) -> gpd.GeoDataFrame:
    """Return one row per cell with its categories and trend, for maps and files.

    Parameters
    ----------
    result
        From :func:`emerging_hotspots` on the same grid.
    grid
        The grid.
    crs
        CRS of the output geometry (WGS84 for display by default).

    Returns
    -------
    geopandas.GeoDataFrame
        ``cell_id``, ``category``, ``simple_category``, ``mk_tau``, ``mk_p``
        (trend of z), ``count_tau``, ``count_p`` (trend of counts), ``count``
        (all periods), ``hot_periods``, ``cold_periods`` and the whole cell polygon.
    """
    nan = np.full(grid.n_cells, np.nan)
    return cells_frame(
        grid,
        {
            "category": result.category,
            "simple_category": result.simple_category,
            "mk_tau": result.mk_tau,
            "mk_p": result.mk_p,
            "count_tau": nan if result.count_tau is None else result.count_tau,
            "count_p": nan if result.count_p is None else result.count_p,
            "count": result.counts.sum(axis=0),
            "hot_periods": result.hot.sum(axis=0),
            "cold_periods": result.cold.sum(axis=0),
        },
        crs=crs,
    )
