"""Flagged places: places in the register that the incident data say need a look.

Works in British National Grid (EPSG:27700) and returns display geometry in
WGS84. Each incident of the period counts towards **at most one place**: the
nearest place within ``radius`` metres (none when no place is that close), so
one cluster of incidents flags the place it gathers at, not every place around
it. A place is flagged for the chosen period when:

* **incidents nearby**: at least ``min_incidents`` incidents count towards it; or
* **trend**: its cell is a *New*, *Consecutive* or *Intensifying Hot Spot* in the
  emerging hot spot analysis of the monthly series of the ``trend_months``
  months ending with the period (see :mod:`geo.emerging`, exact p-values), and
  at least ``min_trend_incidents`` incidents (k, 5 by default) count towards it:
  a single incident cannot make a trend flag.

Whether the place lies in a significant Gi* hot spot (exact p-values,
FDR-adjusted ``q < hot_alpha``, 0.05 by default) is reported and ranks the
flags, but does not flag a place on its own: a 250 m hot cell in a town centre
holds dozens of places, and flagging all of them would not tell a panel which
one draws the harm. The hot-cell layer of the map shows hot areas; flags name
places.

Numbers first, words last: each flag carries its figures as columns
(``incidents``, ``previous``, ``radius_m``, ``period_label``, ``hot_bin``,
``trend``, ``trend_since``), and its plain-English ``reason`` is rendered from
them by :func:`render_reason` (so a reader who must see some figures hidden
can re-render it from protected numbers), for example
``"14 incidents within 200 m in Jul-Sep 2026 (up from 5); 99% hot spot;
intensifying since May"``. "Up from" compares with the previous period of the
same length (Apr-Jun 2026 for Jul-Sep 2026). "Since" is the first month of the
cell's current run of hot months. :func:`why_not_flagged` says, in the same
way, why a place is *not* flagged ("6 incidents within 200 m in Sep 2026, the
threshold is 10").

Flagged places are ranked: more criteria met first, then the higher hot-spot
confidence, a trend flag, more incidents nearby, the larger rise, and the name.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS
from scipy.spatial import cKDTree

from geo.emerging import emerging_hotspots
from geo.grid import Grid, count_points, locate_xy
from geo.hotspots import Inference, confidence_bins, gi_star_test
from geo.points import WGS84, HotspotInputError, HotspotWarning, bng_xy, parse_periods

__all__ = [
    "PLACE_COLUMNS",
    "TREND_FLAGS",
    "FlagFigures",
    "count_clause",
    "figures_of",
    "flag_places",
    "period_label",
    "period_months",
    "render_reason",
    "render_why_not",
    "why_not_flagged",
]

PLACE_COLUMNS: tuple[str, ...] = ("id", "name", "category")
"""Columns the place register must have (besides point geometry)."""

TREND_FLAGS: tuple[str, ...] = ("New Hot Spot", "Consecutive Hot Spot", "Intensifying Hot Spot")
"""Emerging hot spot categories of a place's cell that can flag it."""
_TREND_FLAGS = TREND_FLAGS
_CONFIDENCE = {3: "99%", 2: "95%", 1: "90%"}

PeriodLike: TypeAlias = pd.Period | str | tuple[pd.Period | str, pd.Period | str]


def count_clause(now: int | str, before: int | str, *, radius: float, label: str) -> str:
    """Return the first clause of a flag's reason: the count near the place and its change.

    The counts may be numbers or text already disclosed for a reader (``"<5"``); the
    change is worded from them as given, so a reader's reason never holds a number they
    may not see. An empty ``label`` leaves the period out (where it is said once for
    many reasons, as in a table's caption).

    Examples
    --------
    >>> count_clause(12, 9, radius=200, label="Aug-Oct 2026")
    '12 incidents within 200 m in Aug-Oct 2026 (up from 9)'
    >>> count_clause("<5", 7, radius=200, label="Oct 2026")
    '<5 incidents within 200 m in Oct 2026 (was 7)'
    >>> count_clause(12, 9, radius=200, label="")
    '12 incidents within 200 m (up from 9)'
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
    period = f" in {label}" if label else ""
    return f"{now} {word} within {radius:g} m{period} ({change})"


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


@dataclass(frozen=True)
class FlagFigures:
    """The figures behind a place's flag (or its absence), numbers only.

    Attributes
    ----------
    count_now
        Incidents of the period that count towards the place (nearest within the radius).
    count_before
        The same in the previous period of the same length.
    radius_m
        The radius in metres.
    period_label
        The period, e.g. ``"Jul-Sep 2026"``.
    hot_bin
        The confidence bin of the place's cell (-3..3) in the period.
    in_hot_spot
        The cell is a significant hot spot at the flagging confidence.
    trend
        The cell's Esri emerging hot spot category, or ``""`` if not analysed.
    trend_since
        The first month of the cell's current run of hot months, e.g. ``"May"``
        (``"May 2025"`` when in an earlier year), or ``""``.
    min_incidents
        The threshold for a flag on incidents alone.
    min_trend_incidents
        The least incidents for a trend flag.
    nearby_elsewhere
        Incidents within the radius that count towards a nearer place instead.
    """

    count_now: int
    count_before: int
    radius_m: float
    period_label: str
    hot_bin: int = 0
    in_hot_spot: bool = False
    trend: str = ""
    trend_since: str = ""
    min_incidents: int = 10
    min_trend_incidents: int = 5
    nearby_elsewhere: int = 0

    @property
    def many_incidents(self) -> bool:
        """Enough incidents for a flag on their own."""
        return self.count_now >= self.min_incidents

    @property
    def trending(self) -> bool:
        """A new, consecutive or intensifying hot spot with enough incidents."""
        return self.trend in TREND_FLAGS and self.count_now >= self.min_trend_incidents

    @property
    def flagged(self) -> bool:
        """Whether the place is flagged."""
        return self.many_incidents or self.trending


def _plural(n: int | str, word: str) -> str:
    return f"{n} {word}" if str(n) == "1" else f"{n} {word}s"


def render_reason(
    figures: FlagFigures,
    *,
    count_now: str | None = None,
    count_before: str | None = None,
    period: bool = True,
) -> str:
    """Return the plain-English reason for a flag, from its figures.

    Parameters
    ----------
    figures
        The flag's figures.
    count_now, count_before
        The counts as they may be shown (e.g. ``"<5"`` after disclosure control);
        the true figures when None. The change is worded from the counts as shown
        (:func:`count_clause`), so a reason never tells more than its numbers.
    period
        Whether the reason names its period; False where the period is said once for
        many reasons (the Map's flagged table).

    Returns
    -------
    str
        For example ``"14 incidents within 200 m in Jul-Sep 2026 (up from 5); 99% hot
        spot; intensifying since May"``.

    Examples
    --------
    >>> f = FlagFigures(12, 3, 200.0, "Sep 2026", hot_bin=3, in_hot_spot=True,
    ...                 trend="Consecutive Hot Spot", trend_since="Jul")
    >>> for part in render_reason(f).split("; "):
    ...     print(part)
    12 incidents within 200 m in Sep 2026 (up from 3)
    99% hot spot
    consecutive hot spot since Jul
    >>> render_reason(f, count_now="10", count_before="<5", period=False).split("; ")[0]
    '10 incidents within 200 m (was <5)'
    """
    now: int | str = figures.count_now if count_now is None else count_now
    before: int | str = figures.count_before if count_before is None else count_before
    label = figures.period_label if period else ""
    parts = [count_clause(now, before, radius=figures.radius_m, label=label)]
    if figures.in_hot_spot:
        parts.append(f"{_CONFIDENCE.get(int(figures.hot_bin), '')} hot spot".strip())
    if figures.trend in TREND_FLAGS and figures.trending:
        since = figures.trend_since
        if figures.trend == "New Hot Spot":
            parts.append(f"new hot spot in {since}" if since else "new hot spot")
        elif figures.trend == "Consecutive Hot Spot":
            parts.append(f"consecutive hot spot since {since}" if since else "consecutive hot spot")
        else:
            parts.append(f"intensifying since {since}" if since else "intensifying")
    return "; ".join(parts)


def why_not_flagged(figures: FlagFigures) -> list[str]:
    """Return the reasons, each as a short key, that a place is not flagged ([] if flagged).

    Keys: ``"few_incidents"`` (fewer than the threshold), ``"trend_too_few"`` (its cell
    trends but too few incidents count towards it), ``"no_trend"`` (its cell is not a
    new, consecutive or intensifying hot spot), ``"nearer_other"`` (some incidents
    within the radius count towards a nearer place).

    Examples
    --------
    >>> why_not_flagged(FlagFigures(6, 2, 200.0, "Sep 2026", trend="Persistent Hot Spot"))
    ['few_incidents', 'no_trend']
    """
    if figures.flagged:
        return []
    keys = ["few_incidents"]
    if figures.trend in TREND_FLAGS:
        keys.append("trend_too_few")
    else:
        keys.append("no_trend")
    if figures.nearby_elsewhere > 0:
        keys.append("nearer_other")
    return keys


def render_why_not(
    figures: FlagFigures,
    *,
    count_now: str | None = None,
    nearby_elsewhere: str | None = None,
) -> str:
    """Return why a place is not flagged, in words rendered from its figures.

    Parameters
    ----------
    figures
        The place's figures.
    count_now, nearby_elsewhere
        The counts as they may be shown (after disclosure control); true when None.

    Returns
    -------
    str
        For example ``"6 incidents within 200 m in Sep 2026, the threshold is 10;
        its cell is not a new, consecutive or intensifying hot spot"``; empty when
        the place is flagged.

    Examples
    --------
    >>> figures = FlagFigures(4, 2, 200.0, "Sep", trend="New Hot Spot")
    >>> for part in render_why_not(figures).split("; "):
    ...     print(part)
    4 incidents within 200 m in Sep, the threshold is 10
    its cell is a new hot spot, but a trend flag needs at least 5 incidents here
    """
    keys = why_not_flagged(figures)
    if not keys:
        return ""
    now = str(figures.count_now) if count_now is None else count_now
    parts = [
        f"{_plural(now, 'incident')} within {figures.radius_m:g} m in {figures.period_label}, "
        f"the threshold is {figures.min_incidents}"
    ]
    if "trend_too_few" in keys:
        parts.append(
            f"its cell is a {figures.trend.lower()}, but a trend flag needs at least "
            f"{figures.min_trend_incidents} incidents here"
        )
    else:
        parts.append("its cell is not a new, consecutive or intensifying hot spot")
    if "nearer_other" in keys:
        other = str(figures.nearby_elsewhere) if nearby_elsewhere is None else nearby_elsewhere
        parts.append(f"{other} more within {figures.radius_m:g} m count towards a nearer place")
    return "; ".join(parts)


def _hot_bins(
    grid: Grid, cell: np.ndarray, weights: np.ndarray, hot_alpha: float, p_values: Inference
) -> tuple[np.ndarray, np.ndarray]:
    counts = count_points(grid, cell, weights=weights)
    if counts.sum() == 0 or grid.n_cells < 3:
        zeros = np.zeros(grid.n_cells)
        return zeros.astype(np.int8), np.zeros(grid.n_cells, dtype=bool)
    test = gi_star_test(counts, grid, p_values=p_values)
    q = test.q()
    return confidence_bins(test.z, q), (q < hot_alpha) & (test.z > 0)


def _assign_nearest(
    ix: np.ndarray, iy: np.ndarray, px: np.ndarray, py: np.ndarray, radius: float
) -> np.ndarray:
    """Return the position of each incident's nearest place within ``radius``, or -1."""
    if px.size == 0 or ix.size == 0:
        return np.full(ix.size, -1, dtype=np.int64)
    tree = cKDTree(np.column_stack((px, py)))
    dist, idx = tree.query(np.column_stack((ix, iy)), k=1, distance_upper_bound=radius)
    return np.where(np.isfinite(dist) & (dist <= radius), idx, -1).astype(np.int64)


def flag_places(
    places: gpd.GeoDataFrame,
    incidents: gpd.GeoDataFrame,
    grid: Grid,
    *,
    period: PeriodLike,
    period_column: str = "period",
    radius: float = 200.0,
    min_incidents: int = 10,
    min_trend_incidents: int = 5,
    hot_alpha: float = 0.05,
    trend_months: int = 12,
    weight_column: str | None = None,
    keep_all: bool = False,
    p_values: Inference = "exact",
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
        Distance in metres: each incident counts towards its nearest place within it.
    min_incidents
        Flag a place with at least this many incidents counting towards it.
    min_trend_incidents
        The least incidents counting towards a place for a trend flag (k).
    hot_alpha
        A cell is a significant hot spot when its FDR q-value is below this.
    trend_months
        Months of history (ending with the period) for the trend test; skipped,
        with a warning, when fewer than 2 months of data exist.
    weight_column
        A column of ``incidents`` with the number of incidents each point stands for
        (counts aggregated at snapped spots); one each when None.
    p_values
        Gi* p-values of the hot spot and trend tests: ``"exact"`` (default) or
        ``"normal"`` (see :mod:`geo.hotspots`).
    keep_all
        Return every place, flagged or not, with ``flagged`` and ``why_not`` columns
        (for "why not flagged"); by default only the flagged places.
    key_column
        A column of ``incidents`` with the sum of the record keys of the incidents each
        point stands for (``services.disclosure``); when given, the result has
        ``incidents_key`` and ``previous_key``, summed over the same incidents as
        ``incidents`` and ``previous``.

    Returns
    -------
    geopandas.GeoDataFrame
        The flagged places, best first: ``rank``, ``id``, ``name``,
        ``category``, ``incidents`` (counting towards the place in the period),
        ``previous`` (in the previous period of the same length), ``hot_bin``
        (-3..3 of the place's cell), ``trend`` (the cell's Esri category, or "" if
        not analysed), ``in_hot_spot``, ``many_incidents``, ``new_or_intensifying``
        (a trend flag), ``radius_m``, ``period_label``, ``trend_since``,
        ``nearby_elsewhere``, ``reason`` (rendered by :func:`render_reason`) and
        the place's point. With ``keep_all`` every place, unflagged ones after
        the flagged, with ``flagged`` and ``why_not`` (:func:`render_why_not`).

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
    if radius <= 0 or min_incidents < 1 or min_trend_incidents < 1:
        raise HotspotInputError("The radius must be positive and the thresholds at least 1.")
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
    nearest = _assign_nearest(ix, iy, px, py, radius)

    def towards(mask: np.ndarray, values: np.ndarray = weights) -> np.ndarray:
        got = mask & (nearest >= 0)
        return np.bincount(nearest[got], weights=values[got], minlength=px.size).astype(np.int64)

    n_now, n_before = towards(current), towards(before)
    keys = None if key_column is None else incidents[key_column].to_numpy().astype(np.int64)
    n_elsewhere = np.zeros(px.size, dtype=np.int64)
    if keep_all and px.size and current.any():
        tree = cKDTree(np.column_stack((ix[current], iy[current])))
        found = tree.query_ball_point(np.column_stack((px, py)), r=radius)
        w_now = weights[current]
        within = np.array([w_now[i].sum() for i in found], dtype=np.int64)
        n_elsewhere = np.maximum(within - n_now, 0)

    incident_cell = locate_xy(grid, ix, iy)
    place_cell = locate_xy(grid, px, py)
    on_grid = place_cell >= 0
    bins_all, hot_all = _hot_bins(
        grid, np.where(current, incident_cell, -1), weights, hot_alpha, p_values
    )
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
                p_values=p_values,
            )
        cat = result.category[np.maximum(place_cell, 0)]
        trend[on_grid] = cat[on_grid]
        hot = result.hot.T[np.maximum(place_cell, 0)]  # (places, months)
        rev = hot[:, ::-1]
        run = np.where(rev.all(axis=1), rev.shape[1], np.argmin(rev, axis=1))
        run_start = len(window) - np.maximum(run, 1)
        since = np.array(
            [
                window[i].strftime("%b")
                if window[i].year == last.year
                else window[i].strftime("%b %Y")
                for i in run_start
            ],
            dtype=object,
        )
    else:
        warnings.warn(
            "Fewer than 2 months of incidents up to the period: places were not tested "
            "for new, consecutive or intensifying hot spots.",
            HotspotWarning,
            stacklevel=2,
        )
    trending = np.isin(trend, TREND_FLAGS) & (n_now >= min_trend_incidents)
    since = np.where(np.isin(trend, TREND_FLAGS), since, "")
    many = n_now >= min_incidents
    flagged = many | trending
    idx = np.arange(px.size) if keep_all else np.flatnonzero(flagged)

    figures = [
        FlagFigures(
            count_now=int(n_now[i]),
            count_before=int(n_before[i]),
            radius_m=float(radius),
            period_label=label,
            hot_bin=int(hot_bin[i]),
            in_hot_spot=bool(in_hot[i]),
            trend=str(trend[i]),
            trend_since=str(since[i]),
            min_incidents=min_incidents,
            min_trend_incidents=min_trend_incidents,
            nearby_elsewhere=int(n_elsewhere[i]),
        )
        for i in idx
    ]
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
            "radius_m": np.full(idx.size, float(radius)),
            "period_label": np.full(idx.size, label, dtype=object),
            "trend_since": since[idx].astype(str),
            "nearby_elsewhere": n_elsewhere[idx],
            "reason": [render_reason(f) if f.flagged else "" for f in figures],
        },
        geometry=places.geometry.to_numpy()[idx],
        crs=places.crs,
    )
    if keep_all:
        out["flagged"] = flagged[idx]
        out["why_not"] = [render_why_not(f) for f in figures]
    if keys is not None:
        out["incidents_key"] = towards(current, keys)[idx]
        out["previous_key"] = towards(before, keys)[idx]
    met = out[["in_hot_spot", "many_incidents", "new_or_intensifying"]].sum(axis=1)
    order = np.lexsort(
        (
            out["name"].astype(str).to_numpy(),
            -(out["incidents"] - out["previous"]).to_numpy(),
            -out["incidents"].to_numpy(),
            -out["new_or_intensifying"].to_numpy().astype(int),
            -np.maximum(out["hot_bin"].to_numpy(), 0),
            -met.to_numpy(),
            -(flagged[idx].astype(int)),
        )
    )
    out = out.iloc[order].reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out.to_crs(WGS84)


def figures_of(
    row: pd.Series | dict, *, min_incidents: int = 10, min_trend_incidents: int = 5
) -> FlagFigures:
    """Return the :class:`FlagFigures` of one row of :func:`flag_places`.

    Parameters
    ----------
    row
        A row (Series or mapping) with the figure columns.
    min_incidents, min_trend_incidents
        The thresholds the row was flagged with.

    Returns
    -------
    FlagFigures
        The figures, ready for :func:`render_reason` or :func:`render_why_not`.
    """
    return FlagFigures(
        count_now=int(row["incidents"]),
        count_before=int(row["previous"]),
        radius_m=float(row["radius_m"]),
        period_label=str(row["period_label"]),
        hot_bin=int(row["hot_bin"]),
        in_hot_spot=bool(row["in_hot_spot"]),
        trend=str(row["trend"]),
        trend_since=str(row["trend_since"]),
        min_incidents=min_incidents,
        min_trend_incidents=min_trend_incidents,
        nearby_elsewhere=int(row.get("nearby_elsewhere", 0) or 0),
    )
