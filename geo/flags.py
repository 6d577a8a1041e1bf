"""Flagged places: places in the register that the incident data say need a look.

Works in British National Grid (EPSG:27700) and returns display geometry in
WGS84. A place is flagged for the chosen period when the incidents gather *at it*:

* **incidents nearby**: at least ``min_incidents`` incidents of the period lie
  within ``radius`` metres of it; or
* **trend**: its cell is a *New* or *Intensifying Hot Spot* in the emerging hot
  spot analysis of the monthly series of the ``trend_months`` months ending with
  the period (see :mod:`geo.emerging`), and at least one incident of the period
  lies within ``radius`` metres of it.

Whether the place lies in a significant Gi* hot spot (FDR-adjusted
``q < hot_alpha``, 0.05 by default) is reported and ranks the flags, but does
not flag a place on its own: a 250 m hot cell in a town centre holds dozens of
places, and flagging all of them would not tell a panel which one draws the
harm. The hot-cell layer of the map shows hot areas; flags name places.

Each flag carries a plain-English reason with its figures, for example
``"14 incidents within 200 m in Jul-Sep 2026 (up from 5); 99% hot spot;
intensifying since May"``. "Up from" compares with the previous period of the
same length (Apr-Jun 2026 for Jul-Sep 2026). "Since" is the first month of the
cell's current run of hot months.

Flagged places are ranked: more criteria met first, then the higher hot-spot
confidence, a trend flag, more incidents nearby, the larger rise, and the name.
"""

from __future__ import annotations

import warnings
from typing import TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS
from scipy.spatial import cKDTree

from geo.emerging import emerging_hotspots
from geo.grid import Grid, contiguity, count_points, locate_xy
from geo.hotspots import confidence_bins, fdr_adjust, gi_star, two_sided_p
from geo.points import WGS84, HotspotInputError, HotspotWarning, bng_xy, parse_periods

__all__ = ["PLACE_COLUMNS", "count_clause", "flag_places", "period_label", "period_months"]

PLACE_COLUMNS: tuple[str, ...] = ("id", "name", "category")
"""Columns the place register must have (besides point geometry)."""

_TREND_FLAGS = ("New Hot Spot", "Intensifying Hot Spot")
_CONFIDENCE = {3: "99%", 2: "95%", 1: "90%"}

PeriodLike: TypeAlias = pd.Period | str | tuple[pd.Period | str, pd.Period | str]


def count_clause(now: int | str, before: int | str, *, radius: float, label: str) -> str:
    """Return the first clause of a flag's reason: the count near the place and its change.

    The counts may be numbers or text already disclosed for a reader (``"<5"``); the
    change is worded from them as given, so a reader's reason never holds a number they
    may not see.

    Examples
    --------
    >>> count_clause(12, 9, radius=200, label="Aug-Oct 2026")
    '12 incidents within 200 m in Aug-Oct 2026 (up from 9)'
    >>> count_clause("<5", 7, radius=200, label="Oct 2026")
    '<5 incidents within 200 m in Oct 2026 (was 7)'
    """
    word = "incident" if now == 1 else "incidents"
    if isinstance(now, str) or isinstance(before, str):
        change = "no change" if now == before else f"was {before}"
    else:
        change = (
            f"up from {before}"
            if now > before
            else f"down from {before}"
            if now < before
            else "no change"
        )
    return f"{now} {word} within {radius:g} m in {label} ({change})"


def period_months(period: PeriodLike) -> tuple[pd.Period, pd.Period]:
    """Return the first and last month of a period.

    Parameters
    ----------
    period
        A ``pandas.Period`` of any frequency (month, quarter, year), a string such
        as ``"2026Q3"`` or ``"2026-07"``, or a (first, last) pair of months.

    Returns
    -------
    tuple of pandas.Period
        Monthly periods, first and last (inclusive).

    Raises
    ------
    HotspotInputError
        When the period cannot be read or ends before it starts.

    Examples
    --------
    >>> [str(p) for p in period_months("2026Q3")]
    ['2026-07', '2026-09']
    >>> [str(p) for p in period_months(("2025-11", "2026-01"))]
    ['2025-11', '2026-01']
    """
    try:
        if isinstance(period, tuple):
            first = pd.Period(period[0], freq="M")
            last = pd.Period(period[1], freq="M")
        else:
            whole = period if isinstance(period, pd.Period) else pd.Period(period)
            first, last = whole.asfreq("M", how="start"), whole.asfreq("M", how="end")
    except (ValueError, TypeError) as exc:
        raise HotspotInputError(f"Cannot read the period {period!r}: {exc}") from None
    if last < first:
        raise HotspotInputError(f"The period {period!r} ends before it starts.")
    return first, last


def period_label(first: pd.Period, last: pd.Period) -> str:
    """Return a short label such as ``"Jul-Sep 2026"``, ``"Sep 2026"``, ``"Nov 2025-Jan 2026"``.

    Parameters
    ----------
    first, last
        Monthly periods.

    Returns
    -------
    str
        The label.

    Examples
    --------
    >>> period_label(pd.Period("2026-07", "M"), pd.Period("2026-09", "M"))
    'Jul-Sep 2026'
    """
    if first == last:
        return first.strftime("%b %Y")
    if first.year == last.year:
        return f"{first.strftime('%b')}-{last.strftime('%b %Y')}"
    return f"{first.strftime('%b %Y')}-{last.strftime('%b %Y')}"


def _check_places(places: gpd.GeoDataFrame, incidents: gpd.GeoDataFrame) -> None:
    missing = [c for c in PLACE_COLUMNS if c not in places.columns]
    if missing:
        raise HotspotInputError(
            f"The place register needs columns {', '.join(PLACE_COLUMNS)}; missing: "
            f"{', '.join(missing)}."
        )
    if places.crs is None or incidents.crs is None:
        which = "place register" if places.crs is None else "incidents"
        raise HotspotInputError(f"The {which} have no coordinate reference system (CRS).")
    if not CRS.from_user_input(places.crs).equals(CRS.from_user_input(incidents.crs)):
        raise HotspotInputError(
            f"The place register is in {places.crs.to_string()} but the incidents are in "
            f"{incidents.crs.to_string()}; reproject one to match, e.g. "
            "places.to_crs(incidents.crs)."
        )


def _hot_bins(
    grid: Grid, cell: np.ndarray, weights: np.ndarray, hot_alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    counts = count_points(grid, cell, weights=weights)
    if counts.sum() == 0 or grid.n_cells < 3:
        zeros = np.zeros(grid.n_cells)
        return zeros.astype(np.int8), np.zeros(grid.n_cells, dtype=bool)
    z = np.nan_to_num(gi_star(counts, contiguity(grid)), nan=0.0)
    q = fdr_adjust(two_sided_p(z))
    return confidence_bins(z, q), (q < hot_alpha) & (z > 0)


def flag_places(
    places: gpd.GeoDataFrame,
    incidents: gpd.GeoDataFrame,
    grid: Grid,
    *,
    period: PeriodLike,
    period_column: str = "period",
    radius: float = 200.0,
    min_incidents: int = 10,
    hot_alpha: float = 0.05,
    trend_months: int = 12,
    weight_column: str | None = None,
    key_column: str | None = None,
) -> gpd.GeoDataFrame:
    """Flag and rank the places that need a look in a period, each with its reason.

    Places and incidents must share a CRS (any CRS; the work is done in
    EPSG:27700). The result's geometry is in WGS84.

    Parameters
    ----------
    places
        The place register: points with ``id``, ``name`` and ``category``.
    incidents
        Incident points with a month or date column.
    grid
        The hot-spot grid (:func:`geo.grid.build_grid`).
    period
        The period to review (see :func:`period_months`), e.g. ``"2026Q3"``.
    period_column
        The incidents' month or date column.
    radius
        Distance in metres for counting incidents near each place.
    min_incidents
        Flag a place with at least this many incidents within ``radius``.
    hot_alpha
        A cell is a significant hot spot when its FDR q-value is below this.
    trend_months
        Months of history (ending with the period) for the New / Intensifying test;
        the trend test is skipped, with a warning, when fewer than 2 months of
        data exist.
    weight_column
        A column of ``incidents`` with the number of incidents each point stands for
        (counts aggregated at snapped spots); one each when None.
    key_column
        A column of ``incidents`` with the sum of the record keys of the incidents each
        point stands for (``store.disclosure``); when given, the result has
        ``incidents_key`` and ``previous_key``, summed over the same incidents as
        ``incidents`` and ``previous``.

    Returns
    -------
    geopandas.GeoDataFrame
        The flagged places only, best first: ``rank``, ``id``, ``name``,
        ``category``, ``incidents`` (within ``radius`` in the period),
        ``previous`` (in the previous period of the same length), ``hot_bin``
        (-3..3 of the place's cell), ``trend`` (the cell's Esri category, or "" if
        not analysed), ``in_hot_spot``, ``many_incidents``, ``new_or_intensifying``,
        ``reason``, ``reason_detail`` (the reason after its count clause, which
        holds no count: see :func:`count_clause`) and the place's point.

    Raises
    ------
    HotspotInputError
        For a register without the required columns, missing or different CRSs,
        unusable coordinates or dates, or an unreadable period.
    """
    _check_places(places, incidents)
    if period_column not in incidents.columns:
        raise HotspotInputError(
            f"The incidents have no {period_column!r} column to pick the period from."
        )
    if radius <= 0 or min_incidents < 1:
        raise HotspotInputError("The radius must be positive and the threshold at least 1.")
    first, last = period_months(period)
    length = last.ordinal - first.ordinal + 1
    prev_first, prev_last = first - length, first - 1
    label = period_label(first, last)

    months = parse_periods(incidents[period_column], freq="month")
    ordinal = np.asarray(pd.PeriodIndex(months).asi8, dtype=np.int64)
    ix, iy = bng_xy(incidents)
    px, py = bng_xy(places)
    current = (ordinal >= first.ordinal) & (ordinal <= last.ordinal)
    before = (ordinal >= prev_first.ordinal) & (ordinal <= prev_last.ordinal)

    weights = (
        np.ones(len(incidents), dtype=np.int64)
        if weight_column is None
        else incidents[weight_column].to_numpy().astype(np.int64)
    )

    def near(mask: np.ndarray, values: np.ndarray = weights) -> np.ndarray:
        if not mask.any() or px.size == 0:
            return np.zeros(px.size, dtype=np.int64)
        tree = cKDTree(np.column_stack((ix[mask], iy[mask])))
        found = tree.query_ball_point(np.column_stack((px, py)), r=radius)
        w = values[mask]
        return np.array([w[i].sum() for i in found], dtype=np.int64)

    n_now, n_before = near(current), near(before)
    keys = None if key_column is None else incidents[key_column].to_numpy().astype(np.int64)

    incident_cell = locate_xy(grid, ix, iy)
    place_cell = locate_xy(grid, px, py)
    on_grid = place_cell >= 0
    bins_all, hot_all = _hot_bins(grid, np.where(current, incident_cell, -1), weights, hot_alpha)
    hot_bin = np.where(on_grid, bins_all[np.maximum(place_cell, 0)], 0).astype(np.int8)
    in_hot = on_grid & hot_all[np.maximum(place_cell, 0)]

    trend = np.full(px.size, "", dtype=object)
    since = np.full(px.size, "", dtype=object)
    window = pd.period_range(last - (trend_months - 1), last, freq="M")
    in_window = (ordinal >= window[0].ordinal) & (ordinal <= last.ordinal)
    if trend_months >= 2 and in_window.any() and ordinal[in_window].min() < last.ordinal:
        start = pd.Period(ordinal=int(ordinal[in_window].min()), freq="M")
        window = pd.period_range(start, last, freq="M")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", HotspotWarning)
            result = emerging_hotspots(
                incidents,
                grid,
                period_column=period_column,
                freq="month",
                window=window,
                weight_column=weight_column,
            )
        cat = result.category[np.maximum(place_cell, 0)]
        trend[on_grid] = cat[on_grid]
        hot = result.hot.T[np.maximum(place_cell, 0)]  # (places, months)
        rev = hot[:, ::-1]
        run = np.where(rev.all(axis=1), rev.shape[1], np.argmin(rev, axis=1))
        run_start = len(window) - np.maximum(run, 1)
        since = np.array([window[i] for i in run_start], dtype=object)
    else:
        warnings.warn(
            "Fewer than 2 months of incidents up to the period: places were not tested "
            "for new or intensifying hot spots.",
            HotspotWarning,
            stacklevel=2,
        )
    trending = np.isin(trend, _TREND_FLAGS) & (n_now > 0)
    many = n_now >= min_incidents
    flagged = many | trending
    idx = np.flatnonzero(flagged)

    reasons, details = [], []
    for i in idx:  # builds text for the flagged places only
        parts = [count_clause(int(n_now[i]), int(n_before[i]), radius=radius, label=label)]
        if in_hot[i]:
            parts.append(f"{_CONFIDENCE.get(int(hot_bin[i]), '')} hot spot".strip())
        if trending[i]:
            month = since[i]
            when = month.strftime("%b") if month.year == last.year else month.strftime("%b %Y")
            if trend[i] == "New Hot Spot":
                parts.append(f"new hot spot in {when}")
            else:
                parts.append(f"intensifying since {when}")
        reasons.append("; ".join(parts))
        details.append("; ".join(parts[1:]))

    out = gpd.GeoDataFrame(
        {
            "id": places["id"].to_numpy()[idx],
            "name": places["name"].to_numpy()[idx],
            "category": places["category"].to_numpy()[idx],
            "incidents": n_now[idx],
            "previous": n_before[idx],
            "hot_bin": hot_bin[idx],
            "trend": trend[idx].astype(str),
            "in_hot_spot": in_hot[idx],
            "many_incidents": many[idx],
            "new_or_intensifying": trending[idx],
            "reason": reasons,
            "reason_detail": details,
        },
        geometry=places.geometry.to_numpy()[idx],
        crs=places.crs,
    )
    if keys is not None:
        out["incidents_key"] = near(current, keys)[idx]
        out["previous_key"] = near(before, keys)[idx]
    met = out[["in_hot_spot", "many_incidents", "new_or_intensifying"]].sum(axis=1)
    order = np.lexsort(
        (
            out["name"].astype(str).to_numpy(),
            -(out["incidents"] - out["previous"]).to_numpy(),
            -out["incidents"].to_numpy(),
            -out["new_or_intensifying"].to_numpy().astype(int),
            -np.maximum(out["hot_bin"].to_numpy(), 0),
            -met.to_numpy(),
        )
    )
    out = out.iloc[order].reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out.to_crs(WGS84)
