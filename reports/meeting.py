"""The figures of a steering-group meeting, computed once for the screen and the pack.

Everything here is pure: it takes the frames the pages already read (incident and referral
counts per spot from :func:`store.sites.read_sites`, the place register, assessments,
actions) and returns :class:`MeetingFigures`, with every count already disclosed for the
viewer (small counts shown as ``"<5"`` for roles without point access). The Meeting page
draws these figures, and ``reports.pack`` writes the very same ones to HTML, PDF and CSV,
so a number in the pack is the number on the screen.

Definitions come from the shared modules, never from here: a *flagged place* is
:func:`store.sites.flag_sites`, a *current assessment* :func:`geo.measures.assessment_state`,
an *overdue action* :func:`geo.measures.overdue_actions`. The meeting works in whole
calendar months; the period compares with the period of the same length just before it
and with the same months a year earlier.

Disclosure: the counts about children (incidents and referrals, in totals, by type, by
month and in flag reasons) go through ``services.disclosure`` for roles without point access:
each is read with the sum of its records' keys and perturbed by the cell key method, so
the same records show the same number on every slide, in the pack and on the Map, and no
total minus its parts (or one period minus another) gives a true small count. Changes on
earlier periods are worked out from the perturbed numbers. Counts of the partnership's own
work (places, assessments, actions, grid cells) say nothing about any child and are shown
as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import Engine

from geo.flags import period_label
from geo.grid import Grid, cells_frame
from geo.measures import (
    activity_window,
    assessment_state,
    change,
    day_range_label,
    flagged_coverage,
    overdue_actions,
)
from geo.points import WGS84
from services.audience import Audience
from services.disclosure import disclose, disclose_flags, protect_table
from services.reads import WIDE_FLAGS, ExactMonths, exact_months
from store.sites import TREND_MONTHS, flag_sites, read_sites, sites_in
from store.vocabulary import EXPLOITATION_TYPES, PLACE_CATEGORIES, label

__all__ = [
    "DECISIONS_SHOWN",
    "NOT_COMPARABLE",
    "SLIDES",
    "WORK_KEYS",
    "EmergingSlide",
    "Figure",
    "MeetingFigures",
    "MeetingInputs",
    "emerging_of",
    "emerging_slide",
    "figures_for",
    "figures_table",
    "meeting_figures",
    "month_range",
    "read_inputs",
]

SLIDES: tuple[tuple[str, str], ...] = (
    ("headline", "Headline figures"),
    ("by_type", "By exploitation type"),
    ("trends", "Trends by month"),
    ("monthly", "Monthly counts"),
    ("districts", "Progress by district"),
    ("emerging", "Emerging hot spots"),
    ("decisions", "Places for decision"),
    ("links", "Links between places"),  # issue 19: reports.pack.links_table
    ("impact", "Impact of actions"),  # drawn by dashboard.impact_views.meeting_slide
    ("framework", "Performance framework"),
)
"""The slides in order: (key, title). The screen and the pack both follow this list; what
each slide holds is built once, in ``reports.pack.SLIDE_BUILDERS`` (to add a slide, add it
here and give it a builder there)."""

WORK_KEYS: tuple[str, ...] = (
    "assessments_approved",
    "actions_done",
    "actions_overdue",
    "reviews_due",
)
"""Headline figures of the partnership's own work, counted to today (the rest: incidents)."""

NOT_COMPARABLE = "not comparable"
"""Said instead of a change when the earlier period is not covered by the data."""

DECISIONS_SHOWN = 10
"""Places listed for decision: the highest-ranked flagged places without a current assessment."""

STATE_WORDS: dict[str, str] = {
    "none": "Not assessed",
    "draft": "Assessment in progress",
    "current": "Assessed, current",
    "overdue": "Review overdue",
}


@dataclass(frozen=True)
class Figure:
    """One headline number as the viewer may see it, with its comparisons.

    Attributes
    ----------
    key
        A stable name, e.g. ``"incidents"`` or ``"incidents:cce"`` (for the CSV).
    label
        What it counts, in words.
    value, previous, year_ago
        As shown: a whole number with thousands separators, ``"<5"``, or ``"n/a"``
        where there is no earlier period.
    change_previous, change_year
        The change on each, e.g. ``"+20 (+20%)"``; :data:`NOT_COMPARABLE` where the
        earlier period is not covered by the data; empty where it is not shown (it would
        give a small count away, or the figure has no earlier period by nature).
    period, previous_period, year_period
        The figure's own dates, e.g. ``"Aug-Oct 2026"`` for incidents (whole months of
        data) and ``"29 Aug-28 Nov 2026"`` for the partnership's work (to today), and
        the periods it is compared with; empty where the figure has none.
    """

    key: str
    label: str
    value: str
    previous: str = "n/a"
    year_ago: str = "n/a"
    change_previous: str = ""
    change_year: str = ""
    period: str = ""
    previous_period: str = ""
    year_period: str = ""


class EmergingSlide(NamedTuple):
    """The emerging hot spots of the 12 months to a month (:func:`emerging_slide`)."""

    counts: dict[str, int]
    """Cells in each simple category (Persistent, Emerging, Former, Intermittent)."""
    cells: gpd.GeoDataFrame
    """Those cells (WGS84) with ``simple_category``, for the map."""
    new: int
    """New hot spots."""
    rising: int
    """Intensifying hot spots."""


@dataclass(frozen=True)
class MeetingInputs:
    """What the meeting's figures are computed from (frames as the pages read them).

    Attributes
    ----------
    incidents, referrals
        :func:`store.sites.read_sites` rows for the viewer's chosen districts, ages and
        agencies (every month; types are chosen here).
    places
        The register (``store.queries.load_places``) in the chosen districts.
    assessments, actions
        ``store.queries.load_assessments`` and ``load_actions`` in the chosen districts.
    approvals
        Approval date by assessment id (``services.assessments.approval_dates``).
    grid
        The hot-spot grid over the chosen districts.
    district_names
        ONS code to name.
    districts
        The districts in the meeting, each given a row of the progress table.
    flagged
        False for a wide scope (``services.reads.wide_square``): the counts are per square,
        too coarse for the flag rule's 200 m, so no place is flagged and
        :attr:`MeetingFigures.flags_note` says why instead.
    emerging
        :func:`emerging_slide` of these inputs, when the caller has it (it does not depend
        on the reader or the period's first month, so one serves every preset period and
        every reader of the same districts); computed here when None.
    """

    incidents: pd.DataFrame
    referrals: pd.DataFrame
    places: gpd.GeoDataFrame
    assessments: pd.DataFrame
    actions: pd.DataFrame
    approvals: pd.Series
    grid: Grid
    district_names: dict[str, str]
    districts: tuple[str, ...] = ()
    flagged: bool = True
    emerging: EmergingSlide | None = None


@dataclass(frozen=True)
class MeetingFigures:
    """Every figure of a meeting, disclosed for the viewer.

    Attributes
    ----------
    period, previous, year_ago
        Labels such as ``"Aug-Oct 2026"``.
    headline
        The headline :class:`Figure` list (totals first).
    by_type
        Incidents and referrals by exploitation type.
    monthly
        Months as rows (``month`` as ``"YYYY-MM"``), incidents by type, ``incidents``
        (all types) and ``referrals``; small counts shown as text for suppressed roles.
    notes
        Plain-English notes on notable months (the peak, sharp rises), under the trend chart.
    marks
        The same months as (``"YYYY-MM"``, short mark such as ``"Peak"`` or ``"+36%"``),
        written on the trend charts.
    districts
        Progress by district (:func:`geo.measures.flagged_coverage`), counts disclosed,
        ``share_assessed`` as text (e.g. ``"40%"``), with ``best`` / ``worst`` marks.
    emerging
        Number of grid cells in each simple emerging category.
    emerging_cells
        The hot cells (WGS84) with ``simple_category``, for the map.
    decisions
        The places for decision: the :data:`DECISIONS_SHOWN` highest-ranked flagged places
        without a current assessment, best first: ``rank``, ``id``, ``name``,
        ``district``, ``category``, ``incidents``, ``reason``, ``status``, and the point.
    framework
        The performance framework: one row per month (see :func:`framework_table`).
    suppressed
        True when small counts are hidden for this viewer.
    work_period
        The days the partnership's work is counted over (e.g. ``"29 Aug-28 Nov 2026"``).
    flags_note
        Why no place is flagged, for a wide scope (:attr:`MeetingInputs.flagged`); empty
        otherwise. The slides that count flagged places say it first.
    """

    period: str
    previous: str
    year_ago: str
    first: str
    last: str
    headline: list[Figure]
    by_type: list[Figure]
    monthly: pd.DataFrame
    notes: list[str]
    marks: list[tuple[str, str]]
    districts: pd.DataFrame
    emerging: dict[str, int]
    emerging_cells: gpd.GeoDataFrame
    decisions: gpd.GeoDataFrame
    framework: pd.DataFrame
    suppressed: bool
    k: int = 5
    empty: bool = field(default=False)
    work_period: str = ""
    flags_note: str = ""

    @property
    def last_label(self) -> str:
        """The period's last month in words, e.g. ``"Oct 2026"``."""
        return pd.Period(self.last, freq="M").strftime("%b %Y")


def month_range(first: str, last: str) -> list[str]:
    """Return the months from ``first`` to ``last`` inclusive, as ``"YYYY-MM"``.

    Examples
    --------
    >>> month_range("2025-11", "2026-01")
    ['2025-11', '2025-12', '2026-01']
    """
    return [str(p) for p in pd.period_range(first, last, freq="M")]


def _shift(month: str, months: int) -> str:
    return str(pd.Period(month, freq="M") + months)


def _total(sites: pd.DataFrame, first: str, last: str, types: tuple[str, ...] = ()) -> int:
    return int(sites_in(sites, types=types, first=first, last=last)["n"].sum())


Cell = tuple[int, int]
"""A count and the sum of its records' keys (``services.disclosure``)."""


def _month_totals(sites: pd.DataFrame) -> pd.DataFrame:
    """Return the events summed by month and type (``n``, and ``key`` when there).

    Every count of the headline, the types and the trends is a sum of these; a national
    scope's rows are millions, and each count filtered them all again.
    """
    columns = [c for c in ("n", "key") if c in sites]
    return sites.groupby(["month", "category"], as_index=False, sort=False, observed=True)[
        columns
    ].sum()


def _cell(sites: pd.DataFrame, first: str, last: str, types: tuple[str, ...] = ()) -> Cell:
    """Return the events of some months and types as a count with its key sum."""
    chosen = sites_in(sites, types=types, first=first, last=last)
    key = int(chosen["key"].sum()) if "key" in chosen else 0
    return int(chosen["n"].sum()), key


class _Discloser:
    """Formats counts for one viewer (the single place a meeting number becomes text)."""

    def __init__(self, suppressed: bool, k: int) -> None:
        self.suppressed, self.k = suppressed, k

    def value(self, cell: Cell) -> int | str:
        """Return a count as shown: exact, or perturbed from its key sum (``"<k"`` when small)."""
        n, key = cell
        return disclose(int(n), int(key), k=self.k) if self.suppressed else int(n)

    def count(self, cell: Cell) -> str:
        shown = self.value(cell)
        return shown if isinstance(shown, str) else f"{shown:,}"

    def delta(self, current: Cell, previous: Cell | None) -> str:
        """Return the change as shown: from the shown numbers, never the true ones."""
        if previous is None:
            return ""
        now, before = self.value(current), self.value(previous)
        if isinstance(now, str) or isinstance(before, str):
            return ""
        return change(now, before) or ""

    def figure(
        self,
        key: str,
        text: str,
        now: Cell | int,
        before: Cell | int | None,
        year: Cell | int | None,
        *,
        about_children: bool = True,
        periods: tuple[str, ...] = ("", "", ""),
        comparable: bool = True,
    ) -> Figure:
        """Return one figure; ``before``/``year`` None with ``comparable``: not comparable."""
        show = self if about_children else _Discloser(False, self.k)

        def cell(value: Cell | int | None) -> Cell | None:
            return None if value is None else value if isinstance(value, tuple) else (value, 0)

        current, previous, year_ago = cell(now), cell(before), cell(year)
        assert current is not None
        gap = NOT_COMPARABLE if comparable else ""
        return Figure(
            key=key,
            label=text,
            value=show.count(current),
            previous="n/a" if previous is None else show.count(previous),
            year_ago="n/a" if year_ago is None else show.count(year_ago),
            change_previous=gap if previous is None else show.delta(current, previous),
            change_year=gap if year_ago is None else show.delta(current, year_ago),
            period=periods[0],
            previous_period=periods[1] if previous is not None else "",
            year_period=periods[2] if year_ago is not None else "",
        )


def _approved_on(inputs: MeetingInputs) -> pd.Series:
    """Approval date per approved assessment: the audit log's, else its assessment date."""
    approved = inputs.assessments.loc[inputs.assessments["status"].isin(["approved", "superseded"])]
    logged = pd.to_datetime(inputs.approvals.reindex(approved["id"].to_numpy()).to_numpy())
    when = pd.Series(logged).fillna(pd.Series(pd.to_datetime(approved["assessed_on"]).to_numpy()))
    return pd.Series(when.to_numpy(), index=approved["id"].to_numpy())


def _in_months(dates: pd.Series, first: str, last: str) -> pd.Series:
    month = pd.to_datetime(dates).dt.to_period("M").astype(str)
    return dates.notna() & (month >= first) & (month <= last)


def _done(actions: pd.DataFrame, first: str, last: str) -> int:
    """Actions marked done with a completion date in the months."""
    finished = _in_months(actions["completed_on"], first, last)
    return int(((actions["status"] == "done") & finished).sum())


def _in_days(dates: pd.Series, first: date, last: date) -> pd.Series:
    when = pd.to_datetime(dates)
    return when.notna() & (when >= pd.Timestamp(first)) & (when <= pd.Timestamp(last))


def _reviews_due(assessments: pd.DataFrame, day: date) -> int:
    """Places whose newest assessment is approved and past its review date on ``day``."""
    state = assessment_state(assessments, today=day)
    return int((state["state"] == "overdue").sum())


def _month_end(month: str) -> pd.Timestamp:
    return pd.Period(month, freq="M").end_time.normalize()


def _overdue_at(actions: pd.DataFrame, day: pd.Timestamp) -> int:
    """Actions due before ``day`` and not completed by then (open now or completed later)."""
    late = actions["due_on"] < day
    not_done = (actions["status"] == "open") | (
        (actions["status"] == "done") & (actions["completed_on"] > day)
    )
    return int((late & not_done & actions["created"].le(day)).sum())


def _flags(inputs: MeetingInputs, types: tuple[str, ...], first: str, last: str) -> pd.DataFrame:
    places = inputs.places if inputs.flagged else inputs.places.iloc[:0]
    return flag_sites(
        places, sites_in(inputs.incidents, types=types), inputs.grid, first=first, last=last
    )


def emerging_slide(
    incidents: pd.DataFrame, grid: Grid, types: tuple[str, ...], last: str
) -> EmergingSlide:
    """Return the emerging hot spots of the 12 months to ``last``.

    Parameters
    ----------
    incidents
        :attr:`MeetingInputs.incidents`.
    grid
        :attr:`MeetingInputs.grid`.
    types
        Exploitation types chosen (all when empty).
    last
        The period's last month, ``"YYYY-MM"``.

    Returns
    -------
    EmergingSlide
        Exact statistics: they depend on neither the reader nor the period's first month.
    """
    return emerging_of(exact_months(sites_in(incidents, types=types), grid, last=last), grid)


def emerging_of(exact: ExactMonths | None, grid: Grid) -> EmergingSlide:
    """Return the emerging hot spots slide of exact statistics (``services.reads.exact_months``).

    The Map's month-by-month picture is made from the same statistics, so a Meeting whose
    period ends where the Map's does reuses them (``dashboard.loaders.emerging_months``).
    """
    counts = dict.fromkeys(("Persistent", "Emerging", "Former", "Intermittent"), 0)
    if exact is None:
        empty = gpd.GeoDataFrame({"simple_category": []}, geometry=[], crs=WGS84)
        return EmergingSlide(counts, empty, 0, 0)
    simple = pd.Series(exact.simple_category)
    for name in counts:
        counts[name] = int((simple == name).sum())
    shown = np.flatnonzero(simple.isin(list(counts)).to_numpy())
    cells = cells_frame(grid, {"simple_category": exact.simple_category}, crs=WGS84, cells=shown)
    new = int((exact.category == "New Hot Spot").sum())
    rising = int((exact.category == "Intensifying Hot Spot").sum())
    return EmergingSlide(counts, cells, new, rising)


def _notable(totals: pd.Series, show: _Discloser) -> list[tuple[str, str, str]]:
    """Notable months of the total: the peak, and months at least 25% above the three before.

    ``totals`` are the counts as the reader sees them (perturbed for a role without point
    access, small ones as 0), so the notes say nothing the chart does not.
    Returns (month, short mark for a chart, sentence) for each.
    """
    show = _Discloser(False, show.k)
    notable: list[tuple[str, str, str]] = []
    if totals.sum() == 0:
        return notable
    peak = str(totals.idxmax())
    words = pd.Period(peak, freq="M").strftime("%b %Y")
    notable.append(
        (peak, "Peak", f"Peak: {show.count((int(totals[peak]), 0))} incidents in {words}.")
    )
    values = totals.to_numpy()
    for i in range(3, len(values)):
        before = values[i - 3 : i].mean()
        if before > 0 and values[i] >= 1.25 * before and values[i] - before >= show.k:
            month = str(totals.index[i])
            rise = f"{(values[i] / before - 1):+.0%}"
            notable.append(
                (
                    month,
                    rise,
                    f"{pd.Period(month, freq='M').strftime('%b %Y')}: "
                    f"{show.count((int(values[i]), 0))} incidents, {rise} on the three months "
                    "before.",
                )
            )
    return notable


def complete_month_end(engine: Engine) -> date | None:
    """Return the last day of the last complete month of incident data (None: no incidents).

    See :func:`geo.measures.complete_through`; the precision is that of the newest
    incident's date.
    """
    from sqlalchemy import func, select

    from geo.measures import complete_through
    from store.models import Incident

    with engine.connect() as connection:
        latest = connection.scalar(select(func.max(Incident.occurred_on)))
        if latest is None:
            return None
        precision = connection.scalar(
            select(func.max(Incident.date_precision)).where(Incident.occurred_on == latest)
        )
    return complete_through(latest, precision=precision or "day")


def read_inputs(
    engine: Engine,
    districts: tuple[str, ...],
    *,
    ages: tuple[str, ...] = (),
    agencies: tuple[str, ...] = (),
    grid: Grid,
    district_names: dict[str, str],
    audience: Audience,
) -> MeetingInputs:
    """Read what the meeting needs for some districts within an audience's scope.

    Parameters
    ----------
    engine
        The database.
    districts
        ONS codes of the districts in the meeting.
    ages, agencies
        Age bands and source agencies chosen (all when empty).
    grid
        The hot-spot grid over these districts.
    district_names
        ONS code to name.
    """
    from services.assessments import approval_dates
    from store import queries

    districts = audience.scope(districts)
    return MeetingInputs(
        incidents=read_sites(engine, districts, ages=ages, agencies=agencies),
        referrals=read_sites(engine, districts, kind="referrals", ages=ages, agencies=agencies),
        places=queries.load_places(engine, districts),
        assessments=queries.load_assessments(engine, districts),
        actions=queries.load_actions(engine, districts),
        approvals=approval_dates(engine, audience),
        grid=grid,
        district_names=district_names,
        districts=districts,
    )


def figures_for(
    engine: Engine,
    districts: tuple[str, ...],
    *,
    first: str,
    last: str,
    today: date,
    audience: Audience,
    types: tuple[str, ...] = (),
    ages: tuple[str, ...] = (),
    agencies: tuple[str, ...] = (),
    grid: Grid | None = None,
    framework_months: int = 12,
) -> MeetingFigures:
    """Read the stored data and compute the meeting's figures (see :func:`meeting_figures`).

    ``districts`` are those wanted, within the audience's scope. The grid is the default
    250 m British National Grid over the districts unless one is given.
    """
    from geo.grid import build_grid
    from store import queries

    outlines = queries.load_districts(engine)
    names = dict(zip(outlines["code"], outlines["name"], strict=True))
    if grid is None:
        grid = build_grid(outlines.loc[outlines["code"].isin(districts)])
    inputs = read_inputs(
        engine,
        audience.scope(districts),
        ages=ages,
        agencies=agencies,
        grid=grid,
        district_names=names,
        audience=audience,
    )
    return meeting_figures(
        inputs,
        first=first,
        last=last,
        types=types,
        today=today,
        audience=audience,
        framework_months=framework_months,
    )


def framework_table(
    inputs: MeetingInputs,
    *,
    types: tuple[str, ...],
    last: str,
    months: int,
    today: date,
) -> pd.DataFrame:
    """Return the performance framework: the meeting's measures month by month (raw counts).

    Parameters
    ----------
    inputs
        The meeting's frames.
    types
        Exploitation types chosen (all when empty).
    last
        The last month, ``"YYYY-MM"``.
    months
        How many months back from ``last``.
    today
        Months after today's month are not counted for assessments and actions.

    Returns
    -------
    pandas.DataFrame
        One row per month: ``month``, ``incidents``, ``referrals``, ``flagged_places``
        (flagged over the three months to the month's end), ``flagged_assessed`` (of those,
        with an approved assessment on or before the month's end), ``share_assessed``,
        ``assessments_approved``, ``actions_done`` and ``actions_overdue`` (open past
        their due date at the month's end); ``incidents_key`` and ``referrals_key``, the
        record key sums of the month's counts (``services.disclosure``).
    """
    approved_on = _approved_on(inputs)
    place_of = inputs.assessments.set_index("id")["place_id"]
    assessed_on = pd.to_datetime(inputs.assessments.set_index("id")["assessed_on"])
    created = assessed_on.reindex(inputs.actions["assessment_id"].to_numpy()).to_numpy()
    actions = inputs.actions.assign(created=created)
    rows = []
    for month in month_range(_shift(last, -(months - 1)), last):
        end = _month_end(month)
        flags = _flags(inputs, types, _shift(month, -2), month)
        assessed = set(place_of.reindex(approved_on.index[approved_on <= end]).dropna())
        flagged_assessed = int(flags["id"].isin(assessed).sum())
        rows.append(
            {
                "month": month,
                "incidents": _total(inputs.incidents, month, month, types),
                "referrals": _total(inputs.referrals, month, month, types),
                "incidents_key": _cell(inputs.incidents, month, month, types)[1],
                "referrals_key": _cell(inputs.referrals, month, month, types)[1],
                "flagged_places": len(flags),
                "flagged_assessed": flagged_assessed,
                "share_assessed": flagged_assessed / len(flags) if len(flags) else np.nan,
                "assessments_approved": int(_in_months(approved_on, month, month).sum()),
                "actions_done": _done(actions, month, month),
                "actions_overdue": _overdue_at(actions, end)
                if pd.Period(month, freq="M") <= pd.Period(today, freq="M")
                else 0,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "month",
            *_FRAMEWORK_COUNTS[:4],
            "share_assessed",
            *_FRAMEWORK_COUNTS[4:],
            "incidents_key",
            "referrals_key",
        ],
    )


_DISTRICT_COUNTS = [
    "places",
    "current",
    "overdue_reviews",
    "not_assessed",
    "actions_open",
    "actions_done",
    "actions_overdue",
]

_FRAMEWORK_COUNTS = [
    "incidents",
    "referrals",
    "flagged_places",
    "flagged_assessed",
    "assessments_approved",
    "actions_done",
    "actions_overdue",
]


def meeting_figures(
    inputs: MeetingInputs,
    *,
    first: str,
    last: str,
    types: tuple[str, ...] = (),
    today: date,
    audience: Audience,
    framework_months: int = 12,
    activity_end: date | None = None,
) -> MeetingFigures:
    """Compute every figure of the meeting for one viewer.

    Parameters
    ----------
    inputs
        The frames (see :class:`MeetingInputs`), already limited to the viewer's chosen
        districts, age bands and agencies.
    first, last
        The period's first and last months, ``"YYYY-MM"``.
    types
        Exploitation types chosen (all when empty).
    today
        The date against which reviews and actions are due.
    audience
        Who will read it: unless ``exact``, every count is perturbed and those from 1 to
        k-1 read ``"<k"``.
    framework_months
        Months in the performance framework, ending with ``last``; 0 leaves it empty (its
        columns only), for the slides before it: it is the costliest part.
    activity_end
        The last day the partnership's work is counted to (assessments completed,
        actions done and overdue, reviews due): ``today`` unless given (a past custom
        period passes its own end). The work is counted over a window as long as the
        period (:func:`geo.measures.activity_window`), compared with the equally long
        windows before and a year before; incidents are counted in the whole months
        ``first`` to ``last``.

    Returns
    -------
    MeetingFigures
        Every figure, ready to show.
    """
    suppressed, k = not audience.exact, audience.k
    incidents, referrals = _month_totals(inputs.incidents), _month_totals(inputs.referrals)
    show = _Discloser(suppressed, k)
    length = len(month_range(first, last))
    prev_first, prev_last = _shift(first, -length), _shift(first, -1)
    year_first, year_last = _shift(first, -12), _shift(last, -12)
    oldest = inputs.incidents["month"].min() if not inputs.incidents.empty else first
    has_previous = oldest <= prev_first
    has_year = oldest <= year_first

    def compared(count: Callable[[str, str], Any]) -> tuple[Any, Any | None, Any | None]:
        """Return the count in the period, the one before and a year before (None: no data)."""
        return (
            count(first, last),
            count(prev_first, prev_last) if has_previous else None,
            count(year_first, year_last) if has_year else None,
        )

    def events(sites: pd.DataFrame, chosen: tuple[str, ...]) -> Callable[[str, str], Cell]:
        return lambda a, b: _cell(sites, a, b, chosen)

    flags = _flags(inputs, types, first, last)
    emerging, cells, new, rising = inputs.emerging or emerging_slide(
        inputs.incidents, inputs.grid, types, last
    )
    approved_on = pd.Series(_approved_on(inputs).to_numpy())
    actions = inputs.actions

    def flagged(a: str, b: str) -> int:
        return len(flags) if (a, b) == (first, last) else len(_flags(inputs, types, a, b))

    def month_label(a: str, b: str) -> str:
        return period_label(pd.Period(a, freq="M"), pd.Period(b, freq="M"))

    months_shown = (
        month_label(first, last),
        month_label(prev_first, prev_last),
        month_label(year_first, year_last),
    )
    # The partnership's work: windows of days as long as the period, to activity_end.
    end = activity_end or today
    windows = [activity_window(end, length, back=back) for back in (0, length, 12)]
    days_shown = tuple(day_range_label(a, b) for a, b in windows)
    at_days = tuple(f"at {b.day} {b:%b %Y}" for _, b in windows)

    def in_windows(count: Callable[[date, date], int]) -> tuple[int, int, int]:
        now, before, year = (count(a, b) for a, b in windows)
        return now, before, year

    assessments = inputs.assessments
    with_created = actions.assign(
        created=pd.to_datetime(assessments.set_index("id")["assessed_on"])
        .reindex(actions["assessment_id"].to_numpy())
        .to_numpy()
    )
    incident_work: list[tuple[str, str, tuple[Any, Any | None, Any | None], bool]] = [
        ("flagged_places", "Flagged places", compared(flagged), True),
        ("new_hot_spots", "New hot spots", (new, None, None), False),
        ("intensifying_hot_spots", "Intensifying hot spots", (rising, None, None), False),
    ]
    work: list[tuple[str, str, tuple[Any, Any | None, Any | None], tuple[str, ...]]] = [
        (
            "assessments_approved",
            "Assessments completed",
            in_windows(lambda a, b: int(_in_days(approved_on, a, b).sum())),
            days_shown,
        ),
        (
            "actions_done",
            "Actions done",
            in_windows(
                lambda a, b: int(
                    ((actions["status"] == "done") & _in_days(actions["completed_on"], a, b)).sum()
                )
            ),
            days_shown,
        ),
        (
            "actions_overdue",
            "Actions overdue",
            (
                int(overdue_actions(actions, today=end).sum()),
                _overdue_at(with_created, pd.Timestamp(windows[1][1])),
                _overdue_at(with_created, pd.Timestamp(windows[2][1])),
            ),
            at_days,
        ),
        ("reviews_due", "Reviews due", (_reviews_due(assessments, end), None, None), at_days),
    ]
    headline = [
        show.figure(
            "incidents",
            "Incidents",
            *compared(events(incidents, types)),
            periods=months_shown,
        ),
        show.figure(
            "referrals",
            "Referrals",
            *compared(events(referrals, types)),
            periods=months_shown,
        ),
        *(
            show.figure(
                key, text, *values, about_children=False, periods=months_shown, comparable=same
            )
            for key, text, values, same in incident_work
        ),
        *(
            show.figure(key, text, *values, about_children=False, periods=periods, comparable=False)
            for key, text, values, periods in work
        ),
    ]
    chosen_types = types or tuple(EXPLOITATION_TYPES)
    by_type = [
        show.figure(
            f"{kind}:{code}",
            f"{label(EXPLOITATION_TYPES, code)} ({kind})",
            *compared(events(sites, (code,))),
            periods=months_shown,
        )
        for kind, sites in (("incidents", incidents), ("referrals", referrals))
        for code in chosen_types
    ]

    trend_first = _shift(last, -(TREND_MONTHS - 1))
    months = month_range(trend_first, last)
    counted = sites_in(incidents, types=types, first=trend_first, last=last)

    def by_month(sites: pd.DataFrame, column: str, columns: list[str] | None) -> pd.DataFrame:
        if column not in sites:
            sites = sites.assign(**{column: 0})
        if columns is None:
            return sites.groupby("month")[column].sum().reindex(months, fill_value=0)
        return sites.pivot_table(
            index="month", columns="category", values=column, aggfunc="sum", fill_value=0
        ).reindex(index=months, columns=columns, fill_value=0)

    wide = by_month(counted, "n", list(chosen_types))
    wide_keys = by_month(counted, "key", list(chosen_types))
    names = [label(EXPLOITATION_TYPES, c) for c in wide.columns]
    wide.columns = names
    wide_keys.columns = [f"{c}:key" for c in names]
    referral_rows = sites_in(referrals, types=types, first=trend_first, last=last)
    monthly = pd.concat(
        [
            wide.assign(incidents=wide.sum(axis=1), referrals=by_month(referral_rows, "n", None)),
            wide_keys.assign(
                **{
                    "incidents:key": wide_keys.sum(axis=1),
                    "referrals:key": by_month(referral_rows, "key", None),
                }
            ),
        ],
        axis=1,
    ).astype(np.int64)
    counts = [*names, "incidents", "referrals"]
    key_columns = [f"{c}:key" for c in counts]
    if suppressed:
        monthly = protect_table(monthly, counts, key_columns, k=k)
        totals = pd.Series(
            [v if isinstance(v, int) else 0 for v in monthly["incidents"]], index=monthly.index
        )  # as shown: "<k" counts as 0
    else:
        monthly = monthly.drop(columns=key_columns)
        totals = monthly["incidents"]
    notable = _notable(totals, show)
    monthly = _as_text(monthly, counts).rename_axis("month").reset_index()

    flagged = pd.DataFrame(flags.drop(columns="geometry"))
    districts = flagged_coverage(
        flagged,
        inputs.assessments,
        inputs.actions,
        today=today,
        district_names=inputs.district_names,
    )
    districts = _every_district(districts, inputs)
    districts = _mark_best_and_worst(districts)
    districts = districts.assign(
        share_assessed=["n/a" if pd.isna(v) else f"{v:.0%}" for v in districts["share_current"]]
    )
    districts = _as_text(districts, _DISTRICT_COUNTS)

    state = assessment_state(inputs.assessments, today=today).set_index("place_id")["state"]
    status = pd.Series([state.get(i, "none") for i in flags["id"]], index=flags.index)
    waiting = flags.loc[status != "current"].head(DECISIONS_SHOWN)
    if suppressed:
        waiting = disclose_flags(waiting, k=k)
    decisions = waiting.assign(
        rank=range(1, len(waiting) + 1),  # ranked among the places waiting: no gaps
        district=[inputs.district_names.get(c, c) for c in waiting["district_code"]],
        category=[label(PLACE_CATEGORIES, c) for c in waiting["category"]],
        incidents=[n if isinstance(n, str) else f"{int(n):,}" for n in waiting["incidents"]],
        status=[STATE_WORDS[status[i]] for i in waiting.index],
    )[["rank", "id", "name", "district", "category", "incidents", "reason", "status", "geometry"]]

    framework = framework_table(
        inputs, types=types, last=last, months=framework_months, today=today
    )  # 0 months: no rows
    if suppressed:
        framework = protect_table(
            framework, ["incidents", "referrals"], ["incidents_key", "referrals_key"], k=k
        )
    else:
        framework = framework.drop(columns=["incidents_key", "referrals_key"])
    framework["share_assessed"] = [
        "n/a" if pd.isna(v) else f"{v:.0%}" for v in framework["share_assessed"]
    ]
    framework = _as_text(framework, _FRAMEWORK_COUNTS)

    first_p, last_p = pd.Period(first, freq="M"), pd.Period(last, freq="M")
    return MeetingFigures(
        period=period_label(first_p, last_p),
        previous=period_label(pd.Period(prev_first, freq="M"), pd.Period(prev_last, freq="M")),
        year_ago=period_label(pd.Period(year_first, freq="M"), pd.Period(year_last, freq="M")),
        first=first,
        last=last,
        headline=headline,
        by_type=by_type,
        monthly=monthly,
        notes=[sentence for _, _, sentence in notable],
        marks=[(month, mark) for month, mark, _ in notable],
        districts=districts.drop(columns=["share_current"]),
        emerging=emerging,
        emerging_cells=cells,
        decisions=decisions,
        framework=framework,
        suppressed=suppressed,
        k=k,
        empty=_total(incidents, first, last, types) == 0,
        work_period=days_shown[0],
        flags_note="" if inputs.flagged else WIDE_FLAGS,
    )


def _as_text(table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Return the table with its counts as shown: thousands separated, hidden ones as they are."""
    shown = table.copy()
    for column in columns:
        shown[column] = [v if isinstance(v, str) else f"{int(v):,}" for v in table[column]]
    return shown


def _every_district(table: pd.DataFrame, inputs: MeetingInputs) -> pd.DataFrame:
    """Give every district of the meeting a row, with zeros where nothing was flagged."""
    missing = [c for c in inputs.districts if c not in set(table["district_code"])]
    if not missing:
        return table
    zeros = pd.DataFrame({"district_code": missing}).assign(
        district=[inputs.district_names.get(c, c) for c in missing],
        **{c: 0 for c in table.columns if c not in ("district_code", "district", "share_current")},
        share_current=np.nan,
    )
    whole = pd.concat([table, zeros[table.columns]], ignore_index=True)
    return whole.sort_values("district", kind="stable").reset_index(drop=True)


def _mark_best_and_worst(table: pd.DataFrame) -> pd.DataFrame:
    """Mark the districts with the highest and lowest share of flagged places assessed."""
    marks = pd.Series("", index=table.index)
    rated = table.loc[table["places"] > 0, "share_current"].dropna()
    if len(rated) >= 2 and rated.max() > rated.min():
        marks[rated.index[rated == rated.max()]] = "best"
        marks[rated.index[rated == rated.min()]] = "worst"
    return table.assign(mark=marks)


def figures_table(figures: MeetingFigures) -> pd.DataFrame:
    """Return every number of the meeting as one long table, for the CSV of the pack.

    Returns
    -------
    pandas.DataFrame
        ``slide``, ``measure``, ``period``, ``value``: the values exactly as shown.
    """
    rows: list[dict[str, str]] = []

    def add(slide: str, measure: str, period: str, value: object) -> None:
        rows.append({"slide": slide, "measure": measure, "period": period, "value": str(value)})

    for fig in figures.headline:
        add("headline", fig.label, fig.period or figures.period, fig.value)
        if fig.change_previous:
            add(
                "headline",
                f"{fig.label}: change",
                fig.previous_period or figures.previous,
                fig.change_previous,
            )
    for fig in figures.by_type:
        add("by_type", fig.label, figures.period, fig.value)
        for period, value in ((figures.previous, fig.previous), (figures.year_ago, fig.year_ago)):
            if value != "n/a":
                add("by_type", fig.label, period, value)
    for row in figures.monthly.itertuples(index=False):
        for column, value in zip(figures.monthly.columns[1:], row[1:], strict=True):
            add("monthly", str(column), row[0], value)
    for row in figures.districts.to_dict("records"):
        for column in [*_DISTRICT_COUNTS, "share_assessed"]:
            add("districts", f"{row['district']}: {column}", figures.period, row[column])
    for name, n in figures.emerging.items():
        add("emerging", f"{name} hot spot cells", figures.period, n)
    for row in figures.decisions.itertuples(index=False):
        add("decisions", f"{row.rank}. {row.name}", figures.period, row.incidents)
    for row in figures.framework.to_dict("records"):
        for column in [*_FRAMEWORK_COUNTS, "share_assessed"]:
            add("framework", column, row["month"], row[column])
    return pd.DataFrame(rows, columns=["slide", "measure", "period", "value"])
