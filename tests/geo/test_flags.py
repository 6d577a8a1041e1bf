from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from geo.flags import (
    FlagFigures,
    figures_of,
    flag_places,
    period_label,
    period_months,
    render_reason,
    why_not_flagged,
)
from geo.grid import build_grid
from geo.points import HotspotInputError, HotspotWarning

from .conftest import X0, Y0

PLACES = {
    "A": ("Market Square", "shopping area", X0 + 2125, Y0 + 2125),
    "B": ("Bus station", "transport hub", X0 + 3875, Y0 + 875),
    "C": ("Quiet park", "park or open space", X0 + 500, Y0 + 4500),
    "D": ("Retail park", "shopping area", X0 + 1125, Y0 + 3875),
    "E": ("Chip shop", "fast food", X0 + 4375, Y0 + 4375),
}
MONTHS = pd.period_range("2025-10", "2026-09", freq="M")


def flag_places_normal(*args, **kwargs):
    """The scenario's clusters sit in single cells: pinned on the normal-curve p-values."""
    kwargs.setdefault("p_values", "normal")
    return flag_places(*args, **kwargs)


def _around(rng, key, n, spread):
    _, _, x, y = PLACES[key]
    r = spread * np.sqrt(rng.uniform(0, 1, n))
    a = rng.uniform(0, 2 * np.pi, n)
    return x + r * np.cos(a), y + r * np.sin(a)


@pytest.fixture
def scenario(box_area, make_points, rng):
    xs, ys, months = [], [], []

    def add(x, y, month):
        xs.append(x)
        ys.append(y)
        months.extend([month] * len(x))

    px = np.array([p[2] for p in PLACES.values()])
    py = np.array([p[3] for p in PLACES.values()])
    for i, month in enumerate(MONTHS):
        bx, by = rng.uniform(X0, X0 + 5000, 300), rng.uniform(Y0, Y0 + 5000, 300)
        far = np.hypot(bx[:, None] - px, by[:, None] - py).min(axis=1) > 300
        add(bx[far], by[far], month)
        add(*_around(rng, "D", 20 + 5 * i, 300), month)  # grows every month
        add(*_around(rng, "B", 30, 150), month)  # steady all year
        if month.quarter == 2 and month.year == 2026:
            add(*_around(rng, "A", [2, 2, 1][month.month - 4], 100), month)  # 5 in Apr-Jun
        if month.quarter == 3 and month.year == 2026:
            add(*_around(rng, "A", [5, 5, 4][month.month - 7], 100), month)  # 14 in Jul-Sep
        if str(month) == "2026-09":
            add(*_around(rng, "E", 40, 100), month)
    incidents = make_points(np.concatenate(xs), np.concatenate(ys), period=months)
    places = make_points(
        px,
        py,
        id=list(PLACES),
        name=[p[0] for p in PLACES.values()],
        category=[p[1] for p in PLACES.values()],
    )
    return places, incidents, build_grid(box_area, cell_size=250)


def test_flags_reasons_and_ranks(scenario):
    places, incidents, grid = scenario
    flags = flag_places_normal(
        places, incidents, grid, period="2026Q3", radius=200, min_incidents=10
    )
    by_id = flags.set_index("id")
    assert "C" not in by_id.index
    assert flags["rank"].tolist() == list(range(1, len(flags) + 1))
    assert flags.crs == "EPSG:4326"

    a = by_id.loc["A"]
    assert a["reason"].startswith("14 incidents within 200 m in Jul-Sep 2026 (up from 5)")
    assert a["many_incidents"]

    b = by_id.loc["B"]
    assert b["in_hot_spot"] and b["hot_bin"] == 3
    assert b["reason"].startswith("90 incidents within 200 m in Jul-Sep 2026 (no change); 99% hot")

    d = by_id.loc["D"]
    assert d["trend"] == "Intensifying Hot Spot" and d["new_or_intensifying"]
    assert "intensifying since Nov 2025" in d["reason"]

    e = by_id.loc["E"]
    assert e["trend"] == "New Hot Spot"
    assert e["reason"].endswith("new hot spot in Sep")

    # more criteria first: B (hot and many) outranks A (many only)
    assert b["rank"] < a["rank"]


def test_counts_match_a_brute_force_count(scenario):
    places, incidents, grid = scenario
    flags = flag_places_normal(
        places, incidents, grid, period=("2026-08", "2026-09"), min_incidents=1
    )
    month = incidents["period"].astype(str)
    for _, row in flags.iterrows():
        p = places.set_index("id").geometry.loc[row["id"]]
        d = incidents.distance(p)
        now = ((d <= 200) & month.isin(["2026-08", "2026-09"])).sum()
        before = ((d <= 200) & month.isin(["2026-06", "2026-07"])).sum()
        assert (row["incidents"], row["previous"]) == (now, before)
        assert "in Aug-Sep 2026" in row["reason"]


def test_thresholds_change_what_is_flagged(scenario):
    places, incidents, grid = scenario
    strict = flag_places_normal(places, incidents, grid, period="2026Q3", min_incidents=1000)
    assert {"D", "E"} == set(strict["id"])  # flagged for their trends
    # B sits in a 99% hot spot but a hot cell alone does not flag a place
    assert not set(strict["id"]) & {"A", "B"}


def test_a_hot_cell_alone_does_not_flag_a_quiet_place(scenario):
    places, incidents, grid = scenario
    # a second place in the bus station's hot cell, 120 m from it: few incidents of its own
    extra = places.iloc[[1]].assign(id="F", name="Bus station kiosk")
    extra["geometry"] = extra.translate(xoff=120)
    register = pd.concat([places, extra], ignore_index=True)
    flags = flag_places_normal(register, incidents, grid, period="2026Q3", min_incidents=200)
    by_id = flags.set_index("id")
    assert "F" not in by_id.index and "B" not in by_id.index
    loose = flag_places_normal(register, incidents, grid, period="2026Q3", min_incidents=10)
    assert {"B", "F"} <= set(loose["id"])
    assert loose.set_index("id").loc["B", "hot_bin"] == 3


def test_weighted_points_flag_like_one_point_per_incident(scenario):
    places, incidents, grid = scenario
    snapped = incidents.assign(
        x=(incidents.geometry.x // 100) * 100 + 50, y=(incidents.geometry.y // 100) * 100 + 50
    )
    counted = snapped.groupby(["x", "y", "period"]).size().rename("n").reset_index()
    one_each = gpd.GeoDataFrame(
        {"period": snapped["period"]},
        geometry=gpd.points_from_xy(snapped["x"], snapped["y"]),
        crs=incidents.crs,
    )
    weighted = gpd.GeoDataFrame(
        counted[["period", "n"]],
        geometry=gpd.points_from_xy(counted["x"], counted["y"]),
        crs=incidents.crs,
    )
    assert len(weighted) < len(one_each) and weighted["n"].max() > 1
    expected = flag_places_normal(places, one_each, grid, period="2026Q3")
    got = flag_places_normal(places, weighted, grid, period="2026Q3", weight_column="n")
    pd.testing.assert_frame_equal(
        pd.DataFrame(got.drop(columns="geometry")), pd.DataFrame(expected.drop(columns="geometry"))
    )


def test_period_helpers():
    assert [str(p) for p in period_months(pd.Period("2026Q3"))] == ["2026-07", "2026-09"]
    assert [str(p) for p in period_months("2026-05")] == ["2026-05", "2026-05"]
    first, last = period_months(("2025-11", "2026-01"))
    assert period_label(first, last) == "Nov 2025-Jan 2026"
    assert period_label(last, last) == "Jan 2026"
    with pytest.raises(HotspotInputError, match="ends before"):
        period_months(("2026-05", "2026-01"))
    with pytest.raises(HotspotInputError, match="Cannot read"):
        period_months("last summer")


def test_register_problems_are_reported(scenario):
    places, incidents, grid = scenario
    with pytest.raises(HotspotInputError, match="missing: category"):
        flag_places_normal(places.drop(columns="category"), incidents, grid, period="2026Q3")
    with pytest.raises(HotspotInputError, match="reproject"):
        flag_places_normal(places.to_crs("EPSG:4326"), incidents, grid, period="2026Q3")
    no_crs = gpd.GeoDataFrame(places.drop(columns="geometry"), geometry=places.geometry.values)
    no_crs = no_crs.set_crs(None, allow_override=True)
    with pytest.raises(HotspotInputError, match="no coordinate reference system"):
        flag_places_normal(no_crs, incidents, grid, period="2026Q3")


# One place per incident, k incidents for a trend, figures first --------------------------


def test_each_incident_counts_towards_its_nearest_place_only(make_points, box_area, rng):
    grid = build_grid(box_area, cell_size=250)
    places = make_points(
        np.array([X0 + 2100, X0 + 2160, X0 + 2400]),
        np.array([Y0 + 2100, Y0 + 2100, Y0 + 2100]),
        id=[1, 2, 3],
        name=["Park gate", "Shop next door", "Bus stop"],
        category=["park or open space", "fast food", "transport hub"],
    )
    r = 25 * np.sqrt(rng.uniform(0, 1, 12))
    a = rng.uniform(0, 2 * np.pi, 12)
    x, y = X0 + 2100 + r * np.cos(a), Y0 + 2100 + r * np.sin(a)  # all at the park gate
    incidents = make_points(x, y, period=["2026-09"] * 12)
    with pytest.warns(HotspotWarning, match="Fewer than 2 months"):
        every = flag_places(
            places, incidents, grid, period="2026-09", min_incidents=10, keep_all=True
        ).set_index("id")
    assert every.loc[1, "incidents"] == 12 and every.loc[1, "flagged"]
    assert every.loc[2, "incidents"] == 0 and not every.loc[2, "flagged"]
    assert every.loc[3, "incidents"] == 0
    assert every["incidents"].sum() == 12  # each incident once
    # the shop is within 200 m of all twelve: the old rule would have flagged it too
    assert every.loc[2, "nearby_elsewhere"] == 12
    assert every.loc[2, "why_not"] == (
        "0 incidents within 200 m in Sep 2026, the threshold is 10; its cell is not a new, "
        "consecutive or intensifying hot spot; 12 more within 200 m count towards a nearer place"
    )
    with pytest.warns(HotspotWarning, match="Fewer than 2 months"):
        flagged = flag_places(places, incidents, grid, period="2026-09", min_incidents=10)
    assert flagged["id"].tolist() == [1] and "why_not" not in flagged


def test_a_trend_flag_needs_k_incidents(scenario):
    places, incidents, grid = scenario
    base = {"period": "2026Q3", "min_incidents": 1000}
    trending = flag_places_normal(places, incidents, grid, **base).set_index("id")
    assert "E" in trending.index and trending.loc["E", "incidents"] == 40
    strict = flag_places_normal(
        places, incidents, grid, min_trend_incidents=41, keep_all=True, **base
    ).set_index("id")
    assert not strict.loc["E", "flagged"]
    assert strict.loc["E", "why_not"].startswith(
        "40 incidents within 200 m in Jul-Sep 2026, the threshold is 1000; its cell is a new "
        "hot spot, but a trend flag needs at least 41 incidents here"
    )


def test_consecutive_hot_spots_are_named(scenario, make_points):
    places, incidents, grid = scenario
    _, _, x, y = PLACES["E"]
    rng = np.random.default_rng(5)
    r = 100 * np.sqrt(rng.uniform(0, 1, 40))
    a = rng.uniform(0, 2 * np.pi, 40)
    august = make_points(
        x + r * np.cos(a), y + r * np.sin(a), period=[pd.Period("2026-08", "M")] * 40
    )
    both = pd.concat([incidents, august], ignore_index=True)
    flags = flag_places_normal(places, both, grid, period="2026-09", min_incidents=1000)
    e = flags.set_index("id").loc["E"]
    assert e["trend"] == "Consecutive Hot Spot" and e["new_or_intensifying"]
    assert e["trend_since"] == "Aug"
    assert e["reason"].endswith("consecutive hot spot since Aug")


def test_reasons_are_rendered_from_their_figures(scenario):
    places, incidents, grid = scenario
    flags = flag_places_normal(places, incidents, grid, period="2026Q3")
    assert len(flags) >= 3
    for _, row in flags.iterrows():
        figures = figures_of(row)
        assert figures.flagged
        assert render_reason(figures) == row["reason"]
        assert figures.count_now == row["incidents"] and figures.radius_m == 200.0
    # shown counts (e.g. after disclosure control) replace the numbers, not the words
    first = figures_of(flags.iloc[0])
    hidden = render_reason(first, count_now="<5", count_before="<5")
    assert str(first.count_now) not in hidden.split(" within")[0] and hidden.startswith("<5 ")
    tiny = FlagFigures(3, 1, 200.0, "Sep 2026", trend="Consecutive Hot Spot", trend_since="Jul")
    assert not tiny.flagged and why_not_flagged(tiny) == ["few_incidents", "trend_too_few"]
    assert render_reason(tiny) == "3 incidents within 200 m in Sep 2026 (up from 1)"
