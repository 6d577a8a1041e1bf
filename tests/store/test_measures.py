from datetime import date

import pandas as pd

from geo.measures import assessment_state, district_progress, monthly_counts, overdue_actions

TODAY = date(2026, 11, 1)


def _assessments(rows):
    frame = pd.DataFrame(
        rows, columns=["id", "place_id", "district_code", "assessed_on", "status", "next_review_on"]
    )
    for column in ("assessed_on", "next_review_on"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def test_each_place_is_judged_on_its_newest_live_assessment():
    frame = _assessments(
        [
            (1, 10, "A", "2025-01-01", "superseded", "2025-07-01"),
            (2, 10, "A", "2026-03-01", "approved", "2026-12-01"),  # current
            (3, 11, "A", "2026-01-01", "approved", "2026-06-01"),  # review overdue
            (4, 12, "B", "2026-01-01", "approved", "2026-12-01"),
            (5, 12, "B", "2026-10-01", "draft", None),  # newer draft: in progress
        ]
    )
    state = assessment_state(frame, today=TODAY).set_index("place_id")["state"].to_dict()
    assert state == {10: "current", 11: "overdue", 12: "draft"}


def test_overdue_actions_are_open_and_past_due():
    actions = pd.DataFrame(
        {
            "status": ["open", "open", "done"],
            "due_on": pd.to_datetime(["2026-10-01", "2026-12-01", "2026-01-01"]),
        }
    )
    assert overdue_actions(actions, today=TODAY).tolist() == [True, False, False]


def test_district_progress_counts_places_and_actions():
    places = pd.DataFrame({"id": [10, 11, 12, 13], "district_code": ["A", "A", "B", "B"]})
    assessments = _assessments(
        [
            (2, 10, "A", "2026-03-01", "approved", "2026-12-01"),
            (3, 11, "A", "2026-01-01", "approved", "2026-06-01"),
        ]
    )
    actions = pd.DataFrame(
        {
            "district_code": ["A", "A", "B"],
            "status": ["open", "done", "open"],
            "due_on": pd.to_datetime(["2026-10-01", "2026-10-01", "2027-01-01"]),
        }
    )
    table = district_progress(
        places, assessments, actions, today=TODAY, district_names={"A": "Alpha", "B": "Beta"}
    ).set_index("district")
    assert table.loc["Alpha", ["places", "current", "overdue_reviews"]].tolist() == [2, 1, 1]
    assert table.loc["Alpha", "share_current"] == 0.5
    assert table.loc["Beta", ["places", "current", "actions_open", "actions_overdue"]].tolist() == [
        2,
        0,
        1,
        0,
    ]
    assert table.loc["Alpha", ["actions_done", "actions_overdue"]].tolist() == [1, 1]


def test_monthly_counts_include_empty_months():
    events = pd.DataFrame(
        {
            "occurred_on": pd.to_datetime(["2026-01-05", "2026-01-20", "2026-03-02"]),
            "category": ["cce", "cse", "cce"],
        }
    )
    totals = monthly_counts(events)
    assert totals["count"].tolist() == [2, 0, 1]
    by_type = monthly_counts(events, by="category")
    assert len(by_type) == 6
    assert by_type["count"].sum() == 3


def test_district_progress_with_no_actions_or_assessments():
    places = pd.DataFrame({"id": [10], "district_code": ["A"]})
    empty_assessments = _assessments([])
    no_actions = pd.DataFrame(
        {
            "district_code": pd.Series(dtype=str),
            "status": pd.Series(dtype=str),
            "due_on": pd.Series(dtype="datetime64[ns]"),
        }
    )
    table = district_progress(
        places, empty_assessments, no_actions, today=TODAY, district_names={"A": "Alpha"}
    )
    assert table[["district", "places", "current", "actions_open"]].values.tolist() == [
        ["Alpha", 1, 0, 0]
    ]


def test_district_progress_with_no_places_and_no_assessments():
    """A wide scope's Meeting flags no place; with no assessment stored either, both frames
    are empty and their ids of different types (float, object), which merge refused."""
    no_places = pd.DataFrame({"id": pd.Series(dtype=float), "district_code": pd.Series(dtype=str)})
    no_actions = pd.DataFrame(
        {"district_code": pd.Series(dtype=str), "status": pd.Series(dtype=str),
         "due_on": pd.Series(dtype="datetime64[ns]")}
    )  # fmt: skip
    table = district_progress(
        no_places, _assessments([]), no_actions, today=TODAY, district_names={"A": "Alpha"}
    )
    assert table.empty


def test_a_month_still_being_filled_is_not_the_last_complete_month():
    from geo.measures import complete_through

    assert complete_through(date(2026, 11, 20)) == date(2026, 10, 31)
    assert complete_through(date(2026, 10, 31)) == date(2026, 10, 31)  # control: complete
    assert complete_through(date(2026, 10, 26), precision="week") == date(2026, 10, 31)
    assert complete_through(date(2026, 10, 19), precision="week") == date(2026, 9, 30)
    assert complete_through(date(2026, 11, 1), precision="month") == date(2026, 11, 30)


def test_work_windows_are_equally_long_and_end_today():
    from geo.measures import activity_window

    today = date(2026, 11, 28)
    now, before, year = (activity_window(today, 3, back=b) for b in (0, 3, 12))
    assert now[1] == today and before[1] == date(2026, 8, 28) and year[1] == date(2025, 11, 28)
    lengths = {(b - a).days for a, b in (now, before, year)}
    assert max(lengths) - min(lengths) <= 3  # months differ by a day or two, never by weeks
    assert before[1] < now[0] and (now[0] - before[1]).days == 1  # no gap, no overlap
