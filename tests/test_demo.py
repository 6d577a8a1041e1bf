"""Tests for data.demo: a reproducible synthetic demo whose planted patterns are really there."""

from __future__ import annotations

import os
import re
import time
from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree
from scipy.stats import kendalltau

from data.demo import (
    AGE_BAND_LABELS,
    AGENCIES,
    ASSESSMENT_STATUSES,
    CHECKLIST,
    DEFAULT_AREA,
    DEFAULT_END,
    DEMO_PSEUDONYM_KEY,
    DISTRICT_COUNCILS,
    INCIDENT_CATEGORIES,
    PATTERNS,
    PLACE_CATEGORIES,
    DemoData,
    build_demo,
    load_towns,
)
from geo.postcodes import load_postcode_directory

SMALL = {"n_incidents": 3000, "n_referrals": 450, "months": 24}
WINDOW = pd.period_range(end=pd.Period(DEFAULT_END, "M"), periods=24, freq="M")

EVENT_COLUMNS = {
    "source_ref": "str",
    "source_agency": "str",
    "category": "str",
    "occurred_on": "date",
    "age_band": "str",
    "sex": "object",
    "online": "bool",
    "easting": "float64",
    "northing": "float64",
    "district_code": "str",
    "place_key": "object",
}
COLUMNS: dict[str, dict[str, str]] = {
    "places": {
        "place_key": "str",
        "name": "str",
        "category": "str",
        "easting": "float64",
        "northing": "float64",
        "postcode": "str",
        "district_code": "str",
        "responsible_org": "str",
        "active": "bool",
    },
    "incidents": EVENT_COLUMNS,
    "referrals": {
        "child_pseudonym": "str",
        "route": "str",
        "risk_level": "str",
        "outcome": "str",
        **EVENT_COLUMNS,
    },
    "assessments": {
        "assessment_key": "str",
        "place_key": "str",
        "assessing_org": "str",
        "lead_assessor": "str",
        "assessed_on": "date",
        "status": "str",
        "overall_risk": "str",
        "goals": "str",
        "young_people_consulted": "bool",
        "families_consulted": "bool",
        "partners": "str",
        "next_review_on": "date",
        "version": "int64",
    },
    "findings": {
        "assessment_key": "str",
        "domain": "str",
        "item": "str",
        "score": "int64",
        "evidence": "str",
        "source": "str",
        "reliability": "str",
    },
    "actions": {
        "assessment_key": "str",
        "description": "str",
        "owner_org": "str",
        "due_on": "date",
        "status": "str",
        "completed_on": "date_or_none",
        "kind": "str",
    },
}
FRAMES = tuple(COLUMNS)


@pytest.fixture(scope="module")
def small() -> DemoData:
    return build_demo(**SMALL)


@pytest.fixture(scope="module")
def full_timed() -> tuple[DemoData, float]:
    load_postcode_directory()  # the directory's own first load is not the builder's time
    started = time.perf_counter()
    demo = build_demo()
    return demo, time.perf_counter() - started


@pytest.fixture(scope="module")
def full(full_timed) -> DemoData:
    return full_timed[0]


@pytest.fixture(scope="module")
def postcode_tree() -> tuple[cKDTree, np.ndarray]:
    directory = load_postcode_directory()
    tree = cKDTree(directory[["easting", "northing"]].to_numpy())
    return tree, directory["district_code"].astype(str).to_numpy()


def _months(frame: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(frame["occurred_on"]).dt.to_period("M")


def _monthly_near(demo: DemoData, place_key: str, radius: float = 300.0) -> pd.Series:
    place = demo.places.set_index("place_key").loc[place_key]
    incidents = demo.incidents
    near = np.hypot(
        incidents["easting"] - place["easting"], incidents["northing"] - place["northing"]
    )
    return (
        _months(incidents)[near.to_numpy() <= radius].value_counts().reindex(WINDOW, fill_value=0)
    )


def _pattern(trend: str) -> str:
    return next(p.place_key for p in PATTERNS if p.trend == trend)


# ----------------------------------------------------------------------------- reproducibility


def test_same_seed_gives_identical_frames(small):
    again = build_demo(**SMALL)
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(small, name), getattr(again, name), obj=name)


def test_another_seed_gives_other_data(small):
    other = build_demo(seed=7, **SMALL)
    assert not small.incidents["source_ref"].isin(other.incidents["source_ref"]).any()
    assert not small.incidents[["easting", "northing"]].equals(
        other.incidents[["easting", "northing"]]
    )
    assert not small.places["name"].equals(other.places["name"])
    # The pattern places stay where they are: their keys and positions do not depend on the seed.
    fixed = [p.place_key for p in PATTERNS]
    pd.testing.assert_frame_equal(
        small.places.set_index("place_key").loc[fixed, ["easting", "northing", "name"]],
        other.places.set_index("place_key").loc[fixed, ["easting", "northing", "name"]],
    )


def test_full_build_is_fast_enough(full_timed):
    demo, seconds = full_timed
    print(f"\nfull demo build: {seconds:.1f} s for {len(demo.incidents):,} incidents")
    assert seconds < 30


# ----------------------------------------------------------------------------- shape


@pytest.mark.parametrize("name", FRAMES)
def test_columns_and_dtypes(small, name):
    frame = getattr(small, name)
    expected = COLUMNS[name]
    assert list(frame.columns) == list(expected)
    for column, kind in expected.items():
        values = frame[column]
        if kind == "str":
            assert values.dtype == "str", column
            assert values.notna().all(), column
        elif kind == "object":
            assert values.dtype == object, column
            assert all(v is None or isinstance(v, str) for v in values), column
        elif kind == "date":
            assert values.dtype == object, column
            assert all(type(v) is date for v in values), column
        elif kind == "date_or_none":
            assert all(v is None or type(v) is date for v in values), column
        else:
            assert values.dtype == kind, column


def test_sizes(full):
    assert len(full.incidents) == 20_000
    assert len(full.referrals) == 3_000
    assert 400 <= len(full.places) <= 600
    assert 30 <= len(full.assessments) <= 50


def test_keys_are_unique_and_referenced(full):
    assert full.places["place_key"].is_unique and full.places["name"].is_unique
    assert full.assessments["assessment_key"].is_unique
    keys = set(full.places["place_key"])
    for frame in (full.incidents, full.referrals):
        assert set(frame["place_key"].dropna()) <= keys
    assert set(full.assessments["place_key"]) <= keys
    assessments = set(full.assessments["assessment_key"])
    assert set(full.findings["assessment_key"]) <= assessments
    assert set(full.actions["assessment_key"]) <= assessments


def test_pseudonyms_are_16_hex_digits_and_unique(full):
    hex16 = re.compile(r"^[0-9a-f]{16}$")
    for column in (
        full.incidents["source_ref"],
        full.referrals["source_ref"],
        full.referrals["child_pseudonym"],
    ):
        assert column.str.match(hex16).all()
    refs = pd.concat([full.incidents["source_ref"], full.referrals["source_ref"]])
    assert refs.is_unique
    assert b"DEMO" in DEMO_PSEUDONYM_KEY


# ----------------------------------------------------------------------------- anonymisation


@pytest.mark.parametrize("name", ["incidents", "referrals"])
def test_points_are_100_m_grid_centres(full, name):
    frame = getattr(full, name)
    located = frame.loc[~frame["online"]]
    assert located[["easting", "northing"]].notna().all().all()
    assert (located["easting"] % 100 == 50).all()
    assert (located["northing"] % 100 == 50).all()


@pytest.mark.parametrize("name", ["incidents", "referrals"])
def test_online_events_have_no_location_but_a_district(full, name):
    frame = getattr(full, name)
    online = frame.loc[frame["online"]]
    assert online[["easting", "northing"]].isna().all().all()
    assert online["place_key"].isna().all()
    assert online["district_code"].isin(DEFAULT_AREA).all()


def test_about_four_percent_of_incidents_are_online(full):
    assert 0.03 <= full.incidents["online"].mean() <= 0.05


@pytest.mark.parametrize("name", ["incidents", "referrals"])
def test_points_lie_in_their_own_district(full, postcode_tree, name):
    tree, districts = postcode_tree
    frame = getattr(full, name)
    located = frame.loc[~frame["online"]]
    _, nearest = tree.query(located[["easting", "northing"]].to_numpy())
    agree = districts[nearest] == located["district_code"].to_numpy()
    assert agree.mean() >= 0.99
    assert frame["district_code"].isin(DEFAULT_AREA).all()


def test_dates_are_mondays_in_the_window(full):
    for frame in (full.incidents, full.referrals):
        days = pd.to_datetime(frame["occurred_on"])
        assert (days.dt.day_of_week == 0).all()
        assert days.min() >= WINDOW[0].start_time
        assert days.max() <= pd.Timestamp(DEFAULT_END)
    assert set(_months(full.incidents)) == set(WINDOW)


def test_place_key_is_the_nearest_place_within_150_m(full):
    places = full.places.set_index("place_key")
    tree = cKDTree(places[["easting", "northing"]].to_numpy())
    located = full.incidents.loc[~full.incidents["online"]]
    distance, _ = tree.query(located[["easting", "northing"]].to_numpy())
    linked = located["place_key"].notna().to_numpy()
    assert (linked == (distance <= 150)).all()
    at = places.loc[located.loc[linked, "place_key"]]
    gap = np.hypot(
        at["easting"].to_numpy() - located.loc[linked, "easting"].to_numpy(),
        at["northing"].to_numpy() - located.loc[linked, "northing"].to_numpy(),
    )
    np.testing.assert_allclose(gap, distance[linked])


NAME_RE = re.compile(
    r"\b(?:Mr|Mrs|Ms|Miss|Dr)\.?\s+[A-Z][a-z]+"
    r"|\b(?:Olivia|Amelia|Isla|Ava|Mia|Emily|Sophie|Jessica|Chloe|Ellie|Grace|Lily|Ruby|"
    r"Oliver|Jack|Harry|Noah|Leo|Charlie|Jacob|Thomas|Oscar|James|Liam|Tyler|Kai|Jayden|"
    r"Mohammed|Muhammad|Smith|Jones|Taylor|Brown|Williams|Wilson|Johnson|Davies)\b"
)
DOB_RE = re.compile(
    r"\b\d{1,2}[/.-]\d{1,2}[/.-](?:19|20)?\d{2}\b|\b(?:19|20)\d{2}-\d{2}-\d{2}\b|\bborn\b|\bDOB\b",
    re.IGNORECASE,
)
NHS_RE = re.compile(r"\b\d{3}\s?\d{3}\s?\d{4}\b")
CASE_RE = re.compile(r"\b(?:case|crime|ref(?:erence)?)\s*(?:no\.?|number)?\s*[:#]?\s*\d{3,}", re.I)
ADDRESS_RE = re.compile(r"\b\d+[A-Za-z]?,?\s+[A-Z][a-z]+\s+(?:Street|Road|Lane|Avenue|Close|Way)\b")
POSTCODE_RE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b")


@pytest.mark.parametrize("name", FRAMES)
def test_no_text_looks_like_a_person(full, name):
    frame = getattr(full, name)
    text = frame.select_dtypes(include=["str", "object"])
    values = pd.Series(
        [v for column in text.columns for v in text[column] if isinstance(v, str)], dtype=object
    ).drop_duplicates()
    patterns = [NAME_RE, DOB_RE, NHS_RE, CASE_RE, ADDRESS_RE]
    if name != "places":  # a place's postcode is part of the register; nothing else has one
        patterns.append(POSTCODE_RE)
    for pattern in patterns:
        hits = [v for v in values if pattern.search(v)]
        assert not hits, f"{name}: {pattern.pattern[:30]}... matches {hits[:3]}"


def test_the_regexes_would_catch_identifiers():
    assert NAME_RE.search("Seen with Jack near the park")
    assert DOB_RE.search("dob 03/04/2011")
    assert NHS_RE.search("943 476 5919")
    assert ADDRESS_RE.search("lives at 12 Mill Street")
    assert POSTCODE_RE.search("ST16 2LJ")


# ----------------------------------------------------------------------------- places


def test_places_sit_at_real_postcodes_of_their_district(full):
    directory = load_postcode_directory(DEFAULT_AREA).set_index("postcode")
    at = directory.loc[full.places["postcode"]]
    np.testing.assert_array_equal(at["easting"].to_numpy(), full.places["easting"].to_numpy())
    np.testing.assert_array_equal(at["northing"].to_numpy(), full.places["northing"].to_numpy())
    assert (at["district_code"].to_numpy() == full.places["district_code"].to_numpy()).all()
    expected_org = full.places["district_code"].map(DISTRICT_COUNCILS)
    assert (full.places["responsible_org"] == expected_org).all()


def test_places_cover_every_category_and_district(full):
    assert set(full.places["category"]) == set(PLACE_CATEGORIES)
    assert set(full.places["district_code"]) == set(DEFAULT_AREA)
    assert full.places["active"].mean() > 0.85 and not full.places["active"].all()
    assert (full.places["place_key"].str.match(r"^P\d{4}$")).all()


def test_towns_table_is_inside_the_area():
    towns = load_towns()
    assert set(towns.columns) >= {"name", "district_code", "easting", "northing", "weight"}
    assert set(towns["district_code"]) == set(DEFAULT_AREA)
    assert towns["name"].is_unique
    assert towns["easting"].between(360_000, 440_000).all()
    assert towns["northing"].between(290_000, 370_000).all()


# ----------------------------------------------------------------------------- incident mix


def test_every_category_age_band_sex_and_agency_is_present(full):
    for frame in (full.incidents, full.referrals):
        assert set(frame["category"]) == set(INCIDENT_CATEGORIES)
        assert set(frame["age_band"]) == set(AGE_BAND_LABELS)
        assert set(frame["source_agency"]) == set(AGENCIES)
        assert set(frame["sex"].dropna()) == {"female", "male"}
        assert frame["sex"].isna().any()


def test_ages_skew_to_13_to_17(full):
    share = full.incidents["age_band"].value_counts(normalize=True)
    assert share["13-15"] + share["16-17"] > 0.6
    assert share["13-15"] > share["10-12"] and share["16-17"] > share["18-24"]


@pytest.mark.parametrize(
    ("place_category", "exploitation", "lift"),
    [
        ("hotel", "cse", 1.5),
        ("fast_food", "cse", 1.3),
        ("transport_hub", "county_lines", 1.8),
        ("transport_hub", "cce", 1.3),
        ("derelict_building", "cce", 1.3),
        ("park", "serious_youth_violence", 1.5),
    ],
)
def test_exploitation_types_follow_the_place(full, place_category, exploitation, lift):
    """The share of a type at places of a category is well above its overall share."""
    categories = full.places.set_index("place_key")["category"]
    linked = full.incidents.dropna(subset=["place_key"])
    at = linked.loc[linked["place_key"].map(categories) == place_category, "category"]
    overall = (full.incidents["category"] == exploitation).mean()
    assert (at == exploitation).mean() > lift * overall


def test_some_places_have_many_repeat_incidents(full):
    counts = full.incidents["place_key"].value_counts()
    assert (counts >= 100).sum() >= 5


# ----------------------------------------------------------------------------- patterns


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: f"{p.place_key}-{p.trend}")
def test_pattern_places_exist(full, pattern):
    place = full.places.set_index("place_key").loc[pattern.place_key]
    assert place["name"] == pattern.name and place["category"] == pattern.category


def test_new_hot_spot_only_in_the_last_three_months(full):
    monthly = _monthly_near(full, _pattern("new"))
    recent, earlier = monthly.iloc[-3:], monthly.iloc[:-3]
    assert recent.min() > 5 * earlier.mean()
    assert recent.sum() > 150


def test_intensifying_hot_spot_rises(full):
    tau, p = kendalltau(np.arange(24), _monthly_near(full, _pattern("intensifying")).to_numpy())
    assert tau > 0.4 and p < 0.05


def test_diminishing_hot_spot_fades(full):
    monthly = _monthly_near(full, _pattern("diminishing"))
    tau, p = kendalltau(np.arange(24), monthly.to_numpy())
    assert tau < -0.4 and p < 0.05
    assert monthly.iloc[:6].mean() > 2 * monthly.iloc[-6:].mean()


@pytest.mark.parametrize(
    "pattern", [p for p in PATTERNS if p.trend == "persistent"], ids=lambda p: p.place_key
)
def test_persistent_hot_spots_are_busy_every_month_without_a_trend(full, pattern):
    monthly = _monthly_near(full, pattern.place_key)
    assert monthly.min() >= 0.4 * monthly.mean() and monthly.mean() >= 15
    _, p = kendalltau(np.arange(24), monthly.to_numpy())
    assert p > 0.05


def test_summer_holidays_peak(full):
    monthly = _months(full.incidents).value_counts().reindex(WINDOW)
    summer = monthly[[m.month in (7, 8) for m in monthly.index]]
    assert (summer > 1.2 * monthly.mean()).all()


def test_missing_episodes_peak_around_christmas(full):
    missing = full.incidents.loc[full.incidents["category"] == "missing"]
    monthly = _months(missing).value_counts().reindex(WINDOW)
    december = monthly[[m.month == 12 for m in monthly.index]]
    others = monthly[[m.month in (2, 3, 4, 5, 10, 11) for m in monthly.index]]
    assert december.min() > 1.3 * others.mean()


def test_referrals_follow_the_hot_spots(full):
    keys = [p.place_key for p in PATTERNS]
    places = full.places.set_index("place_key").loc[keys]
    tree = cKDTree(places[["easting", "northing"]].to_numpy())

    def share_near(frame: pd.DataFrame) -> float:
        located = frame.loc[~frame["online"], ["easting", "northing"]].to_numpy()
        distance, _ = tree.query(located)
        return float((distance <= 300).mean())

    assert share_near(full.referrals) > 1.3 * share_near(full.incidents)


def test_some_children_are_referred_more_than_once(full):
    per_child = full.referrals["child_pseudonym"].value_counts()
    assert (per_child > 1).sum() > 100
    assert per_child.max() >= 4
    assert set(full.referrals["route"]) == {"RFM", "MACE", "other"}
    assert set(full.referrals["risk_level"]) == {"low", "medium", "high"}
    assert full.referrals["outcome"].nunique() >= 4


# ----------------------------------------------------------------------------- assessments


def test_every_assessment_status_is_present(full):
    assert set(full.assessments["status"]) == set(ASSESSMENT_STATUSES)
    assert set(full.assessments["overall_risk"]) == {"low", "medium", "high"}
    assert (full.assessments["version"] == 1).all()
    assert (full.assessments["assessed_on"] <= DEFAULT_END).all()


def test_a_superseded_assessment_has_a_newer_approved_one(full):
    a = full.assessments
    for _, old in a.loc[a["status"] == "superseded"].iterrows():
        newer = a.loc[
            (a["place_key"] == old["place_key"]) & (a["assessed_on"] > old["assessed_on"])
        ]
        assert not newer.empty
    superseded_places = set(a.loc[a["status"] == "superseded", "place_key"])
    approved_places = set(a.loc[a["status"] == "approved", "place_key"])
    assert superseded_places & approved_places


def test_assessments_focus_on_hot_spot_places(full):
    busy = full.incidents["place_key"].value_counts()
    assessed = busy.reindex(full.assessments["place_key"].unique(), fill_value=0)
    assert assessed.median() > busy.median() * 3
    new = _pattern("new")
    assert new not in set(full.assessments["place_key"])  # newly flagged: not assessed yet


def test_some_reviews_and_actions_are_overdue(full):
    current = full.assessments.loc[full.assessments["status"] != "superseded"]
    assert (current["next_review_on"] < DEFAULT_END).sum() >= 2
    assert (current["next_review_on"] >= DEFAULT_END).sum() >= 2
    actions = full.actions
    overdue = (actions["status"] == "open") & (actions["due_on"] < DEFAULT_END)
    assert overdue.sum() >= 2
    assert set(actions["status"]) == {"open", "done", "dropped"}


def test_completed_dates_match_action_status(full):
    actions = full.actions
    done = actions["status"] == "done"
    assert actions.loc[done, "completed_on"].map(lambda d: isinstance(d, date)).all()
    assert actions.loc[~done, "completed_on"].isna().all()
    assert (actions.loc[done, "completed_on"] <= DEFAULT_END).all()


def test_findings_use_the_checklist(full):
    findings = full.findings
    assert set(findings["item"]) == set(CHECKLIST)
    assert (findings["domain"] == findings["item"].map(CHECKLIST)).all()
    assert set(findings["domain"]) == {"young_people", "guardianship", "environment"}
    assert findings["score"].between(0, 3).all() and findings["score"].nunique() == 4
    assert set(findings["reliability"]) == {"high", "medium", "low"}
    risk = full.assessments.set_index("assessment_key")["overall_risk"]
    mean_score = findings.groupby(findings["assessment_key"].map(risk))["score"].mean()
    assert mean_score["high"] > mean_score["medium"] > mean_score["low"]


def test_assessors_are_job_titles(full):
    assert (
        full.assessments["lead_assessor"]
        .str.contains(r"Officer|Practitioner|Lead|Sergeant|Manager|Coordinator")
        .all()
    )


# ----------------------------------------------------------------------------- arguments


def test_a_shorter_window_and_another_end(postcode_tree):
    demo = build_demo(n_incidents=1000, n_referrals=100, months=12, end=date(2025, 6, 15))
    days = pd.to_datetime(demo.incidents["occurred_on"])
    assert days.max() <= pd.Timestamp("2025-06-15")
    assert days.min() >= pd.Timestamp("2024-07-01")
    new = _months(demo.incidents.loc[demo.incidents["place_key"] == _pattern("new")])
    assert new.min() >= pd.Period("2025-04", "M")


def test_a_subset_of_districts():
    demo = build_demo(n_incidents=500, n_referrals=50, districts=["E07000199"])
    assert set(demo.places["district_code"]) == {"E07000199"}
    assert set(demo.incidents["district_code"]) == {"E07000199"}
    assert set(demo.places["place_key"]) >= {_pattern("new")}


@pytest.mark.parametrize(
    "kwargs",
    [{"months": 3}, {"n_incidents": 10}, {"n_referrals": 0}, {"districts": ["E09000001"]}],
)
def test_bad_arguments_are_refused(kwargs):
    with pytest.raises(ValueError):
        build_demo(**kwargs)


def _digest(demo: DemoData) -> str:
    import hashlib

    return hashlib.sha1(
        pd.util.hash_pandas_object(demo.incidents.astype(str)).values.tobytes()
    ).hexdigest()


def test_the_demo_is_the_same_in_every_process():
    """Python salts string hashes per process; the demo must not depend on that.

    One other process, with a string hash seed other than this one's, builds the demo
    this process builds (one interpreter start, not two).
    """
    import subprocess
    import sys

    script = (
        "import hashlib, pandas as pd; from data.demo import build_demo; "
        "d = build_demo(n_incidents=2000, n_referrals=300); "
        "print(hashlib.sha1(pd.util.hash_pandas_object(d.incidents.astype(str)).values"
        ".tobytes()).hexdigest())"
    )
    seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    assert hash("safer spaces") != _salted_hash(seed)  # the control: the salts differ
    other = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": seed},
    ).stdout.strip()
    assert other == _digest(build_demo(n_incidents=2000, n_referrals=300))


def _salted_hash(seed: str) -> int:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", "print(hash('safer spaces'))"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": seed},
    )
    return int(done.stdout)
