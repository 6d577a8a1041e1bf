"""The impact of actions, read from the stored data and disclosed for one audience.

:mod:`geo.impact` does the sums; this module feeds it the stored counts, places and
actions, and turns its numbers into what one reader may see. The place panel, the
Meeting's "Impact of actions" slide, the pack, the Assessments page and
``safer-spaces impact`` all call :func:`impact_figures` and :func:`disclose`, so a verdict
is the same on every screen.

Definitions:

* incidents *near* a place are those within the flag radius (200 m, as
  :func:`store.sites.flag_sites`), of every exploitation type;
* a place *has acted* when an action of one of its assessments is done with a completion
  date; the first such date starts its after window;
* a comparison place must have been *flagged* (:func:`store.sites.flag_sites`, the
  engine's defaults) in the place's before window, and have had no completed action by
  the end of its after window;
* an action stored without a kind counts as "other".

Disclosure: leads and admins see every number. Others (``services.disclosure``) see the
verdict and the counts perturbed by the cell key method, as every other count of
incidents: each count (before, after, the comparisons' before and after, each pooled
total, each month of the chart) is read with the sum of its incidents' record keys and
shown as :func:`services.disclosure.disclose_counts` shows it. Where a shown count could
stand for a true count from 0 to k-1 (``"<k"``, or a perturbed value the published table
allows from a small count), the effect ratio, its interval, its p-value and the size of
the change are hidden as well, since with the other counts they would give the small
count away; the rule reads only what is shown, so hiding tells nothing more. The chart's
lines are drawn from the perturbed monthly counts. This is association, not proof: other
things change at a place at the same time as an action.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from geo.grid import Grid
from geo.impact import (
    MIN_INCIDENTS,
    WINDOW_MONTHS,
    comparison_line,
    impact_of_actions,
    monthly_counts_near,
    pooled_impact,
    verdict,
)
from geo.points import HotspotWarning
from services.disclosure import disclose_counts, possible_counts
from store.models import Action, Assessment
from store.sites import as_points, flag_sites
from store.vocabulary import ACTION_KINDS, label

__all__ = [
    "ASSOCIATION_NOTE",
    "CSV_COLUMNS",
    "MIN_INCIDENTS",
    "RADIUS",
    "AreaReader",
    "DisclosedImpact",
    "ImpactFigures",
    "ImpactInputs",
    "combined",
    "csv_table",
    "disclose",
    "impact_areas",
    "impact_by_area",
    "impact_figures",
    "load_action_kinds",
    "measure_impact",
    "no_impact",
    "place_chart",
    "read_impact_inputs",
]

RADIUS = 200.0
"""Metres: incidents this close to a place count as near it (the flag radius)."""

ASSOCIATION_NOTE = (
    "This shows association, not proof: other things change at a place at the same time as "
    "an action, and places chosen for action may differ from those without. Comparable "
    "places were flagged in the same months, are of a similar category, had similar counts "
    "before and had no action yet."
)

CSV_COLUMNS: tuple[str, ...] = (
    "place_key",
    "first_action_month",
    "before",
    "after",
    "comparison_before",
    "comparison_after",
    "effect_ratio",
    "ci_low",
    "ci_high",
    "p",
    "verdict",
)
"""Columns of ``safer-spaces impact --out impact.csv`` (:func:`csv_table`)."""

_COUNTS = ("before", "after", "comparison_before", "comparison_after")
_ESTIMATED = ("fell", "rose", "no_change")


@dataclass(frozen=True)
class ImpactInputs:
    """What the impact is computed from: the stored data of every district.

    Attributes
    ----------
    sites
        :func:`store.sites.read_sites` rows (every type, every month).
    places
        The register (``store.queries.load_places``, EPSG:27700).
    actions
        :func:`load_action_kinds`.
    grid
        The 250 m hot-spot grid over the districts (for "flagged").
    """

    sites: pd.DataFrame
    places: gpd.GeoDataFrame
    actions: pd.DataFrame
    grid: Grid


@dataclass(frozen=True)
class ImpactFigures:
    """The impact of every place's actions, unsuppressed (for leads, the CLI and disclosure).

    Attributes
    ----------
    places
        :data:`geo.impact.IMPACT_COLUMNS` plus ``place_key``, ``name``, ``category``,
        ``district_code`` and ``kinds`` (tuple of action kinds done by the end of the
        after window).
    counts
        Monthly incidents near each place (:func:`geo.impact.monthly_counts_near`).
    names
        Place id -> name, for naming comparisons.
    districts
        Place id -> district code.
    window
        Months before and after.
    keys
        The sums of the record keys of the incidents in ``counts`` (same shape), for the
        cell key method; ``places`` carries them per count as ``before_key``,
        ``after_key``, ``comparison_before_key`` and ``comparison_after_key``.
    """

    places: pd.DataFrame
    counts: pd.DataFrame
    names: dict[int, str]
    districts: dict[int, str]
    window: int
    keys: pd.DataFrame = field(default_factory=pd.DataFrame)


def no_impact(window: int) -> ImpactFigures:
    """Return the impact of nothing: no place has an action, or there are no incidents."""
    empty = pd.DataFrame(columns=["place_key", "name", "category", "district_code", "kinds"])
    return ImpactFigures(empty, pd.DataFrame(), {}, {}, window)


def load_action_kinds(engine: Engine) -> pd.DataFrame:
    """Return every action with its place, status, completion date and kind.

    Returns
    -------
    pandas.DataFrame
        ``id``, ``place_id``, ``assessment_status``, ``status``, ``completed_on``
        (datetime64) and ``kind`` ("other" where none was stored).
    """
    query = select(
        Action.id,
        Assessment.place_id,
        Assessment.status.label("assessment_status"),
        Action.status,
        Action.completed_on,
        Action.kind,
    ).join(Assessment, Assessment.id == Action.assessment_id)
    with engine.connect() as connection:
        frame = pd.read_sql(query.order_by(Action.id), connection)
    frame["completed_on"] = pd.to_datetime(frame["completed_on"])
    frame["kind"] = frame["kind"].where(frame["kind"].isin(list(ACTION_KINDS)), "other")
    return frame


def impact_areas(
    codes: Collection[str], places: pd.DataFrame, actions: pd.DataFrame, *, most: int
) -> list[tuple[str, ...]]:
    """Return the groups of districts whose impact is measured together, each read alone.

    At most ``most`` districts (every county partnership) are one area: a place is compared
    with places anywhere in it. A wider database (a region, all England) is measured district
    by district, each place against places of its own district, and only where a place has
    an action: one reading of every district's incidents per spot and one 250 m grid over
    all of them would take gigabytes (issue 21), as flags do (``services.reads.WIDE_FLAGS``).

    Parameters
    ----------
    codes
        Every district's code.
    places
        ``id`` and ``district_code`` of the register.
    actions
        :func:`load_action_kinds` (``place_id``).
    most
        The most districts measured as one area (``services.reads.WIDE_DISTRICTS``).

    Examples
    --------
    >>> places = pd.DataFrame({"id": [1, 2, 3], "district_code": ["A", "B", "C"]})
    >>> actions = pd.DataFrame({"place_id": [3, 1, 3]})
    >>> impact_areas(["A", "B", "C"], places, actions, most=3)
    [('A', 'B', 'C')]
    >>> impact_areas(["A", "B", "C"], places, actions, most=2)
    [('A',), ('C',)]
    """
    codes = tuple(codes)
    if len(codes) <= most:
        return [codes] if codes else []
    acted = places.loc[places["id"].isin(actions["place_id"]), "district_code"]
    return [(code,) for code in sorted(set(acted.astype(str)) & set(codes))]


def combined(parts: list[ImpactFigures], window: int) -> ImpactFigures:
    """Return the impact of several areas as one (see :func:`impact_areas`).

    Each area's monthly counts cover its own months; a month missing from an area had no
    incidents near its places, so it counts 0.
    """
    parts = [part for part in parts if not part.places.empty]
    if not parts:
        return no_impact(window)
    if len(parts) == 1:
        return parts[0]

    def months(frames: list[pd.DataFrame]) -> pd.DataFrame:
        joined = pd.concat(frames).fillna(0).astype(np.int64)
        return joined.reindex(columns=sorted(joined.columns))

    return ImpactFigures(
        places=pd.concat([part.places for part in parts], ignore_index=True),
        counts=months([part.counts for part in parts]),
        names={k: v for part in parts for k, v in part.names.items()},
        districts={k: v for part in parts for k, v in part.districts.items()},
        window=window,
        keys=months([part.keys for part in parts]),
    )


def read_impact_inputs(engine: Engine) -> ImpactInputs:
    """Read what :func:`impact_figures` needs for every district as one area."""
    from store import queries

    districts = queries.load_districts(engine)
    return ImpactInputs(
        sites=_read_area_sites(engine, tuple(districts["code"])),
        places=queries.load_places(engine),
        actions=load_action_kinds(engine),
        grid=_build_area_grid(districts),
    )


AreaReader = Callable[[tuple[str, ...]], tuple[pd.DataFrame, Grid]]
"""Reads an area's counts per site and builds its 250 m grid."""


def impact_by_area(
    codes: tuple[str, ...],
    places: gpd.GeoDataFrame,
    actions: pd.DataFrame,
    read_area: AreaReader,
    *,
    window: int,
    most: int,
) -> ImpactFigures:
    """Return the impact of every place's actions, area by area (:func:`impact_areas`).

    An area's places are its own districts' places: comparisons come from them alone. The
    command line reads each area directly; the dashboard from its caches.

    Parameters
    ----------
    codes
        Every district's code.
    places
        The register (``store.queries.load_places``).
    actions
        :func:`load_action_kinds`; with none, nothing is read.
    read_area
        Returns an area's :func:`store.sites.read_sites` rows and its 250 m grid.
    window
        Months before and after the first action.
    most
        The most districts measured as one area (``services.reads.WIDE_DISTRICTS``).
    """
    if actions.empty:  # nothing to measure: no read of every district's incidents and grid
        return no_impact(window)
    parts = []
    for area in impact_areas(codes, places, actions, most=most):
        sites, grid = read_area(area)
        own = places if area == codes else places.loc[places["district_code"].isin(area)]
        inputs = ImpactInputs(sites=sites, places=own, actions=actions, grid=grid)
        parts.append(impact_figures(inputs, window=window))
    return combined(parts, window)


def measure_impact(engine: Engine, *, window: int = WINDOW_MONTHS) -> ImpactFigures:
    """Return the impact of every place's actions, read directly (the command line)."""
    from services.reads import WIDE_DISTRICTS
    from store import queries

    def read_area(area: tuple[str, ...]) -> tuple[pd.DataFrame, Grid]:
        return _read_area_sites(engine, area), _build_area_grid(
            queries.load_districts(engine, area)
        )

    codes = tuple(queries.load_districts(engine)["code"])
    return impact_by_area(
        codes,
        queries.load_places(engine),
        load_action_kinds(engine),
        read_area,
        window=window,
        most=WIDE_DISTRICTS,
    )


def _read_area_sites(engine: Engine, codes: tuple[str, ...]) -> pd.DataFrame:
    from store.sites import read_sites

    return read_sites(engine, codes) if codes else pd.DataFrame()


def _build_area_grid(districts: gpd.GeoDataFrame) -> Grid:
    from geo.grid import build_grid

    return build_grid(districts)


def impact_figures(
    inputs: ImpactInputs, *, window: int = WINDOW_MONTHS, radius: float = RADIUS
) -> ImpactFigures:
    """Compute the impact of every place's actions (see :func:`geo.impact.impact_of_actions`).

    Parameters
    ----------
    inputs
        :func:`read_impact_inputs`.
    window
        Months before and after the first completed action.
    radius
        Metres around each place.

    Returns
    -------
    ImpactFigures
        Unsuppressed: pass through :func:`disclose` before showing.
    """
    places = inputs.places
    located = places.loc[places["easting"].notna() & places["northing"].notna()]
    sites = inputs.sites
    if sites.empty or located.empty:
        return no_impact(window)
    points = as_points(sites)
    months = pd.period_range(sites["month"].min(), sites["month"].max(), freq="M")
    counts = monthly_counts_near(located, points, radius=radius, weight_column="n", months=months)
    keys = (
        monthly_counts_near(located, points, radius=radius, weight_column="key", months=months)
        if "key" in points
        else counts * 0
    )
    active = located.loc[located["active"].astype(bool)] if "active" in located else located

    @lru_cache(maxsize=64)
    def flagged(first: pd.Period, last: pd.Period) -> frozenset[int]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", HotspotWarning)
            flags = flag_sites(active, sites, inputs.grid, first=str(first), last=str(last))
        return frozenset(int(i) for i in flags["id"])

    actions = inputs.actions.loc[~inputs.actions["assessment_status"].isin(["draft"])]
    results = impact_of_actions(
        counts, located, actions, window=window, radius=radius, flagged=flagged
    )
    info = places.set_index("id")
    results = results.assign(
        place_key=results["place_id"].map(info["place_key"]),
        name=results["place_id"].map(info["name"]),
        category=results["place_id"].map(info["category"]),
        district_code=results["place_id"].map(info["district_code"]),
        kinds=[_kinds(actions, row) for row in results.itertuples()],
    )
    return ImpactFigures(
        places=_with_keys(results, keys),
        counts=counts,
        names={int(k): str(v) for k, v in info["name"].items()},
        districts={int(k): str(v) for k, v in info["district_code"].items()},
        window=window,
        keys=keys,
    )


def _with_keys(results: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
    """Add the record-key sum beside each count of :func:`geo.impact.impact_of_actions`.

    The same windows and places as the counts: the place's own before and after months,
    and the comparison places' totals over them.
    """
    sums: dict[str, list[object]] = {f"{c}_key": [] for c in _COUNTS}
    for row in results.itertuples():
        w = row.window_months
        usable = pd.notna(w) and int(w) > 0 and pd.notna(row.before)
        if not usable:
            for column in sums:
                sums[column].append(pd.NA)
            continue
        month = pd.Period(str(row.first_action_month), freq="M")
        before = list(pd.period_range(month - int(w), month - 1, freq="M"))
        after = list(pd.period_range(month + 1, month + int(w), freq="M"))
        place = int(row.place_id)
        ids = [int(i) for i in (row.comparison_ids or ())]
        sums["before_key"].append(int(keys.loc[place, before].sum()))
        sums["after_key"].append(int(keys.loc[place, after].sum()))
        sums["comparison_before_key"].append(
            int(keys.loc[ids, before].to_numpy().sum()) if ids else pd.NA
        )
        sums["comparison_after_key"].append(
            int(keys.loc[ids, after].to_numpy().sum()) if ids else pd.NA
        )
    return results.assign(**{c: pd.array(v, dtype="Int64") for c, v in sums.items()})


def _kinds(actions: pd.DataFrame, row: object) -> tuple[str, ...]:
    """Return the kinds of a place's actions done by the end of its after window."""
    month = pd.Period(str(row.first_action_month), freq="M")  # type: ignore[attr-defined]
    window = row.window_months  # type: ignore[attr-defined]
    end = (month + int(window if pd.notna(window) and window > 0 else 0)).end_time
    mine = actions.loc[
        (actions["place_id"] == row.place_id)  # type: ignore[attr-defined]
        & (actions["status"] == "done")
        & actions["completed_on"].notna()
        & (actions["completed_on"] <= end)
    ]
    return tuple(sorted(set(mine["kind"])))


# Disclosure ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DisclosedImpact:
    """The impact of actions as one reader may see it.

    Attributes
    ----------
    places
        One row per place with a completed action in the reader's districts, earliest
        action first: ``place_id``, ``place``, ``district``, ``category``,
        ``first_action``, ``kinds``, ``before``, ``after``, ``comparison_before``,
        ``comparison_after`` (counts as text, ``"<5"`` for small ones where suppressed),
        ``effect`` (e.g. ``"0.58 (0.41 to 0.81)"``, empty where hidden), ``p``,
        ``verdict`` (code), ``sentence`` and ``comparisons`` (the names).
    by_kind, by_district
        Pooled: ``group`` (in words), ``places``, the four counts as text, ``effect``,
        ``p``, ``verdict`` and ``sentence``.
    suppressed, k
        Whether small counts are hidden, and the threshold.
    window
        Months before and after.
    """

    places: pd.DataFrame
    by_kind: pd.DataFrame
    by_district: pd.DataFrame
    suppressed: bool
    k: int
    window: int


def _shown(n: object, key: object, suppressed: bool, k: int) -> str:
    """Return a count as text: exact, or perturbed from its key sum (cell key method)."""
    if n is None or pd.isna(n):  # type: ignore[call-overload]
        return ""
    if not suppressed:
        return f"{int(n):,}"  # type: ignore[call-overload]
    key_sum = 0 if key is None or pd.isna(key) else int(key)  # type: ignore[call-overload]
    (shown,) = disclose_counts(np.array([int(n)]), np.array([key_sum]), k=k)  # type: ignore[call-overload]
    return shown if isinstance(shown, str) else f"{shown:,}"


def _could_be_small(shown: str, k: int) -> bool:
    """Return True when a shown count could stand for a true count from 0 to k-1."""
    if not shown:
        return False
    return min(possible_counts(shown.replace(",", ""), k=k)) < k


def _effect(row: pd.Series) -> str:
    if pd.isna(row["effect_ratio"]):
        return ""
    return f"{row['effect_ratio']:.2f} ({row['ci_low']:.2f} to {row['ci_high']:.2f})"


def _p(p: float) -> str:
    if pd.isna(p):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _disclose_rows(frame: pd.DataFrame, *, suppressed: bool, k: int) -> pd.DataFrame:
    """Return counts as text, hiding the size of a change where a small count could leak."""
    out = frame.copy()
    shown = {
        column: [
            _shown(n, key, suppressed, k)
            for n, key in zip(
                frame[column],
                frame[f"{column}_key"] if f"{column}_key" in frame else [None] * len(frame),
                strict=True,
            )
        ]
        for column in _COUNTS
    }
    hide = np.array(
        [
            suppressed and any(_could_be_small(shown[c][i], k) for c in _COUNTS)
            for i in range(len(frame))
        ],
        dtype=bool,
    )
    effect = [_effect(row) for _, row in frame.iterrows()]
    p = [_p(v) for v in frame["p"]]
    sentence = list(frame["sentence"])
    for i, (_, row) in enumerate(frame.iterrows()):
        if hide[i]:
            effect[i], p[i] = "", ""
            if row["verdict"] in _ESTIMATED:
                own = int(row["after"]) / int(row["before"]) if row["before"] else None
                sentence[i] = verdict(
                    row["effect_ratio"],
                    row["ci_low"],
                    row["ci_high"],
                    row["p"],
                    own_ratio=own,
                    exact=False,
                )[1]
    for column in _COUNTS:
        out[column] = shown[column]
    out = out.drop(columns=[c for c in out.columns if str(c).endswith("_key")])
    return out.assign(effect=effect, p=p, sentence=sentence, hidden=hide)


def disclose(
    figures: ImpactFigures,
    *,
    districts: Collection[str],
    suppressed: bool,
    k: int,
    district_names: dict[str, str] | None = None,
) -> DisclosedImpact:
    """Return the impact of actions in some districts as a reader may see it.

    Parameters
    ----------
    figures
        :func:`impact_figures`.
    districts
        The districts shown (already limited to the reader's).
    suppressed, k
        Whether the reader's counts from 1 to k-1 are hidden.
    district_names
        ONS code -> name.

    Returns
    -------
    DisclosedImpact
        Ready to show.
    """
    names = district_names or {}
    chosen = figures.places.loc[figures.places["district_code"].isin(list(districts))]
    if chosen.empty:
        columns = ["group", "places", *_COUNTS, "effect", "p", "verdict", "sentence"]
        none = pd.DataFrame(columns=columns)
        places = pd.DataFrame(
            columns=[
                "place_id", "place", "district", "category", "first_action", "kinds", *_COUNTS,
                "effect", "p", "verdict", "sentence", "comparisons", "hidden",
            ]
        )  # fmt: skip
        return DisclosedImpact(places, none, none, suppressed, k, figures.window)
    shown = _disclose_rows(chosen, suppressed=suppressed, k=k)

    def comparison_names(ids: tuple[int, ...], matched_on: str) -> str:
        if not ids:
            return ""
        named = [figures.names.get(i, str(i)) for i in ids if figures.districts.get(i) in districts]
        elsewhere = len(ids) - len(named)
        if elsewhere:
            named.append(
                f"{elsewhere} place{'s' if elsewhere != 1 else ''} in "
                f"{'other districts' if elsewhere != 1 else 'another district'}"
            )
        return f"{'; '.join(named)} ({matched_on})" if matched_on else "; ".join(named)

    from store.vocabulary import PLACE_CATEGORIES

    places = pd.DataFrame(
        {
            "place_id": shown["place_id"].to_numpy(),
            "place": shown["name"].to_numpy(),
            "district": [names.get(c, c) for c in shown["district_code"]],
            "category": [label(PLACE_CATEGORIES, c) for c in shown["category"]],
            "first_action": [
                pd.Period(m, freq="M").strftime("%b %Y") for m in shown["first_action_month"]
            ],
            "kinds": [", ".join(label(ACTION_KINDS, k_) for k_ in ks) for ks in shown["kinds"]],
            **{c: shown[c].to_numpy() for c in _COUNTS},
            "effect": shown["effect"].to_numpy(),
            "p": shown["p"].to_numpy(),
            "verdict": shown["verdict"].to_numpy(),
            "sentence": shown["sentence"].to_numpy(),
            "comparisons": [
                comparison_names(ids, on)
                for ids, on in zip(shown["comparison_ids"], shown["matched_on"], strict=True)
            ],
            "hidden": shown["hidden"].to_numpy(),
        }
    )
    by_kind = _pooled(
        figures,
        chosen,
        {int(r.place_id): r.kinds for r in chosen.itertuples()},
        lambda g: label(ACTION_KINDS, g),
        suppressed=suppressed,
        k=k,
    )
    by_district = _pooled(
        figures,
        chosen,
        {int(r.place_id): (r.district_code,) for r in chosen.itertuples()},
        lambda g: names.get(g, g),
        suppressed=suppressed,
        k=k,
    )
    return DisclosedImpact(places, by_kind, by_district, suppressed, k, figures.window)


def _pooled(
    figures: ImpactFigures,
    chosen: pd.DataFrame,
    groups: dict[int, tuple[str, ...]],
    words: object,
    *,
    suppressed: bool,
    k: int,
) -> pd.DataFrame:
    pooled = _pooled_keys(pooled_impact(chosen, figures.counts, groups), chosen, groups)
    shown = _disclose_rows(pooled, suppressed=suppressed, k=k)
    shown["group"] = [words(g) for g in pooled["group"]]  # type: ignore[operator]
    shown = shown.sort_values("group", kind="stable").reset_index(drop=True)
    return shown[["group", "places", *_COUNTS, "effect", "p", "verdict", "sentence"]]


def _pooled_keys(
    pooled: pd.DataFrame, chosen: pd.DataFrame, groups: dict[int, tuple[str, ...]]
) -> pd.DataFrame:
    """Add the record-key sums beside the pooled counts (the same places as they add up).

    :func:`geo.impact.pooled_impact` adds the counts of the places with an estimate in
    each group; their key sums are added over the same places. The counts are added here
    too and must agree with the pooled ones, so the two never drift apart.
    """
    usable = chosen.loc[chosen["verdict"].isin(list(_ESTIMATED))]
    totals: dict[str, dict[str, int]] = {}
    for row in usable.itertuples():
        for group in groups.get(int(row.place_id), ()):
            acc = totals.setdefault(str(group), dict.fromkeys([*_COUNTS, *KEYS], 0))
            for column in (*_COUNTS, *KEYS):
                value = getattr(row, column)
                acc[column] += 0 if pd.isna(value) else int(value)
    out = pooled.copy()
    for column in _COUNTS:
        added = [totals.get(str(g), {}).get(column, 0) for g in out["group"]]
        if [int(v) for v in out[column]] != added:
            raise AssertionError(f"The pooled {column} counts and their key sums disagree.")
    for column in KEYS:
        out[column] = [totals.get(str(g), {}).get(column, 0) for g in out["group"]]
    return out


KEYS = tuple(f"{c}_key" for c in _COUNTS)


def place_chart(
    figures: ImpactFigures, place_id: int, *, suppressed: bool, k: int
) -> pd.DataFrame | None:
    """Return the "since the assessment" chart's data for one place, or None without an action.

    Returns
    -------
    pandas.DataFrame or None
        :func:`geo.impact.comparison_line` columns (``month``, ``place``, ``expected``,
        ``after``); for a suppressed reader the place's months are perturbed (blank where
        shown as ``"<k"``) and the comparison line is drawn from the comparisons'
        perturbed monthly totals (blank where those show ``"<k"``).
    """
    rows = figures.places.loc[figures.places["place_id"] == place_id]
    if rows.empty or pd.isna(rows.iloc[0]["window_months"]) or rows.iloc[0]["window_months"] < 1:
        return None
    line = comparison_line(figures.counts, rows.iloc[0].to_dict())
    if suppressed:
        # Each month of the place, and the comparisons' total of each month, perturbed as
        # every count is; the comparison line is drawn again from the perturbed figures.
        result = rows.iloc[0]
        ids = [int(i) for i in (result["comparison_ids"] or ())]
        months = [pd.Period(m, freq="M") for m in line["month"]]
        place = int(place_id)
        own = _perturbed(figures.counts.loc[place, months], figures.keys.loc[place, months], k)
        others = (
            _perturbed(
                figures.counts.loc[ids, months].sum(axis=0),
                figures.keys.loc[ids, months].sum(axis=0),
                k,
            )
            if ids
            else np.full(len(months), np.nan)
        )
        month = pd.Period(str(result["first_action_month"]), freq="M")
        before = np.array([m < month for m in months])
        shown_own, shown_others = own[before], others[before]
        usable = ~np.isnan(shown_own) & ~np.isnan(shown_others)
        scale = (
            shown_own[usable].mean() / shown_others[usable].mean()
            if ids and usable.any() and shown_others[usable].mean() > 0
            else np.nan
        )
        line["place"] = own
        line["expected"] = others * scale
    return line.drop(columns=["comparisons"])


def _perturbed(counts: pd.Series, keys: pd.Series, k: int) -> np.ndarray:
    """Return monthly counts perturbed (cell key method), NaN where shown as ``"<k"``."""
    shown = disclose_counts(counts.to_numpy(dtype=np.int64), keys.to_numpy(dtype=np.int64), k=k)
    return np.array([np.nan if isinstance(v, str) else float(v) for v in shown], dtype=float)


def csv_table(figures: ImpactFigures) -> pd.DataFrame:
    """Return one row per place for ``safer-spaces impact`` (:data:`CSV_COLUMNS`, exact counts)."""
    frame = figures.places
    table = frame.assign(
        verdict=frame["sentence"],
        effect_ratio=frame["effect_ratio"].round(3),
        ci_low=frame["ci_low"].round(3),
        ci_high=frame["ci_high"].round(3),
        p=frame["p"].round(4),
    )
    return table[list(CSV_COLUMNS)].reset_index(drop=True)
