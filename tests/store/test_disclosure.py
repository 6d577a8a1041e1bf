"""Disclosure control: small counts hidden, and not recoverable from the totals."""

from __future__ import annotations

import doctest
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sqlalchemy import select

import store.disclosure
from store.access import AccessDenied, Viewer
from store.disclosure import (
    HIDDEN,
    K_DEFAULT,
    disclosure_k,
    needs_suppression,
    set_disclosure_k,
    suppress_count,
    suppress_table,
    suppressed_mask,
)
from store.measures import district_progress, monthly_counts
from store.models import AuditEvent

DISTRICTS = ("E07000192", "E07000197", "E06000021")
OFFICER = Viewer("officer", "officer", DISTRICTS[:2])
STEERING = Viewer("viewer", "viewer", DISTRICTS)
LEAD = Viewer("lead", "lead", DISTRICTS)
ADMIN = Viewer("admin", "admin", DISTRICTS)


def test_the_docstring_examples_hold():
    failures, tried = doctest.testmod(store.disclosure)
    assert tried > 0 and failures == 0


@pytest.mark.parametrize(
    ("viewer", "expected"), [(OFFICER, True), (STEERING, True), (LEAD, False), (ADMIN, False)]
)
def test_only_roles_without_point_access_need_suppression(viewer, expected):
    assert needs_suppression(viewer) is expected


@pytest.mark.parametrize(("n", "shown"), [(0, 0), (1, "<5"), (4, "<5"), (5, 5), (120, 120)])
def test_a_single_count(n, shown):
    assert suppress_count(n) == shown


@pytest.mark.parametrize("k", [0, 1, -3, 2.5, "5", True])
def test_a_nonsense_threshold_is_refused(k):
    with pytest.raises(ValueError, match="whole number of 2 or more"):
        suppress_count(3, k=k)


def test_a_lone_small_count_in_a_column_takes_the_next_smallest_with_it():
    table = pd.DataFrame({"district": list("ABCD"), "incidents": [2, 9, 30, 7]})
    shown = suppress_table(table, ["incidents"])
    assert shown["incidents"].tolist() == ["<5", 9, 30, HIDDEN]
    assert table["incidents"].tolist() == [2, 9, 30, 7], "the input was changed"
    assert shown["district"].tolist() == list("ABCD")


def test_secondary_suppression_repeats_across_rows_and_columns():
    # Hiding 1 hides 6 in its row; 6's column then has one hidden cell, so 8 goes too,
    # and 8's row then needs a second one.
    table = pd.DataFrame({"a": [1, 8, 20], "b": [6, 30, 40], "c": [50, 9, 60]})
    primary, secondary = suppressed_mask(table.to_numpy())
    hidden = primary | secondary
    for axis in (0, 1):
        per_line = hidden.sum(axis=axis)
        assert not (per_line == 1).any(), f"a line with one hidden cell on axis {axis}"
    assert primary.sum() == 1 and secondary.sum() >= 3


def test_two_small_counts_that_would_give_themselves_away_take_a_third():
    # Two hidden 1s in a column summing to 2 can only be 1 and 1.
    table = pd.DataFrame({"n": [1, 1, 12, 40]})
    assert suppress_table(table, ["n"])["n"].tolist() == ["<5", "<5", HIDDEN, 40]


def test_zeros_are_kept_and_only_hidden_when_nothing_else_protects():
    table = pd.DataFrame({"n": [0, 3, 0, 11]})
    assert suppress_table(table, ["n"])["n"].tolist() == [0, "<5", 0, HIDDEN]
    only_zeros = pd.DataFrame({"n": [0, 3]})
    assert suppress_table(only_zeros, ["n"])["n"].tolist() == [HIDDEN, "<5"]


def test_a_total_row_is_checked_but_never_hidden_to_protect_others():
    table = pd.DataFrame({"d": ["A", "B", "Total"], "x": [3, 20, 23], "y": [7, 8, 3]})
    shown = suppress_table(table, ["x", "y"], total_row=True)
    assert shown.loc[2, "x"] == 23
    assert shown.loc[2, "y"] == "<5"
    assert shown.loc[0, "x"] == "<5"
    assert (shown.iloc[:2][["x", "y"]] == HIDDEN).to_numpy().sum() >= 1


def test_missing_columns_and_negative_counts_are_explained():
    with pytest.raises(KeyError, match="no column cases"):
        suppress_table(pd.DataFrame({"n": [1]}), ["cases"])
    with pytest.raises(ValueError, match="negative"):
        suppress_table(pd.DataFrame({"n": [-1, 4]}), ["n"])


def test_an_empty_table_passes_through():
    empty = pd.DataFrame({"n": pd.Series([], dtype=int)})
    assert suppress_table(empty, ["n"]).empty


def _hidden(cells: np.ndarray) -> np.ndarray:
    return np.array([isinstance(v, str) for v in cells.ravel()], dtype=bool).reshape(cells.shape)


def _assert_safe(values: np.ndarray, shown: pd.DataFrame, columns: list[str], k: int) -> None:
    """No count 1..k-1 is shown, and no hidden count follows from a row or column total."""
    cells = shown[columns].to_numpy(dtype=object)
    hidden = _hidden(cells)
    for value in cells[~hidden]:
        assert not (0 < float(value) < k), f"a count of {value} is shown with k={k}"
    rows, cols = values.shape
    lines = []
    if cols > 1:
        lines += [(np.full(cols, r), np.arange(cols)) for r in range(rows)]
    if rows > 1:
        lines += [(np.arange(rows), np.full(rows, c)) for c in range(cols)]
    for r, c in lines:
        line_hidden = hidden[r, c]
        # Total minus the visible cells: what a reader knows of the hidden ones.
        remainder = values[r, c].sum() - values[r, c][~line_hidden].sum()
        assert line_hidden.sum() != 1, (
            f"the hidden cell of a line is its total minus the rest: {remainder}"
        )
        small = (values[r, c] > 0) & (values[r, c] < k)
        if line_hidden.any() and not line_hidden.all() and (small == line_hidden).all():
            n = int(line_hidden.sum())
            assert remainder not in (n, n * (k - 1)), "the hidden small counts are all 1 or all k-1"


@settings(max_examples=300, deadline=None)
@given(
    values=arrays(
        np.int64,
        st.tuples(st.integers(1, 7), st.integers(1, 5)),
        elements=st.one_of(st.integers(0, 12), st.integers(0, 400)),
    ),
    k=st.integers(2, 11),
)
def test_property_no_small_count_is_shown_or_recoverable(values, k):
    columns = [f"c{j}" for j in range(values.shape[1])]
    frame = pd.DataFrame(values, columns=columns).assign(label="x")
    shown = suppress_table(frame, columns, k=k)
    _assert_safe(values, shown, columns, k)
    visible = ~_hidden(shown[columns].to_numpy(dtype=object))
    assert (shown[columns].to_numpy(dtype=object)[visible] == values[visible]).all()


@st.composite
def _events(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 120))
    months = pd.date_range("2025-01-01", periods=12, freq="MS")
    return pd.DataFrame(
        {
            "occurred_on": [months[draw(st.integers(0, 11))] for _ in range(n)],
            "category": [draw(st.sampled_from(["cse", "cce", "missing"])) for _ in range(n)],
            "district_code": [draw(st.sampled_from(DISTRICTS)) for _ in range(n)],
            "place_id": [draw(st.integers(1, 6)) for _ in range(n)],
        }
    )


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=_events(),
    viewer=st.sampled_from([OFFICER, STEERING]),
    wanted=st.lists(st.sampled_from(DISTRICTS), unique=True, max_size=2),
    category=st.sampled_from([None, "cse", "cce", "missing"]),
    k=st.integers(3, 10),
)
def test_property_outputs_for_officers_and_viewers(events, viewer, wanted, category, k):
    """Random data and filters through the shared measures: nothing small leaves unsuppressed."""
    try:
        scope = viewer.scope(wanted)
    except AccessDenied:
        assert set(wanted) - set(viewer.districts)
        return
    chosen = events.loc[events["district_code"].isin(scope)]
    if category is not None:
        chosen = chosen.loc[chosen["category"] == category]
    assert needs_suppression(viewer)
    trend = monthly_counts(chosen, by="category")
    if not trend.empty:
        wide = trend.pivot_table(index="month", columns="category", values="count", aggfunc="sum")
        columns = list(wide.columns)
        shown = suppress_table(wide.reset_index(), columns, k=k)
        _assert_safe(wide.to_numpy(), shown, columns, k)
    places = pd.DataFrame({"id": range(1, 7), "district_code": [*DISTRICTS, *DISTRICTS]})
    empty = pd.DataFrame(
        columns=["place_id", "id", "status", "assessed_on", "next_review_on", "district_code"]
    )
    actions = pd.DataFrame(columns=["status", "due_on", "district_code"])
    progress = district_progress(
        places.loc[places["id"].isin(chosen["place_id"]) & places["district_code"].isin(scope)],
        empty,
        actions.astype({"due_on": "datetime64[ns]"}),
        today=date(2026, 1, 1),
        district_names={},
    )
    counts = ["places", "current", "overdue_reviews", "in_progress"]
    shown = suppress_table(progress, counts, k=k)
    _assert_safe(progress[counts].to_numpy(), shown, counts, k)
    assert set(progress["district_code"]) <= set(viewer.districts)


def test_k_is_a_setting_of_the_deployment(engine):
    assert disclosure_k(engine) == K_DEFAULT
    set_disclosure_k(engine, 10, viewer=ADMIN)
    assert disclosure_k(engine) == 10
    set_disclosure_k(engine, 7, viewer=ADMIN)
    assert disclosure_k(engine) == 7
    with engine.connect() as connection:
        actions = connection.execute(select(AuditEvent.action, AuditEvent.actor)).all()
    assert actions == [("change setting", "admin")] * 2


@pytest.mark.parametrize("viewer", [LEAD, OFFICER, STEERING])
def test_only_an_administrator_may_change_k(engine, viewer):
    with pytest.raises(AccessDenied, match="may not change the disclosure threshold"):
        set_disclosure_k(engine, 3, viewer=viewer)
    assert disclosure_k(engine) == K_DEFAULT
