"""Coverage measures for flagged places: hand-made frames, then real rows on both databases."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from geo import measures
from services import assessments as svc
from services import reads
from services.access import Viewer
from services.audience import Audience
from store import queries
from store.db import session_scope
from store.models import Incident
from tests.store.test_assessments import CANNOCK, EAST, LEAD, OFFICER, STAFFORD, complete_form, seed

TODAY = date(2026, 11, 1)
NAMES = {"A": "Alpha", "B": "Beta"}


def frame(rows, columns, dates=()):
    out = pd.DataFrame(rows, columns=columns)
    for column in dates:
        out[column] = pd.to_datetime(out[column])
    return out


ASSESSMENTS = frame(
    [
        (1, 10, "A", "2025-01-01", "superseded", "2025-07-01"),
        (2, 10, "A", "2026-03-01", "approved", "2026-12-01"),  # current
        (3, 11, "A", "2026-01-01", "approved", "2026-06-01"),  # overdue
        (4, 12, "B", "2026-10-01", "draft", None),  # in progress
        (5, 14, "B", "2026-09-01", "approved", "2027-03-01"),  # not flagged
    ],
    ["id", "place_id", "district_code", "assessed_on", "status", "next_review_on"],
    ["assessed_on", "next_review_on"],
)
ACTIONS = frame(
    [
        (2, "A", "open", "2026-10-01"),  # overdue
        (2, "A", "done", "2026-09-01"),
        (4, "B", "open", "2026-12-01"),
        (5, "B", "open", "2026-01-01"),  # not a flagged place: left out
    ],
    ["assessment_id", "district_code", "status", "due_on"],
    ["due_on"],
)
FLAGGED = pd.DataFrame({"id": [10, 11, 12, 13], "district_code": ["A", "A", "B", "B"]})


def test_flagged_coverage_by_district():
    table = measures.flagged_coverage(
        FLAGGED, ASSESSMENTS, ACTIONS, today=TODAY, district_names=NAMES
    ).set_index("district_code")
    assert table.loc["A", ["places", "current", "overdue_reviews", "not_assessed"]].tolist() == [
        2,
        1,
        1,
        0,
    ]
    assert table.loc["B", ["places", "current", "in_progress", "not_assessed"]].tolist() == [
        2,
        0,
        1,
        1,
    ]
    assert table["share_current"].tolist() == [0.5, 0.0]
    assert table.loc["A", ["actions_open", "actions_done", "actions_overdue"]].tolist() == [1, 1, 1]
    assert table.loc["B", ["actions_open", "actions_overdue"]].tolist() == [1, 0]


def test_overdue_reviews_and_action_summary():
    late = measures.overdue_reviews(ASSESSMENTS, today=TODAY)
    assert late[["place_id", "days_overdue"]].values.tolist() == [[11, 153]]
    assert measures.action_summary(ACTIONS, today=TODAY) == {
        "open": 3,
        "done": 1,
        "dropped": 0,
        "overdue": 2,
    }


def test_coverage_measures_on_real_rows(engine):
    places = seed(engine)
    today = date.today()
    with session_scope(engine) as session:
        for n, (code, days_ago) in enumerate(
            [(STAFFORD, 80), (STAFFORD, 40), (CANNOCK, 60), (EAST, 10), (STAFFORD, 200)]
        ):
            session.add(
                Incident(
                    source_agency="police",
                    source_ref=f"ref{n}",
                    category="cce",
                    occurred_on=today - timedelta(days=days_ago),
                    district_code=code,
                    place_id=places[code],
                )
            )
    # Stafford: approved now; Cannock: submitted only. Each has an open action due later.
    aid = svc.create_draft(engine, OFFICER, places[STAFFORD], today=today)
    form = complete_form(
        assessed_on=today,
        next_review_on=today + timedelta(days=90),
        actions=(svc.ActionInput("Repair lamps", "County", today + timedelta(days=30)),),
    )
    v = svc.submit(engine, OFFICER, aid, expected_version=1, form=form, today=today)
    svc.approve(engine, LEAD, aid, expected_version=v)
    other = svc.create_draft(engine, OFFICER, places[CANNOCK], today=today)
    svc.submit(engine, OFFICER, other, expected_version=1, form=form, today=today)

    loaded = queries.load_assessments(engine)
    actions = queries.load_actions(engine)
    flagged = queries.load_places(engine)[["id", "district_code"]]
    names = {CANNOCK: "Cannock", STAFFORD: "Stafford", EAST: "East"}
    table = measures.flagged_coverage(
        flagged, loaded, actions, today=today, district_names=names
    ).set_index("district_code")
    assert table["current"].to_dict() == {CANNOCK: 0, EAST: 0, STAFFORD: 1}
    assert table["in_progress"].to_dict() == {CANNOCK: 1, EAST: 0, STAFFORD: 0}
    assert table["share_current"].to_dict() == {CANNOCK: 0.0, EAST: 0.0, STAFFORD: 1.0}
    assert table["actions_open"].to_dict() == {CANNOCK: 1, EAST: 0, STAFFORD: 1}
    assert measures.action_summary(actions, today=today)["open"] == 2

    assert measures.overdue_reviews(loaded, today=today + timedelta(days=91))[
        "place_id"
    ].tolist() == [places[STAFFORD]]


@pytest.mark.parametrize("k", [5, 10])
def test_flag_reasons_are_written_from_protected_numbers(k):
    flags = pd.DataFrame(
        {
            "id": [1, 2],
            "district_code": [CANNOCK, CANNOCK],
            "incidents": [4, 40],
            "previous": [1, 30],
            "incidents_key": [300, 77],
            "previous_key": [12, 900],
            "radius_m": [200.0, 200.0],
            "period_label": ["Aug-Oct 2026", "Aug-Oct 2026"],
            "hot_bin": [3, 0],
            "in_hot_spot": [True, False],
            "trend": ["", ""],
            "trend_since": ["", ""],
            "reason": ["4 incidents within 200 m ...", "40 incidents within 200 m ..."],
        }
    )
    officer = Viewer("o", "officer", (CANNOCK,))
    shown = reads.queue_flags(flags, Audience.of(officer, k))
    assert "incidents_key" not in shown and "previous_key" not in shown
    small, large = shown["reason"].tolist()
    assert small.startswith((f"<{k} incidents", *(f"{n} incidents" for n in range(k, 10))))
    assert small.endswith("; 99% hot spot")
    assert " 4 " not in f" {small} " and "from 1)" not in small
    assert abs(int(large.split()[0]) - 40) <= 5
    assert large.startswith(f"{large.split()[0]} incidents within 200 m in Aug-Oct 2026 (")
    lead = reads.queue_flags(flags, Audience.of(Viewer("l", "lead", (CANNOCK,)), k))
    assert lead["reason"].tolist() == flags["reason"].tolist()
