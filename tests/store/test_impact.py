"""The impact of actions through the real storage (SQLite and PostgreSQL), disclosed per reader."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
import shapely
from sqlalchemy import Engine, insert, select

from services import assessments as svc
from services.access import Viewer
from services.disclosure import D_MAX, possible_counts
from services.impact import (
    CSV_COLUMNS,
    ImpactFigures,
    csv_table,
    disclose,
    impact_figures,
    load_action_kinds,
    place_chart,
    read_impact_inputs,
)
from store.db import session_scope
from store.models import Action, Assessment, District, Incident, Place

STAFFORD = "E07000197"
MONTHS = pd.period_range("2024-11", "2026-10", freq="M")
ACTION_DONE = date(2026, 1, 12)  # before: Jul-Dec 2025; after: Feb-Jul 2026
ORIGIN = (390_000.0, 320_000.0)
OFFICER = Viewer("officer", "officer", (STAFFORD,), "Stafford Borough Council")


def _fill(engine: Engine, seed: int = 11) -> dict[str, int]:
    """A district with a treated park (incidents halve after its lighting), six comparison
    parks, and a quiet hotel with an action but too few incidents. Returns ids by key."""
    rng = np.random.default_rng(seed)
    keys = np.random.default_rng(seed + 1)  # record keys from a fixed draw: the same noise each run
    x0, y0 = ORIGIN
    specs = [("TREATED", "park", 20.0, 0.5)]
    specs += [(f"COMPARE{i}", "park", float(rng.uniform(14, 28)), 1.0) for i in range(6)]
    specs += [("QUIET", "hotel", 0.4, 1.0)]
    with session_scope(engine) as session:
        square = shapely.box(x0 - 5000, y0 - 5000, x0 + 15_000, y0 + 5000)
        session.add(
            District(
                code=STAFFORD, name="Stafford", source="test", geometry_wkb=shapely.to_wkb(square)
            )
        )
        session.flush()
        ids = {}
        for number, (key, category, _, _) in enumerate(specs):
            place = Place(
                place_key=key,
                name=f"{key.title()} {category}",
                category=category,
                easting=x0 + 1500.0 * number,
                northing=y0,
                district_code=STAFFORD,
            )
            session.add(place)
            session.flush()
            ids[key] = place.id
        rows = []
        for number, (key, _, rate, change) in enumerate(specs):
            for month in MONTHS:
                factor = change if month > pd.Period(ACTION_DONE, "M") else 1.0
                for i in range(int(rng.poisson(rate * factor))):
                    rows.append(
                        {
                            "source_agency": "police",
                            "source_ref": f"{key}-{month}-{i}",
                            "category": "cce",
                            "occurred_on": month.start_time.date(),
                            "easting": x0 + 1500.0 * number + 50.0,
                            "northing": y0,
                            "district_code": STAFFORD,
                            "record_key": int(keys.integers(0, 256)),
                        }
                    )
        session.execute(insert(Incident), rows)
        for key, kind in (("TREATED", "lighting"), ("QUIET", None)):
            assessment = Assessment(
                place_id=ids[key],
                assessing_org="Stafford Borough Council",
                lead_assessor="Community Safety Officer",
                assessed_on=date(2025, 12, 1),
                status="approved",
            )
            session.add(assessment)
            session.flush()
            session.add(
                Action(
                    assessment_id=assessment.id,
                    description="Repair the lamps",
                    owner_org="Staffordshire County Council",
                    due_on=date(2026, 1, 31),
                    status="done",
                    completed_on=ACTION_DONE,
                    kind=kind,
                )
            )
    return ids


@pytest.fixture
def filled(engine: Engine) -> tuple[Engine, dict[str, int]]:
    return engine, _fill(engine)


def test_the_planted_fall_and_the_quiet_place_are_recovered(filled):
    engine, ids = filled
    figures = impact_figures(read_impact_inputs(engine))
    rows = figures.places.set_index("place_key")
    treated = rows.loc["TREATED"]
    assert treated["first_action_month"] == "2026-01"
    assert treated["ci_low"] <= 0.5 <= treated["ci_high"]
    assert treated["verdict"] == "fell"
    assert set(treated["comparison_ids"]) <= {ids[f"COMPARE{i}"] for i in range(6)}
    assert len(treated["comparison_ids"]) >= 2
    assert treated["kinds"] == ("lighting",)
    quiet = rows.loc["QUIET"]
    assert quiet["verdict"] == "too_few"
    assert quiet["kinds"] == ("other",)  # stored without a kind


def test_an_action_without_a_kind_counts_as_other(filled):
    engine, _ = filled
    kinds = load_action_kinds(engine)
    assert sorted(kinds["kind"]) == ["lighting", "other"]


def test_the_csv_has_one_row_per_place_with_the_agreed_columns(filled):
    engine, _ = filled
    table = csv_table(impact_figures(read_impact_inputs(engine)))
    assert tuple(table.columns) == CSV_COLUMNS
    assert sorted(table["place_key"]) == ["QUIET", "TREATED"]
    treated = table.set_index("place_key").loc["TREATED"]
    assert treated["verdict"].startswith("fell by about")
    assert treated["before"] > 2 * treated["after"] * 0.7


def test_a_reader_without_point_access_never_sees_a_count_under_k(filled):
    engine, _ = filled
    figures = impact_figures(read_impact_inputs(engine))
    seen = disclose(figures, districts=(STAFFORD,), suppressed=True, k=5)
    quiet = seen.places.set_index("place").loc["Quiet hotel"]
    raw = figures.places.set_index("place_key").loc["QUIET"]
    assert 0 < raw["before"] < 5 or 0 < raw["after"] < 5  # the control: a small count exists
    for column in ("before", "after"):  # perturbed (cell key method), never 1 to 4
        value, shown = int(raw[column]), quiet[column]
        assert shown == "<5" or int(shown.replace(",", "")) >= 5
        assert value in possible_counts(shown)
    assert not any(c.endswith("_key") for c in seen.places.columns)
    lead = disclose(figures, districts=(STAFFORD,), suppressed=False, k=5)
    assert lead.places.set_index("place").loc["Quiet hotel", "before"] == str(int(raw["before"]))


def test_a_readers_counts_are_perturbed_the_same_way_every_time(filled):
    engine, _ = filled
    figures = impact_figures(read_impact_inputs(engine))
    seen = disclose(figures, districts=(STAFFORD,), suppressed=True, k=5)
    again = disclose(
        impact_figures(read_impact_inputs(engine)), districts=(STAFFORD,), suppressed=True, k=5
    )
    assert seen.places.equals(again.places)
    treated = seen.places.set_index("place").loc["Treated park"]
    raw = figures.places.set_index("place_key").loc["TREATED"]
    moved = 0
    for column in ("before", "after", "comparison_before", "comparison_after"):
        shown = int(treated[column].replace(",", ""))
        assert abs(shown - int(raw[column])) <= D_MAX
        moved += shown != int(raw[column])
    assert moved > 0  # the noise is there (four counts all unmoved: 1 key in 30 or so)


def test_the_chart_blanks_small_months_for_a_suppressed_reader(filled):
    engine, ids = filled
    figures = impact_figures(read_impact_inputs(engine))
    exact = place_chart(figures, ids["TREATED"], suppressed=False, k=5)
    hidden = place_chart(figures, ids["TREATED"], suppressed=True, k=5)
    small = (exact["place"] > 0) & (exact["place"] < 5)
    assert small.any()  # the control: there are small months to protect
    shown = hidden["place"].dropna()
    assert (shown >= 5).all()  # a month is blank or perturbed, never 1 to 4
    assert ((shown - exact.loc[shown.index, "place"]).abs() <= D_MAX).all()
    assert exact["place"].notna().all()
    assert place_chart(figures, ids["COMPARE0"], suppressed=False, k=5) is None


def _figures_with(before: int, after: int, after_key: int = 0) -> ImpactFigures:
    """One place's result, built by hand: a big fall to a small count."""
    places = pd.DataFrame(
        {
            "place_id": [1],
            "first_action_month": ["2026-01"],
            "window_months": [6],
            "before": pd.array([before], dtype="Int64"),
            "after": pd.array([after], dtype="Int64"),
            "comparison_ids": [(2, 3)],
            "matched_on": ["same category"],
            "comparison_before": pd.array([300], dtype="Int64"),
            "comparison_after": pd.array([310], dtype="Int64"),
            "effect_ratio": [0.05],
            "ci_low": [0.02],
            "ci_high": [0.12],
            "p": [1e-9],
            "verdict": ["fell"],
            "sentence": ["fell by about 90% more than comparable places (very likely)"],
            "place_key": ["P1"],
            "name": ["Station"],
            "category": ["transport_hub"],
            "district_code": [STAFFORD],
            "kinds": [("cctv",)],
            "before_key": pd.array([before * 128], dtype="Int64"),
            "after_key": pd.array([after_key], dtype="Int64"),
            "comparison_before_key": pd.array([300 * 128], dtype="Int64"),
            "comparison_after_key": pd.array([310 * 128], dtype="Int64"),
        }
    )
    return ImpactFigures(places, pd.DataFrame(), {1: "Station"}, {1: STAFFORD}, 6)


def test_the_size_of_a_change_to_a_small_count_is_hidden_as_well():
    """With 80 before and comparisons visible, a ratio would give the small '3' away."""
    shown_as = set()
    for after_key in range(256):  # whatever the small count's cell key, perturbed up or not
        seen = disclose(
            _figures_with(80, 3, after_key), districts=(STAFFORD,), suppressed=True, k=5
        )
        row = seen.places.iloc[0]
        shown_as.add(row["after"])
        assert row["after"] == "<5" or int(row["after"]) >= 5
        assert row["effect"] == "" and row["p"] == ""
        assert "%" not in row["sentence"] and row["sentence"].startswith("fell more than")
    assert "<5" in shown_as and len(shown_as) > 1  # both "<5" and perturbed values were tried
    # Control: the same place for a lead, and a suppressed reader when no count is small.
    lead = disclose(_figures_with(80, 3), districts=(STAFFORD,), suppressed=False, k=5)
    assert (
        lead.places.iloc[0]["effect"].startswith("0.05") and "%" in lead.places.iloc[0]["sentence"]
    )
    large = disclose(_figures_with(80, 30), districts=(STAFFORD,), suppressed=True, k=5)
    assert large.places.iloc[0]["effect"].startswith("0.05")


def test_places_outside_the_readers_districts_are_left_out():
    seen = disclose(_figures_with(80, 30), districts=("E07000192",), suppressed=True, k=5)
    assert seen.places.empty and seen.by_kind.empty


def test_the_form_stores_an_actions_kind_and_refuses_an_unknown_one(engine):
    with session_scope(engine) as session:
        square = shapely.to_wkb(shapely.box(390000, 300000, 400000, 310000))
        session.add(District(code=STAFFORD, name="Stafford", source="t", geometry_wkb=square))
        session.flush()
        place = Place(
            place_key="P", name="Park", category="park", easting=395000.0, northing=305000.0,
            district_code=STAFFORD,
        )  # fmt: skip
        session.add(place)
        session.flush()
        place_id = place.id
    today = date(2026, 11, 20)
    aid = svc.create_draft(engine, OFFICER, place_id, today=today)
    action = svc.ActionInput(
        "Add a camera", "Stafford Borough Council", date(2027, 1, 5), kind="cctv"
    )
    form = svc.AssessmentForm(assessed_on=today, actions=(action,))
    svc.save_draft(engine, OFFICER, aid, form, expected_version=1, today=today)
    with session_scope(engine) as session:
        assert session.scalar(select(Action.kind)) == "cctv"
    record = svc.load_assessment(engine, OFFICER, aid)
    assert record.form.actions[0].kind == "cctv"
    bad = svc.AssessmentForm(
        assessed_on=today, actions=(svc.ActionInput("x", "y", date(2027, 1, 5), kind="drones"),)
    )
    assert "actions.0.kind" in svc.validate(bad, complete=False, today=today)
    # Changing the status alone keeps the kind.
    with session_scope(engine) as session:
        action_id = session.scalar(select(Action.id))
    svc.update_action(engine, OFFICER, action_id, status="done", today=today)
    with session_scope(engine) as session:
        assert session.scalar(select(Action.kind)) == "cctv"
