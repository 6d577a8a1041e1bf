"""The meeting's figures on the demo, checked against independent counts and shared definitions."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from data.bootstrap import open_database
from geo.measures import assessment_state
from reports.meeting import (
    DECISIONS_SHOWN,
    NOT_COMPARABLE,
    WORK_KEYS,
    figures_for,
    meeting_figures,
    read_inputs,
)
from services.assessments import recent_flags
from services.audience import Audience
from store import queries

TODAY = date.today()


@pytest.fixture(scope="module")
def setting(demo_database):
    engine = open_database(demo_database)
    codes = tuple(queries.load_districts(engine)["code"])
    latest = queries.latest_event_date(engine)
    last = pd.Period(latest, freq="M")
    return engine, codes, latest, last


@pytest.fixture(scope="module")
def lead_figures(setting):
    engine, codes, _, last = setting
    return figures_for(
        engine, codes, first=str(last - 2), last=str(last), today=TODAY,
        audience=Audience.for_role("lead", codes),
    )


def _count(engine, first: pd.Period, last: pd.Period, kind: str = "incidents") -> int:
    window = queries.EventFilter(start=first.start_time.date(), end=last.end_time.date())
    return len(queries.load_events(engine, window, kind=kind, columns=("occurred_on",)))


def _value(figures, key: str) -> int:
    return int(next(f.value for f in figures.headline if f.key == key).replace(",", ""))


def test_headline_counts_equal_counts_of_the_stored_rows(setting, lead_figures):
    engine, _, _, last = setting
    assert _value(lead_figures, "incidents") == _count(engine, last - 2, last)
    assert _value(lead_figures, "referrals") == _count(engine, last - 2, last, "referrals")
    incidents = next(f for f in lead_figures.headline if f.key == "incidents")
    assert int(incidents.previous.replace(",", "")) == _count(engine, last - 5, last - 3)
    assert int(incidents.year_ago.replace(",", "")) == _count(engine, last - 14, last - 12)


def test_flagged_places_are_the_queues_flagged_places(setting, lead_figures):
    engine, _, latest, _ = setting
    queue = recent_flags(engine, (), end=latest, months=3)
    assert _value(lead_figures, "flagged_places") == len(queue) > 0
    framework = lead_figures.framework.iloc[-1]
    assert int(framework["flagged_places"]) == len(queue)


def test_the_framework_adds_up_to_the_headline(lead_figures):
    framework = lead_figures.framework
    assert len(framework) == 12
    last3 = framework["incidents"].str.replace(",", "").astype(int).tail(3).sum()
    assert last3 == _value(lead_figures, "incidents")
    monthly = lead_figures.monthly["incidents"].str.replace(",", "").astype(int).tail(3).sum()
    assert monthly == last3


def test_decisions_leave_out_places_with_a_current_assessment(setting, lead_figures):
    engine, _, _, _ = setting
    state = assessment_state(queries.load_assessments(engine), today=TODAY)
    current = set(state.loc[state["state"] == "current", "place_id"])
    decisions = lead_figures.decisions
    assert len(decisions) == DECISIONS_SHOWN
    assert not set(decisions["id"]) & current
    assert list(decisions["rank"]) == list(range(1, DECISIONS_SHOWN + 1))  # no gaps
    flagged = recent_flags(engine, (), end=setting[2], months=3)
    skipped = flagged.loc[flagged["id"].isin(current)]
    assert len(skipped), "no flagged place has a current assessment: nothing is left out"
    waiting = flagged.loc[~flagged["id"].isin(current)].sort_values("rank")
    assert list(decisions["id"]) == list(waiting["id"].head(DECISIONS_SHOWN))


def test_every_district_has_a_row_and_the_best_and_lowest_are_marked(setting, lead_figures):
    _, codes, _, _ = setting
    table = lead_figures.districts
    assert set(table["district_code"]) == set(codes)
    shares = table.loc[table["share_assessed"] != "n/a", "share_assessed"]
    values = shares.str.rstrip("%").astype(int)
    assert set(table.loc[table["mark"] == "best", "share_assessed"]) == {f"{values.max()}%"}
    assert set(table.loc[table["mark"] == "worst", "share_assessed"]) == {f"{values.min()}%"}


def test_emerging_counts_are_the_cells_on_the_map(lead_figures):
    cells = lead_figures.emerging_cells["simple_category"].value_counts()
    for name, n in lead_figures.emerging.items():
        assert cells.get(name, 0) == n
    assert lead_figures.emerging["Persistent"] > 0


def test_a_steering_group_sees_small_counts_of_children_hidden(setting):
    engine, _, _, last = setting
    one = ("E07000196",)
    args = {"first": str(last), "last": str(last), "today": TODAY}
    lead = figures_for(engine, one, audience=Audience.for_role("lead", one), **args)
    viewer = figures_for(engine, one, audience=Audience.for_role("viewer", one), **args)
    exact = [f.value for f in lead.by_type]
    shown = [f.value for f in viewer.by_type]
    small = [i for i, v in enumerate(exact) if v in {"1", "2", "3", "4"}]
    assert small, "no small count in the lead's figures: the test shows nothing"
    assert all(shown[i] == "<5" or int(shown[i]) >= 5 for i in small)  # never 1 to 4
    hidden = [i for i in small if shown[i] == "<5"]
    assert all(viewer.by_type[i].change_previous == "" for i in hidden)
    assert all(v == "<5" or int(v.replace(",", "")) >= 5 for v in shown)


def _inputs(engine, codes):
    from geo.grid import build_grid

    outlines = queries.load_districts(engine)
    return read_inputs(
        engine,
        codes,
        grid=build_grid(outlines.loc[outlines["code"].isin(codes)]),
        district_names=dict(zip(outlines["code"], outlines["name"], strict=True)),
        audience=Audience.for_role("lead", codes),
    )


def test_work_done_today_counts_though_incidents_end_with_the_last_complete_month(setting):
    from dataclasses import replace

    engine, codes, _, last = setting
    inputs = _inputs(engine, codes)
    today = (last + 1).end_time.date()  # a month after the incident data end
    args = {"first": str(last - 2), "last": str(last), "today": today}
    args["audience"] = Audience.for_role("lead", codes)
    before = meeting_figures(inputs, framework_months=0, **args)
    approved = inputs.assessments.loc[inputs.assessments["status"] == "approved"]
    old = approved.loc[pd.to_datetime(approved["assessed_on"]) < pd.Timestamp(last.start_time)]
    one = int(old["id"].iloc[0])
    approvals = inputs.approvals.copy()
    approvals.loc[one] = pd.Timestamp(today)  # approved today, after the last incident month
    after = meeting_figures(replace(inputs, approvals=approvals), framework_months=0, **args)
    assert _value(after, "assessments_approved") == _value(before, "assessments_approved") + 1
    assert _value(after, "incidents") == _value(before, "incidents")
    work = [f for f in after.headline if f.key in WORK_KEYS]
    assert {f.period for f in work} >= {after.work_period}
    assert after.work_period.endswith(f"{today.day} {today:%b %Y}")
    incidents = next(f for f in after.headline if f.key == "incidents")
    assert incidents.period == after.period != after.work_period


def test_a_period_the_data_do_not_cover_before_is_not_comparable(setting):
    engine, codes, _, _ = setting
    inputs = _inputs(engine, codes)
    oldest = pd.Period(inputs.incidents["month"].min(), freq="M")
    figures = meeting_figures(
        inputs,
        first=str(oldest),
        last=str(oldest + 2),
        today=TODAY,
        audience=Audience.for_role("lead", codes),
        framework_months=0,
    )
    incidents = next(f for f in figures.headline if f.key == "incidents")
    assert incidents.previous == "n/a" and incidents.change_previous == NOT_COMPARABLE
    incident_figures = [f for f in figures.headline if f.key not in WORK_KEYS]
    assert "-100%" not in " ".join(f.change_previous for f in incident_figures)
    later = meeting_figures(
        inputs,
        first=str(oldest + 3),
        last=str(oldest + 5),
        today=TODAY,
        audience=Audience.for_role("lead", codes),
        framework_months=0,
    )
    control = next(f for f in later.headline if f.key == "incidents")
    assert control.change_previous not in ("", NOT_COMPARABLE)
