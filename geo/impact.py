"""The impact of actions: did incidents near a place fall after its actions, more than elsewhere.

Works in British National Grid (EPSG:27700) metres. Everything here is pure: it takes
monthly counts of incidents near each place, the places and their completed actions, and
returns numbers; the verdict sentence is rendered from those numbers at the end.

**The design** (a difference in differences on counts):

* For each place with a completed action, its *action month* is the month of its first
  completed action. The *before* window is the ``window`` months before that month, the
  *after* window the ``window`` months after it (the action month itself is left out: the
  change was happening during it). Both windows have the same length; when fewer months
  of data follow the action, both are shortened to what there is (at least
  :data:`MIN_WINDOW` months), else the place is "too soon to tell".
* **Comparison places** are matched to it: places that had *no* completed action before the
  end of its after window, were flagged in its before window (when the caller says which
  places were flagged), are more than twice the radius away (so that no incident counts
  for both), are of the same category (else a similar one, see :data:`CATEGORY_GROUPS`,
  else any), and had similar counts before (between half and twice the place's count;
  the :data:`MATCHES` closest on the log scale). They are named in the result.
* A **Poisson regression** of the monthly counts of the place and its comparisons, with an
  effect for each place and for each month and one for "the place, after its action"
  (``statsmodels`` GLM). ``exp`` of that effect is the **effect ratio**: the place's
  after/before ratio divided by its comparisons'. 0.6 means incidents near the place
  fell by 40% more than at comparable places. Counts vary more than a Poisson model
  assumes (overdispersion), so the standard error is scaled by the Pearson dispersion
  (quasi-Poisson) when that is above 1. A place-clustered (sandwich) variance would be
  unreliable here: one place receives the action, so there is one treated cluster.
* **Pooled** by action kind or by district (:func:`pooled_impact`): the places' own
  comparisons are stacked as before and after totals, each stack with its own place and
  period effects, and the variance is the larger of the place-clustered sandwich (a
  comparison place can sit in several stacks) and the quasi-Poisson one, since few
  clusters make the sandwich too small.
* The **verdict refuses to claim too much**: "too few incidents to tell" when the place
  had fewer than :data:`MIN_INCIDENTS` incidents in its two windows together; a fall or
  rise only when the 95% interval excludes no change (p < 0.05: "likely"; p < 0.01:
  "very likely"); otherwise "no clear change". This is association, not proof: other
  things change at a place at the same time as an action.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS
from scipy import stats
from scipy.spatial import cKDTree

from geo.points import HotspotInputError, bng_xy, parse_periods

__all__ = [
    "CATEGORY_GROUPS",
    "IMPACT_COLUMNS",
    "MATCHES",
    "MIN_INCIDENTS",
    "MIN_WINDOW",
    "POOLED_COLUMNS",
    "WINDOW_MONTHS",
    "Estimate",
    "comparison_line",
    "estimate_effect",
    "impact_of_actions",
    "monthly_counts_near",
    "pooled_impact",
    "verdict",
]

WINDOW_MONTHS = 6
"""Months before and after the first completed action, by default."""

MIN_WINDOW = 3
"""The shortest window worth a verdict; fewer months after the action is "too soon to tell"."""

MIN_INCIDENTS = 20
"""Fewer incidents than this near the place, before and after together: "too few to tell"."""

MATCHES = 5
"""At most this many comparison places per place."""

MIN_POOLED = 3
"""A pooled verdict needs at least this many places with their own estimate."""

ALPHA = 0.05
"""A change is claimed only when p is below this (the 95% interval excludes no change)."""

CATEGORY_GROUPS: dict[str, str] = {
    "park": "open space",
    "derelict_building": "open space",
    "school_surroundings": "open space",
    "fast_food": "night-time economy",
    "hotel": "night-time economy",
    "licensed_premises": "night-time economy",
    "transport_hub": "transport",
    "car_park": "transport",
    "shopping_centre": "retail and leisure",
    "leisure_venue": "retail and leisure",
}
"""Similar categories: comparisons come from the same category first, then its group."""

IMPACT_COLUMNS: tuple[str, ...] = (
    "place_id",
    "first_action_month",
    "window_months",
    "before",
    "after",
    "comparison_ids",
    "matched_on",
    "comparison_before",
    "comparison_after",
    "effect_ratio",
    "ci_low",
    "ci_high",
    "p",
    "verdict",
    "sentence",
)
"""Columns of :func:`impact_of_actions`."""

POOLED_COLUMNS: tuple[str, ...] = (
    "group",
    "places",
    "before",
    "after",
    "comparison_before",
    "comparison_after",
    "effect_ratio",
    "ci_low",
    "ci_high",
    "p",
    "verdict",
    "sentence",
)
"""Columns of :func:`pooled_impact`."""


@dataclass(frozen=True)
class Estimate:
    """A difference-in-differences estimate on counts.

    Attributes
    ----------
    effect_ratio
        ``exp`` of the "after the action" effect: the place's after/before ratio over the
        comparisons'. Below 1: a fall relative to the comparisons.
    ci_low, ci_high
        The 95% confidence interval of the ratio.
    p
        The two-sided p-value of "no change relative to the comparisons".
    dispersion
        The Pearson dispersion used to widen the interval (1 when counts are Poisson).
    """

    effect_ratio: float
    ci_low: float
    ci_high: float
    p: float
    dispersion: float = 1.0


# Counting ------------------------------------------------------------------------------------


def monthly_counts_near(
    places: gpd.GeoDataFrame,
    incidents: gpd.GeoDataFrame,
    *,
    radius: float = 200.0,
    period_column: str = "period",
    weight_column: str | None = None,
    months: pd.PeriodIndex | None = None,
) -> pd.DataFrame:
    """Return the incidents within ``radius`` metres of each place, month by month.

    Places and incidents must share a CRS (any CRS; distances are measured in EPSG:27700).

    Parameters
    ----------
    places
        Points with an ``id`` column.
    incidents
        Points with a month or date column.
    radius
        Metres (the flag radius).
    period_column
        The incidents' month or date column.
    weight_column
        A column with the number of incidents each point stands for; one each when None.
    months
        The months wanted (columns); every month from the first to the last incident
        when None.

    Returns
    -------
    pandas.DataFrame
        Counts (int64), one row per place (index ``id``) and one column per month
        (a monthly ``PeriodIndex``).

    Raises
    ------
    HotspotInputError
        For missing columns or CRSs, or different CRSs.

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> places = gpd.GeoDataFrame({"id": [1]}, geometry=[Point(0, 0)], crs=27700)
    >>> incidents = gpd.GeoDataFrame({"period": ["2026-01", "2026-02", "2026-02"]},
    ...     geometry=[Point(50, 0), Point(0, 150), Point(900, 0)], crs=27700)
    >>> monthly_counts_near(places, incidents).to_numpy().tolist()
    [[1, 1]]
    """
    if "id" not in places.columns:
        raise HotspotInputError("The places need an 'id' column.")
    if period_column not in incidents.columns:
        raise HotspotInputError(f"The incidents have no {period_column!r} column.")
    if places.crs is None or incidents.crs is None:
        which = "places" if places.crs is None else "incidents"
        raise HotspotInputError(f"The {which} have no coordinate reference system (CRS).")
    if not CRS.from_user_input(places.crs).equals(CRS.from_user_input(incidents.crs)):
        raise HotspotInputError(
            f"The places are in {places.crs.to_string()} but the incidents in "
            f"{incidents.crs.to_string()}; reproject one to match."
        )
    if radius <= 0:
        raise HotspotInputError("The radius must be positive.")
    periods = pd.PeriodIndex(parse_periods(incidents[period_column], freq="month"))
    if months is None:
        months = (
            pd.period_range(periods.min(), periods.max(), freq="M")
            if len(periods)
            else pd.PeriodIndex([], freq="M")
        )
    ids = pd.Index(places["id"].to_numpy(), name="id")
    out = np.zeros((len(ids), len(months)), dtype=np.int64)
    if len(periods) and len(months) and len(ids):
        ix, iy = bng_xy(incidents)
        px, py = bng_xy(places)
        column = np.asarray(periods.asi8, dtype=np.int64) - months[0].ordinal
        inside = (column >= 0) & (column < len(months)) & np.isfinite(ix) & np.isfinite(iy)
        weights = (
            np.ones(len(incidents), dtype=np.int64)
            if weight_column is None
            else incidents[weight_column].to_numpy().astype(np.int64)
        )
        kept = np.flatnonzero(inside)
        if kept.size:
            tree = cKDTree(np.column_stack((ix[kept], iy[kept])))
            located = np.isfinite(px) & np.isfinite(py)
            found = np.empty(len(ids), dtype=object)
            found[:] = [[] for _ in range(len(ids))]
            if located.any():
                found[located] = tree.query_ball_point(
                    np.column_stack((px[located], py[located])), r=radius
                )
            for row, hits in enumerate(found):
                if hits:
                    rows = kept[np.asarray(hits, dtype=np.int64)]
                    out[row] = np.bincount(
                        column[rows], weights=weights[rows], minlength=len(months)
                    ).astype(np.int64)
    return pd.DataFrame(out, index=ids, columns=pd.PeriodIndex(months, freq="M"))


# Estimating ----------------------------------------------------------------------------------


def _poisson(y: np.ndarray, x: np.ndarray, treat: int, groups: np.ndarray | None) -> Estimate:
    """Fit a Poisson GLM and return the treatment coefficient's estimate (see the module)."""
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        model = sm.GLM(y, x, family=sm.families.Poisson())
        fitted = model.fit()
        beta = float(fitted.params[treat])
        df = max(float(fitted.df_resid), 1.0)
        dispersion = max(1.0, float(fitted.pearson_chi2) / df)
        se = float(fitted.bse[treat]) * math.sqrt(dispersion)
        if groups is not None and len(np.unique(groups)) >= 2:
            robust = model.fit(cov_type="cluster", cov_kwds={"groups": groups})
            se = max(se, float(robust.bse[treat]))
    return _from_log(beta, se, dispersion)


def _from_log(beta: float, se: float, dispersion: float = 1.0) -> Estimate:
    z = stats.norm.ppf(0.975)
    p = float(2 * stats.norm.sf(abs(beta / se))) if se > 0 else 1.0
    return Estimate(
        effect_ratio=math.exp(beta),
        ci_low=math.exp(beta - z * se),
        ci_high=math.exp(beta + z * se),
        p=p,
        dispersion=dispersion,
    )


def _closed_form(before: float, after: float, c_before: float, c_after: float) -> Estimate:
    """Return the ratio of ratios with half an incident added to each total (empty windows)."""
    cells = np.array([before, after, c_before, c_after], dtype=float) + 0.5
    beta = math.log((cells[1] / cells[0]) / (cells[3] / cells[2]))
    return _from_log(beta, math.sqrt(float((1.0 / cells).sum())))


def estimate_effect(
    counts: np.ndarray, *, after: np.ndarray, treated: np.ndarray, stack: np.ndarray | None = None
) -> Estimate:
    """Estimate the effect of an action on monthly counts (a Poisson difference in differences).

    Parameters
    ----------
    counts
        A 2-D array, one row per place (in a stack) and one column per month of the
        before and after windows.
    after
        Boolean, per column: True for the months after the action.
    treated
        Boolean, per row: True for the place(s) that had the action.
    stack
        Per row, the stack (the treated place whose comparison set the row belongs to);
        rows of one stack share month effects. One stack when None. The variance is the
        quasi-Poisson one (see the module); :func:`pooled_impact` clusters it by place.

    Returns
    -------
    Estimate
        The effect ratio, its 95% interval and p-value.

    Examples
    --------
    >>> months = np.array([False] * 6 + [True] * 6)
    >>> counts = np.array([[20] * 6 + [10] * 6, [20] * 12, [30] * 12])
    >>> e = estimate_effect(counts, after=months, treated=np.array([True, False, False]))
    >>> round(e.effect_ratio, 3)
    0.5
    """
    return _estimate(counts, after=after, treated=treated, stack=stack, places=None)


def _estimate(
    counts: np.ndarray,
    *,
    after: np.ndarray,
    treated: np.ndarray,
    stack: np.ndarray | None,
    places: np.ndarray | None,
) -> Estimate:
    counts = np.asarray(counts, dtype=float)
    n_rows, n_months = counts.shape
    stack = np.zeros(n_rows, dtype=np.int64) if stack is None else np.asarray(stack)
    totals = counts.sum(axis=1)
    keep = totals > 0  # a place with no incident at all has no information (its effect is -inf)
    counts, treated, stack = counts[keep], np.asarray(treated)[keep], stack[keep]
    places = None if places is None else np.asarray(places)[keep]
    t_before = counts[treated][:, ~after].sum()
    t_after = counts[treated][:, after].sum()
    c_before = counts[~treated][:, ~after].sum()
    c_after = counts[~treated][:, after].sum()
    if min(t_before, t_after, c_before, c_after) == 0:
        return _closed_form(t_before, t_after, c_before, c_after)
    n_rows = counts.shape[0]
    y = counts.ravel()
    row = np.repeat(np.arange(n_rows), n_months)
    month = np.tile(np.arange(n_months), n_rows)
    stacks, stack_code = np.unique(stack, return_inverse=True)
    # Columns: one per row (place in its stack), one per (stack, month) but the first month,
    # and the treatment: the treated place's months after the action.
    place_effects = np.eye(n_rows)[row]
    period = stack_code[row] * n_months + month
    period_effects = np.eye(len(stacks) * n_months)[period]
    first_month = np.arange(len(stacks)) * n_months
    period_effects = np.delete(period_effects, first_month, axis=1)
    treat = (treated[row] & after[month]).astype(float)
    x = np.column_stack([place_effects, period_effects, treat])
    groups = None if places is None else pd.factorize(places[row])[0]
    return _poisson(y, x, x.shape[1] - 1, groups)


# Verdicts ------------------------------------------------------------------------------------


def _about(share: float) -> int:
    """Round a share (0.43) to a rounded percentage (45): to 5, or to 10 above 30%."""
    percent = abs(share) * 100
    step = 10 if percent >= 30 else 5
    return max(step, int(step * round(percent / step)))


def verdict(
    effect_ratio: float,
    ci_low: float,
    ci_high: float,
    p: float,
    *,
    own_ratio: float | None = None,
    alpha: float = ALPHA,
    exact: bool = True,
) -> tuple[str, str]:
    """Return the verdict on an estimate: a code and a sentence that claims no more than it shows.

    Parameters
    ----------
    effect_ratio, ci_low, ci_high, p
        The estimate (:class:`Estimate`).
    own_ratio
        The place's own after/before ratio, when known. A relative fall at a place whose
        incidents fell by less than 10% (its comparisons rose) is said as such, not as a
        fall; likewise for a rise.
    alpha
        A change is claimed only when ``p < alpha`` and the interval excludes 1.
    exact
        False leaves the size of the change out of the sentence (for a reader who may
        not see small counts: the size and a visible count could give one away).

    Returns
    -------
    tuple of str
        ``"fell"`` or ``"rose"`` (relative to the comparable places) or ``"no_change"``,
        and the sentence.

    Examples
    --------
    >>> verdict(0.6, 0.45, 0.8, 0.001)[1]
    'fell by about 40% more than comparable places (very likely)'
    >>> verdict(0.6, 0.45, 0.98, 0.03)[1]
    'fell by about 40% more than comparable places (likely)'
    >>> verdict(0.9, 0.6, 1.3, 0.5)
    ('no_change', 'no clear change compared with comparable places')
    >>> verdict(0.4, 0.3, 0.6, 0.001, own_ratio=1.0)[1]
    'did not rise as comparable places did: about 60% below their trend (very likely)'
    >>> verdict(1.5, 1.1, 2.0, 0.01, exact=False)[1]
    'rose more than at comparable places (likely)'
    """
    if not (p < alpha and (ci_high < 1 or ci_low > 1)):
        return "no_change", "no clear change compared with comparable places"
    sure = "very likely" if p < alpha / 5 else "likely"
    lower = effect_ratio < 1
    code = "fell" if lower else "rose"
    size = _about(1 - effect_ratio) if lower else _about(effect_ratio - 1)
    # A place that held (within 10%) or moved the other way: the comparisons moved more.
    against = own_ratio is not None and (own_ratio >= 0.9 if lower else own_ratio <= 1.1)
    if against:  # the place held or moved the other way; the comparisons moved more
        moved = "rise" if lower else "fall"
        where = "below" if lower else "above"
        amount = f": about {size}% {where} their trend" if exact else f", {where} their trend"
        return code, f"did not {moved} as comparable places did{amount} ({sure})"
    if exact:
        return code, f"{code} by about {size}% more than comparable places ({sure})"
    return code, f"{code} more than at comparable places ({sure})"


def _own(before: float, after: float) -> float | None:
    """Return a place's own after/before ratio (None when nothing happened before)."""
    return float(after) / float(before) if before > 0 else None


def _too_few_sentence(minimum: int) -> str:
    return f"too few incidents to tell (fewer than {minimum} before and after together)"


# Matching ------------------------------------------------------------------------------------


def _first_actions(actions: pd.DataFrame) -> pd.Series:
    """Return the month of each place's first completed action."""
    done = actions.loc[(actions["status"] == "done") & actions["completed_on"].notna()]
    if done.empty:
        return pd.Series([], dtype="period[M]", name="first_action_month")
    months = pd.to_datetime(done["completed_on"]).dt.to_period("M")
    return months.groupby(done["place_id"].to_numpy()).min().rename("first_action_month")


def _match(
    place: int,
    before: pd.Series,
    candidates: pd.Index,
    categories: pd.Series,
    *,
    matches: int,
) -> tuple[list[int], str]:
    """Return one place's comparison places, closest counts first, and what they matched on."""
    own = before[place]
    pool = before.reindex(candidates)
    pool = pool.loc[(pool > 0) & (pool >= own / 2) & (pool <= own * 2)] if own > 0 else pool[:0]
    category = categories[place]
    group = CATEGORY_GROUPS.get(str(category))
    levels = (
        ("same category", categories.reindex(pool.index) == category),
        (
            "similar category",
            categories.reindex(pool.index).map(CATEGORY_GROUPS).eq(group)
            if group
            else pd.Series(False, index=pool.index),
        ),
        ("any category", pd.Series(True, index=pool.index)),
    )
    for words, mask in levels:
        chosen = pool.loc[mask.to_numpy()]
        if len(chosen) >= min(2, matches):
            distance = (np.log(chosen) - math.log(own)).abs()
            order = np.lexsort((chosen.index.to_numpy(), distance.to_numpy()))
            return [int(i) for i in chosen.index.to_numpy()[order][:matches]], words
    return [], ""


def impact_of_actions(
    counts: pd.DataFrame,
    places: gpd.GeoDataFrame,
    actions: pd.DataFrame,
    *,
    window: int = WINDOW_MONTHS,
    radius: float = 200.0,
    flagged: Callable[[pd.Period, pd.Period], Collection[int]] | None = None,
    matches: int = MATCHES,
    min_incidents: int = MIN_INCIDENTS,
    last_month: pd.Period | None = None,
) -> pd.DataFrame:
    """Estimate, for each place with a completed action, the change against comparable places.

    Places must be in a projected CRS in metres (EPSG:27700): the distance between a
    place and its comparisons is checked against ``2 * radius``.

    Parameters
    ----------
    counts
        Monthly incidents within ``radius`` of each place (:func:`monthly_counts_near`),
        every month of the data.
    places
        ``id`` and ``category`` and a point, for every place that may be compared.
    actions
        ``place_id``, ``status`` and ``completed_on``: the actions of the places' assessments.
    window
        Months before and after the first completed action.
    radius
        The radius ``counts`` were counted within (metres).
    flagged
        Given a first and last month, the ids of the places flagged in that period; a
        comparison place must have been flagged in the place's before window. Every place
        qualifies when None.
    matches
        At most this many comparison places per place.
    min_incidents
        Below this many incidents near the place (before and after together): "too few
        incidents to tell".
    last_month
        The last month of data; the last column of ``counts`` when None.

    Returns
    -------
    pandas.DataFrame
        :data:`IMPACT_COLUMNS`, one row per place with a completed action, earliest action
        first. ``verdict`` is ``"fell"``, ``"rose"``, ``"no_change"``, ``"too_few"``,
        ``"too_soon"`` or ``"no_comparison"``; ``sentence`` says it in words. The estimate
        columns are NaN where there is no estimate.

    Raises
    ------
    HotspotInputError
        For places without the needed columns, or a window under :data:`MIN_WINDOW`.
    """
    for column in ("id", "category"):
        if column not in places.columns:
            raise HotspotInputError(f"The places need an {column!r} column.")
    if window < MIN_WINDOW:
        raise HotspotInputError(f"The window must be at least {MIN_WINDOW} months.")
    months = pd.PeriodIndex(counts.columns, freq="M")
    if len(months) == 0:
        return pd.DataFrame(columns=list(IMPACT_COLUMNS))
    last_month = months[-1] if last_month is None else pd.Period(last_month, freq="M")
    first_month = months[0]
    first_action = _first_actions(actions)
    categories = places.set_index("id")["category"]
    px, py = bng_xy(places)
    where = pd.DataFrame({"x": px, "y": py}, index=places["id"].to_numpy())
    rows = []
    for place, month in first_action.sort_values(kind="stable").items():
        if place not in counts.index or place not in categories.index:
            continue
        w = min(window, last_month.ordinal - month.ordinal, month.ordinal - first_month.ordinal)
        base = {"place_id": int(place), "first_action_month": str(month), "window_months": w}
        if w < MIN_WINDOW:
            since = max(last_month.ordinal - month.ordinal, 0)
            sentence = (
                f"too soon to tell ({since} month{'s' if since != 1 else ''} of data since "
                "the action)"
                if last_month.ordinal - month.ordinal < MIN_WINDOW
                else "too little data before the action to tell"
            )
            rows.append({**base, "verdict": "too_soon", "sentence": sentence})
            continue
        before_months = pd.period_range(month - w, month - 1, freq="M")
        after_months = pd.period_range(month + 1, month + w, freq="M")
        window_counts = counts.loc[:, [*before_months, *after_months]]
        before = window_counts.loc[:, before_months].sum(axis=1)
        after = window_counts.loc[:, after_months].sum(axis=1)
        base |= {"before": int(before[place]), "after": int(after[place])}
        if before[place] + after[place] < min_incidents:
            rows.append(
                {**base, "verdict": "too_few", "sentence": _too_few_sentence(min_incidents)}
            )
            continue
        acted_by = first_action.loc[first_action <= after_months[-1]].index
        candidates = counts.index.difference(pd.Index(acted_by)).intersection(categories.index)
        if flagged is not None:
            candidates = candidates.intersection(
                pd.Index(list(flagged(before_months[0], month - 1)))
            )
        if place in where.index and len(candidates):
            here = where.loc[place]
            far = np.hypot(
                where.reindex(candidates)["x"] - here["x"],
                where.reindex(candidates)["y"] - here["y"],
            )
            candidates = candidates[(far > 2 * radius).to_numpy()]
        chosen, matched_on = _match(place, before, candidates, categories, matches=matches)
        if not chosen:
            rows.append(
                {
                    **base,
                    "comparison_ids": (),
                    "verdict": "no_comparison",
                    "sentence": "no comparable places to tell (none flagged at the time with "
                    "similar counts and no action)",
                }
            )
            continue
        block = window_counts.loc[[place, *chosen]].to_numpy()
        after_mask = np.array([False] * w + [True] * w)
        treated = np.array([True] + [False] * len(chosen))
        estimate = estimate_effect(block, after=after_mask, treated=treated)
        code, sentence = verdict(
            estimate.effect_ratio,
            estimate.ci_low,
            estimate.ci_high,
            estimate.p,
            own_ratio=_own(before[place], after[place]),
        )
        rows.append(
            {
                **base,
                "comparison_ids": tuple(chosen),
                "matched_on": matched_on,
                "comparison_before": int(before[chosen].sum()),
                "comparison_after": int(after[chosen].sum()),
                "effect_ratio": estimate.effect_ratio,
                "ci_low": estimate.ci_low,
                "ci_high": estimate.ci_high,
                "p": estimate.p,
                "verdict": code,
                "sentence": sentence,
            }
        )
    frame = pd.DataFrame(rows, columns=list(IMPACT_COLUMNS))
    frame["comparison_ids"] = [v if isinstance(v, tuple) else () for v in frame["comparison_ids"]]
    frame["matched_on"] = [v if isinstance(v, str) else "" for v in frame["matched_on"]]
    for column in ("before", "after", "comparison_before", "comparison_after"):
        frame[column] = frame[column].astype("Int64")
    for column in ("effect_ratio", "ci_low", "ci_high", "p"):
        frame[column] = frame[column].astype(float)
    return frame


def pooled_impact(
    results: pd.DataFrame,
    counts: pd.DataFrame,
    groups: Mapping[int, Collection[str]],
    *,
    min_places: int = MIN_POOLED,
) -> pd.DataFrame:
    """Pool the places' estimates by a grouping (action kind, district): one estimate per group.

    Each place with its own estimate (a verdict of fell, rose or no change) brings its
    before and after totals and its comparison places' as a *stack*; the stacks are
    fitted together, each with its own place and period effects, and one shared "after the
    action" effect. The variance is clustered by place (a comparison place may serve several
    stacks), and never smaller than the quasi-Poisson one.

    Parameters
    ----------
    results
        :func:`impact_of_actions`.
    counts
        The monthly counts it was computed from.
    groups
        Place id -> the groups it belongs to (e.g. every kind of its completed actions).
    min_places
        A group with fewer places with an estimate is "too few places to tell".

    Returns
    -------
    pandas.DataFrame
        :data:`POOLED_COLUMNS`, one row per group, sorted by group; ``places`` counts the
        places with an estimate.
    """
    usable = results.loc[results["verdict"].isin(["fell", "rose", "no_change"])]
    members: dict[str, list[int]] = {}
    for place in usable["place_id"]:
        for group in groups.get(int(place), ()):
            members.setdefault(str(group), []).append(int(place))
    by_place = usable.set_index("place_id")
    rows = []
    for group in sorted(members):
        chosen = by_place.loc[members[group]]
        base: dict[str, object] = {
            "group": group,
            "places": len(chosen),
            "before": int(chosen["before"].sum()),
            "after": int(chosen["after"].sum()),
            "comparison_before": int(chosen["comparison_before"].sum()),
            "comparison_after": int(chosen["comparison_after"].sum()),
        }
        if len(chosen) < min_places:
            rows.append(
                {
                    **base,
                    "verdict": "too_few",
                    "sentence": f"too few places to tell (fewer than {min_places} with an "
                    "estimate)",
                }
            )
            continue
        # Each stack as its before and after totals: the stack's own period effect takes
        # the place of month effects, which keeps the fit small (windows may differ).
        blocks, treated, stack, place_of = [], [], [], []
        for number, (place, row) in enumerate(chosen.iterrows()):
            month = pd.Period(row["first_action_month"], freq="M")
            w = int(row["window_months"])
            ids = [int(place), *row["comparison_ids"]]
            before = counts.loc[ids, list(pd.period_range(month - w, month - 1, freq="M"))]
            after = counts.loc[ids, list(pd.period_range(month + 1, month + w, freq="M"))]
            blocks.append(np.column_stack([before.sum(axis=1), after.sum(axis=1)]))
            treated += [True] + [False] * (len(ids) - 1)
            stack += [number] * len(ids)
            place_of += ids
        afters = [False, True]
        estimate = _estimate(
            np.vstack(blocks),
            after=np.array(afters),
            treated=np.array(treated),
            stack=np.array(stack),
            places=np.array(place_of),
        )
        code, sentence = verdict(
            estimate.effect_ratio,
            estimate.ci_low,
            estimate.ci_high,
            estimate.p,
            own_ratio=_own(base["before"], base["after"]),  # type: ignore[arg-type]
        )
        rows.append(
            {
                **base,
                "effect_ratio": estimate.effect_ratio,
                "ci_low": estimate.ci_low,
                "ci_high": estimate.ci_high,
                "p": estimate.p,
                "verdict": code,
                "sentence": sentence,
            }
        )
    frame = pd.DataFrame(rows, columns=list(POOLED_COLUMNS))
    for column in ("effect_ratio", "ci_low", "ci_high", "p"):
        frame[column] = frame[column].astype(float)
    return frame


def comparison_line(counts: pd.DataFrame, result: Mapping[str, object]) -> pd.DataFrame:
    """Return a place's monthly counts around its action and the comparison line.

    The comparison line is what the place's counts would have been had they moved as its
    comparison places' did: the place's monthly mean before the action times the
    comparisons' monthly total over their own mean before.

    Parameters
    ----------
    counts
        Monthly counts (:func:`monthly_counts_near`).
    result
        One row of :func:`impact_of_actions` (with comparisons).

    Returns
    -------
    pandas.DataFrame
        ``month`` (``"YYYY-MM"``), ``place`` (its counts), ``comparisons`` (their total),
        ``expected`` (the comparison line; NaN without comparisons) and ``after`` (True
        after the action), for the before window, the action month and the after window.
    """
    month = pd.Period(str(result["first_action_month"]), freq="M")
    w = int(result["window_months"])  # type: ignore[call-overload]
    wanted = pd.period_range(month - w, month + w, freq="M")
    present = [m for m in wanted if m in counts.columns]
    place = int(result["place_id"])  # type: ignore[call-overload]
    own = counts.loc[place, present].astype(float)
    ids = list(result.get("comparison_ids") or ())  # type: ignore[call-overload]
    others = (
        counts.loc[ids, present].sum(axis=0).astype(float)
        if ids
        else pd.Series(np.nan, index=present)
    )
    before = [m for m in present if m < month]
    scale = (
        own[before].mean() / others[before].mean() if ids and others[before].mean() > 0 else np.nan
    )
    return pd.DataFrame(
        {
            "month": [str(m) for m in present],
            "place": own.to_numpy(),
            "comparisons": others.to_numpy(),
            "expected": (others * scale).to_numpy(),
            "after": [m > month for m in present],
        }
    )
