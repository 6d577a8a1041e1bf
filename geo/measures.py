"""Measures shared by every page: one definition of "current", "overdue" and the counts.

Pure functions over the frames that ``store.queries`` returns.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

__all__ = [
    "action_summary",
    "activity_window",
    "assessment_state",
    "change",
    "complete_through",
    "day_range_label",
    "district_progress",
    "flagged_coverage",
    "monthly_counts",
    "overdue_actions",
    "overdue_reviews",
]


def assessment_state(assessments: pd.DataFrame, *, today: date) -> pd.DataFrame:
    """Return each place's newest assessment and its state for the map and the queue.

    Parameters
    ----------
    assessments
        As ``store.queries.load_assessments`` returns them.
    today
        The date against which reviews are due.

    Returns
    -------
    pandas.DataFrame
        One row per assessed place: ``place_id``, ``assessment_id``, ``status``,
        ``next_review_on`` and ``state``, one of ``"current"`` (approved, review
        not yet due), ``"overdue"`` (approved, review date passed), ``"draft"``
        (draft, submitted or returned: work in progress).
    """
    live = assessments.loc[assessments["status"] != "superseded"]
    order = live.sort_values(["assessed_on", "id"], ascending=False)
    newest = order.drop_duplicates("place_id").rename(columns={"id": "assessment_id"})
    approved = newest["status"] == "approved"
    overdue = approved & (newest["next_review_on"] < pd.Timestamp(today))
    state = pd.Series("draft", index=newest.index)
    state[approved] = "current"
    state[overdue] = "overdue"
    result = newest[["place_id", "assessment_id", "status", "next_review_on", "district_code"]]
    return result.assign(state=state).reset_index(drop=True)


def overdue_actions(actions: pd.DataFrame, *, today: date) -> pd.Series:
    """Return a boolean mask of open actions whose due date has passed."""
    return (actions["status"] == "open") & (actions["due_on"] < pd.Timestamp(today))


def district_progress(
    places: pd.DataFrame,
    assessments: pd.DataFrame,
    actions: pd.DataFrame,
    *,
    today: date,
    district_names: dict[str, str],
) -> pd.DataFrame:
    """Return progress by district: places, assessed share, overdue reviews, actions.

    ``places`` are the places in question (the flagged ones, on the Meeting page).
    """
    state = assessment_state(assessments, today=today)
    # empty frames come with object or float ids, which merge refuses to match
    joined = places[["id", "district_code"]].astype({"id": "int64"}).merge(
        state[["place_id", "state"]].astype({"place_id": "int64"}),
        left_on="id",
        right_on="place_id",
        how="left",
    )
    by_district = joined["district_code"]
    table = pd.DataFrame(
        {
            "places": by_district.value_counts(),
            "current": (joined["state"] == "current").groupby(by_district).sum(),
            "overdue_reviews": (joined["state"] == "overdue").groupby(by_district).sum(),
            "in_progress": (joined["state"] == "draft").groupby(by_district).sum(),
        }
    )
    owner = actions["district_code"]
    action_counts = pd.DataFrame(
        {
            "actions_open": (actions["status"] == "open").groupby(owner).sum(),
            "actions_done": (actions["status"] == "done").groupby(owner).sum(),
            "actions_overdue": overdue_actions(actions, today=today).groupby(owner).sum(),
        }
    )
    table = table.join(action_counts, how="left").fillna(0).astype(int).rename_axis("district_code")
    table["share_current"] = (table["current"] / table["places"]).where(table["places"] > 0)
    table.insert(0, "district", [district_names.get(c, c) for c in table.index])
    return table.reset_index(names="district_code")


def monthly_counts(events: pd.DataFrame, *, by: str | None = None) -> pd.DataFrame:
    """Return event counts per calendar month (and per ``by`` column), empty months as 0."""
    if events.empty:
        return pd.DataFrame(columns=["month", *([by] if by else []), "count"])
    month = events["occurred_on"].dt.to_period("M")
    keys = [month.rename("month")] + ([events[by]] if by else [])
    counts = events.groupby(keys).size().rename("count")
    months = pd.period_range(month.min(), month.max(), freq="M")
    if by:
        full = pd.MultiIndex.from_product(
            [months, sorted(events[by].dropna().unique())], names=["month", by]
        )
        counts = counts.reindex(full, fill_value=0)
    else:
        counts = counts.reindex(pd.PeriodIndex(months, name="month"), fill_value=0)
    frame = counts.reset_index()
    frame["month"] = frame["month"].dt.to_timestamp()
    return frame


def change(current: int, previous: int | None) -> str | None:
    """Describe the change on the previous period, for a metric's delta.

    Examples
    --------
    >>> change(120, 100)
    '+20 (+20%)'
    >>> change(5, 0)
    '+5'
    >>> change(3, None) is None
    True
    """
    if previous is None:
        return None
    difference = current - previous
    if previous == 0:
        return f"{difference:+d}"
    return f"{difference:+d} ({difference / previous:+.0%})"


# Coverage of flagged places (the Meeting page and the Assessments queue) ---------------------


def flagged_coverage(
    flagged: pd.DataFrame,
    assessments: pd.DataFrame,
    actions: pd.DataFrame,
    *,
    today: date,
    district_names: dict[str, str],
) -> pd.DataFrame:
    """Return, by district, how many flagged places have a current assessment.

    A place's assessment is *current* when its newest live assessment is
    approved and its review date has not passed (see :func:`assessment_state`).
    The actions counted are those of the flagged places' assessments.

    Parameters
    ----------
    flagged
        The flagged places: ``id`` and ``district_code`` (e.g. from
        ``geo.flags.flag_places`` joined to the register).
    assessments
        As ``store.queries.load_assessments`` returns them.
    actions
        As ``store.queries.load_actions`` returns them (``assessment_id``,
        ``district_code``, ``status``, ``due_on``).
    today
        The date against which reviews and actions are due.
    district_names
        ONS code -> name.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`district_progress` (``places``, ``current``,
        ``overdue_reviews``, ``in_progress``, ``actions_open``, ``actions_done``,
        ``actions_overdue``, ``share_current``) plus ``not_assessed``, one row
        per district with flagged places.
    """
    place_of = assessments.set_index("id")["place_id"]
    flagged_actions = actions.loc[actions["assessment_id"].map(place_of).isin(flagged["id"])]
    table = district_progress(
        flagged, assessments, flagged_actions, today=today, district_names=district_names
    )
    table["not_assessed"] = (
        table["places"] - table["current"] - table["overdue_reviews"] - table["in_progress"]
    )
    return table


def overdue_reviews(assessments: pd.DataFrame, *, today: date) -> pd.DataFrame:
    """Return the places whose approved assessment is past its review date, most overdue first.

    Returns
    -------
    pandas.DataFrame
        The rows of :func:`assessment_state` in state ``"overdue"``, with
        ``days_overdue``.
    """
    state = assessment_state(assessments, today=today)
    late = state.loc[state["state"] == "overdue"]
    days = (pd.Timestamp(today) - late["next_review_on"]).dt.days
    return late.assign(days_overdue=days).sort_values("days_overdue", ascending=False)


def action_summary(actions: pd.DataFrame, *, today: date) -> dict[str, int]:
    """Return how many actions are open, done, dropped, and open past their due date.

    Examples
    --------
    >>> frame = pd.DataFrame({"status": ["open", "open", "done"],
    ...                       "due_on": pd.to_datetime(["2026-01-01", "2027-01-01", None])})
    >>> action_summary(frame, today=date(2026, 6, 1))
    {'open': 2, 'done': 1, 'dropped': 0, 'overdue': 1}
    """
    status = actions["status"]
    return {
        "open": int((status == "open").sum()),
        "done": int((status == "done").sum()),
        "dropped": int((status == "dropped").sum()),
        "overdue": int(overdue_actions(actions, today=today).sum()),
    }


# Periods of the meeting: incidents to the last complete month, the work to today -----------


def complete_through(latest: date, *, precision: str = "day") -> date:
    """Return the last day of the last complete month of incident data.

    The newest month counts as complete when the data reach its end: its last day for
    dates kept to the day, the week holding its last day for dates kept to the week
    (stored as that week's Monday), and always for dates kept to the month. Otherwise
    the month before is the last complete one, so that a month still being filled is
    never compared with a whole one.

    Parameters
    ----------
    latest
        The newest incident date stored.
    precision
        ``"day"``, ``"week"`` or ``"month"``: how precisely that incident's date is kept.

    Examples
    --------
    >>> complete_through(date(2026, 10, 31))
    datetime.date(2026, 10, 31)
    >>> complete_through(date(2026, 11, 20))
    datetime.date(2026, 10, 31)
    >>> complete_through(date(2026, 10, 26), precision="week")
    datetime.date(2026, 10, 31)
    >>> complete_through(date(2026, 11, 1), precision="month")
    datetime.date(2026, 11, 30)
    """
    end = pd.Period(latest, freq="M").end_time.date()
    slack = {"day": 0, "week": 6, "month": 31}.get(precision, 0)
    if (end - latest).days <= slack:
        return end
    return (pd.Period(latest, freq="M") - 1).end_time.date()


def activity_window(end: date, months: int, *, back: int = 0) -> tuple[date, date]:
    """Return the days of a rolling window of ``months`` months ending on ``end``.

    The partnership's own work (assessments completed, actions done) is counted to today
    rather than to the last month of incident data, over a window as long as the
    meeting's period: from the day after the same date ``months`` months earlier, to
    ``end``. ``back`` moves the window that many months earlier, so the window before
    (``back=months``) and a year before (``back=12``) are exactly as long: like is
    compared with like, never a part-month with a whole one.

    Examples
    --------
    >>> activity_window(date(2026, 11, 28), 3)
    (datetime.date(2026, 8, 29), datetime.date(2026, 11, 28))
    >>> activity_window(date(2026, 11, 28), 3, back=3)
    (datetime.date(2026, 5, 29), datetime.date(2026, 8, 28))
    """
    last = (pd.Timestamp(end) - pd.DateOffset(months=back)).date()
    first = (pd.Timestamp(last) - pd.DateOffset(months=months) + pd.Timedelta(days=1)).date()
    return first, last


def day_range_label(first: date, last: date) -> str:
    """Return a short label of a range of days, e.g. ``"29 Aug-28 Nov 2026"``.

    Examples
    --------
    >>> day_range_label(date(2026, 8, 29), date(2026, 11, 28))
    '29 Aug-28 Nov 2026'
    >>> day_range_label(date(2025, 12, 29), date(2026, 1, 28))
    '29 Dec 2025-28 Jan 2026'
    """
    if first.year == last.year:
        return f"{first.day} {first:%b}-{last.day} {last:%b %Y}"
    return f"{first.day} {first:%b %Y}-{last.day} {last:%b %Y}"
