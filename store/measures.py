"""Measures shared by every page: one definition of "current", "overdue" and the counts.

Pure functions over the frames that ``store.queries`` returns.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

__all__ = [
    "assessment_state",
    "change",
    "district_progress",
    "monthly_counts",
    "overdue_actions",
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
    joined = places[["id", "district_code"]].merge(
        state[["place_id", "state"]], left_on="id", right_on="place_id", how="left"
    )
    grouped = joined.groupby("district_code")
    table = pd.DataFrame(
        {
            "places": grouped.size(),
            "current": grouped["state"].apply(lambda s: int((s == "current").sum())),
            "overdue_reviews": grouped["state"].apply(lambda s: int((s == "overdue").sum())),
            "in_progress": grouped["state"].apply(lambda s: int((s == "draft").sum())),
        }
    )
    late = actions.assign(late=overdue_actions(actions, today=today))
    action_counts = late.groupby("district_code").agg(
        actions_open=("status", lambda s: int((s == "open").sum())),
        actions_done=("status", lambda s: int((s == "done").sum())),
        actions_overdue=("late", "sum"),
    )
    table = table.join(action_counts, how="left").fillna(0).astype(int)
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
