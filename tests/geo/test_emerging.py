from __future__ import annotations

import numpy as np
import pandas as pd
import pymannkendall as pmk
import pytest
from scipy import stats

from geo.emerging import (
    ESRI_CATEGORIES,
    SIMPLE_CATEGORIES,
    classify_emerging,
    classify_simple,
    emerging_cells,
    emerging_from_counts,
    emerging_hotspots,
    mann_kendall,
    period_series,
)
from geo.grid import build_grid, contiguity
from geo.hotspots import gi_star, gi_star_test
from geo.points import HotspotInputError, HotspotWarning
from store.sites import as_points, month_counts

from .conftest import X0, Y0

RISING, FALLING, FLAT = (0.8, 0.001), (-0.8, 0.001), (0.1, 0.6)

# (label, series over 10 periods: H hot, C cold, . neither; trend (tau, p))
CASES = [
    ("New Hot Spot", ".........H", FLAT),
    ("Consecutive Hot Spot", ".......HHH", RISING),
    ("Intensifying Hot Spot", "HHHHHHHHHH", RISING),
    ("Persistent Hot Spot", "HHHHHHHHHH", FLAT),
    ("Persistent Hot Spot", ".HHHHHHHHH", FLAT),  # 9 of 10 is 90 per cent
    ("Diminishing Hot Spot", "HHHHHHHHHH", FALLING),
    ("Sporadic Hot Spot", "H..H...H.H", FLAT),
    ("Sporadic Hot Spot", "H......HHH", FLAT),  # hot before its final run
    ("Oscillating Hot Spot", "C...H...HH", FLAT),
    ("Oscillating Hot Spot", "C........H", FLAT),  # cold before: not new
    ("Historical Hot Spot", "HHHHHHHHH.", FLAT),
    ("New Cold Spot", ".........C", FLAT),
    ("Consecutive Cold Spot", "........CC", FALLING),
    ("Intensifying Cold Spot", "CCCCCCCCCC", FALLING),
    ("Persistent Cold Spot", "CCCCCCCCCC", FLAT),
    ("Diminishing Cold Spot", "CCCCCCCCCC", RISING),
    ("Sporadic Cold Spot", ".C.C....CC", FLAT),
    ("Oscillating Cold Spot", "HHH....C.C", FLAT),
    ("Oscillating Cold Spot", "HHHHHHHHHC", FLAT),  # final cold outranks historical hot
    ("Historical Cold Spot", "CCCCCCCCC.", FLAT),
    ("No Pattern Detected", "..........", FLAT),
    ("No Pattern Detected", "HHH.......", FALLING),
    ("No Pattern Detected", "HHHHHHHH..", FLAT),  # 80 per cent and not hot now
    ("No Pattern Detected", "C.H.C.H.C.", FLAT),
]


def _matrices(series):
    hot = np.array([[c == "H" for c in s] for s in series])
    cold = np.array([[c == "C" for c in s] for s in series])
    return hot, cold


@pytest.mark.parametrize(("label", "series", "trend"), CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_each_esri_category_on_a_hand_made_series(label, series, trend):
    hot, cold = _matrices([series])
    got = classify_emerging(hot, cold, np.array([trend[0]]), np.array([trend[1]]))
    assert got.tolist() == [label]


def test_every_esri_category_is_pinned():
    assert {c[0] for c in CASES} == set(ESRI_CATEGORIES)
    assert len(ESRI_CATEGORIES) == 17


def test_classify_emerging_is_vectorised_over_cells():
    hot, cold = _matrices([c[1] for c in CASES])
    tau = np.array([c[2][0] for c in CASES])
    p = np.array([c[2][1] for c in CASES])
    assert classify_emerging(hot, cold, tau, p).tolist() == [c[0] for c in CASES]


SIMPLE = [
    ("Persistent", "HHHHHHHHHH", FLAT),
    ("Persistent", ".HHHHHHHHH", FALLING),
    ("Emerging", ".......HHH", FLAT),
    ("Emerging", ".........H", FLAT),
    ("Emerging", "H...H...HH", RISING),
    ("Intermittent", "H...H...HH", FLAT),
    ("Former", "HHHHHHHHH.", FLAT),
    ("Former", "HHH.......", FLAT),  # nothing in the later half
    ("Former", ".....H.H..", FALLING),
    ("Intermittent", ".....H.H..", FLAT),
    ("Not a hot spot", "CCCC......", FLAT),
]


@pytest.mark.parametrize(
    ("label", "series", "trend"), SIMPLE, ids=[f"{c[0]}:{c[1]}" for c in SIMPLE]
)
def test_each_simple_category(label, series, trend):
    hot, _ = _matrices([series])
    got = classify_simple(hot, np.array([trend[0]]), np.array([trend[1]]))
    assert got.tolist() == [label]
    assert label in SIMPLE_CATEGORIES


@pytest.mark.parametrize("n", [2, 3, 10, 24])
def test_mann_kendall_matches_pymannkendall(n, rng):
    x = np.round(rng.normal(size=(60, n)) + np.linspace(0, 2, n), 1)  # rounding makes ties
    x[0] = 1.0  # all tied
    x[1] = np.arange(n)  # perfect trend
    tau, p, z = mann_kendall(x)
    for i in range(60):
        ref = pmk.original_test(x[i])
        assert tau[i] == pytest.approx(ref.Tau, abs=1e-12)
        assert p[i] == pytest.approx(ref.p, abs=1e-12)
        assert z[i] == pytest.approx(ref.z, abs=1e-12)


def test_mann_kendall_a_block_at_a_time_gives_every_series_its_own_answer(rng, monkeypatch):
    """Many series are tested in blocks (``_MK_ROWS``); the answers are those of all at
    once, in the same order. Control: the last block's rows swapped for the first's differ."""
    import geo.emerging

    x = np.round(rng.normal(size=(50, 12)) + np.linspace(0, 2, 12), 1)
    x[3::7] = 0.0  # no variation
    whole = mann_kendall(x)
    monkeypatch.setattr(geo.emerging, "_MK_ROWS", 7)
    blocks = mann_kendall(x)
    for a, b in zip(whole, blocks, strict=True):
        assert np.array_equal(a, b)
    swapped = mann_kendall(np.concatenate([x[-1:], x[1:-1], x[:1]]))
    assert not np.array_equal(swapped[0], whole[0])


def test_period_series_fills_gaps():
    index, pos = period_series(pd.Series(["2024-11", "2025-02", "2024-11"]))
    assert [str(p) for p in index] == ["2024-11", "2024-12", "2025-01", "2025-02"]
    assert pos.tolist() == [0, 3, 0]
    qindex, qpos = period_series(pd.Series(["2024-11", "2025-02"]), freq="quarter")
    assert [str(p) for p in qindex] == ["2024Q4", "2025Q1"] and qpos.tolist() == [0, 1]


def _monthly_points(make_points, rng, months=12):
    frames = []
    for t, month in enumerate(pd.period_range("2025-01", periods=months, freq="M")):
        n_bg = 400
        x = [rng.uniform(X0, X0 + 5000, n_bg), rng.normal(X0 + 1125, 60, 30)]
        y = [rng.uniform(Y0, Y0 + 5000, n_bg), rng.normal(Y0 + 1125, 60, 30)]
        if t == months - 1:
            x.append(rng.normal(X0 + 3875, 60, 30))
            y.append(rng.normal(Y0 + 3875, 60, 30))
        xs, ys = np.concatenate(x), np.concatenate(y)
        frames.append(make_points(xs, ys, period=[month] * xs.size))
    return pd.concat(frames, ignore_index=True)


def test_emerging_hotspots_on_a_planted_series(box_area, make_points, rng):
    grid = build_grid(box_area, cell_size=250)
    pts = _monthly_points(make_points, rng)
    result = emerging_hotspots(pts, grid, p_values="normal")  # esda-compatible numbers
    assert len(result.periods) == 12 and result.counts.shape == (12, 400)
    ids = grid.cell_ids().tolist()
    a = ids.index(f"BNG250m_{int(X0) + 1000}_{int(Y0) + 1000}")
    b = ids.index(f"BNG250m_{int(X0) + 3750}_{int(Y0) + 3750}")
    assert result.category[a] == "Persistent Hot Spot"
    assert result.simple_category[a] == "Persistent"
    assert result.category[b] == "New Hot Spot"
    assert result.simple_category[b] == "Emerging"
    assert set(result.category) <= set(ESRI_CATEGORIES)
    # per period: Gi* as gi_star, FDR within the period, MK on the z series
    w = contiguity(grid)
    np.testing.assert_allclose(result.z[5], gi_star(result.counts[5], w), atol=1e-12)
    np.testing.assert_allclose(
        result.q[5], stats.false_discovery_control(2 * stats.norm.sf(np.abs(result.z[5])))
    )
    ref = pmk.original_test(result.z[:, a])
    assert result.mk_tau[a] == pytest.approx(ref.Tau) and result.mk_p[a] == pytest.approx(ref.p)
    cells = emerging_cells(result, grid)
    assert cells.crs == "EPSG:4326" and len(cells) == 400
    assert cells.columns[:5].tolist() == [
        "cell_id",
        "category",
        "simple_category",
        "mk_tau",
        "mk_p",
    ]


def test_a_single_period_is_refused(box_area, make_points):
    grid = build_grid(box_area, cell_size=500)
    pts = make_points(
        np.array([X0 + 10, X0 + 20]), np.array([Y0 + 10, Y0 + 20]), period=["2025-01"] * 2
    )
    with pytest.raises(HotspotInputError, match="one month"):
        emerging_hotspots(pts, grid)


def test_missing_period_column_is_refused(box_area, make_points):
    grid = build_grid(box_area, cell_size=500)
    with pytest.raises(HotspotInputError, match="'period' column"):
        emerging_hotspots(make_points(np.array([X0]), np.array([Y0])), grid)


@pytest.mark.filterwarnings("ignore:Only 2 periods")
def test_no_incidents_in_the_area_gives_no_pattern_with_a_warning(box_area, make_points):
    grid = build_grid(box_area, cell_size=500)
    pts = make_points(np.array([0.0, 0.0]), np.array([0.0, 0.0]), period=["2025-01", "2025-02"])
    with pytest.warns(HotspotWarning, match="No incidents fall inside"):
        result = emerging_hotspots(pts, grid)
    assert set(result.category) == {"No Pattern Detected"}
    assert result.points_outside == 2


def test_window_counts_only_its_periods(box_area, make_points):
    grid = build_grid(box_area, cell_size=500)
    pts = make_points(
        np.full(3, X0 + 10.0), np.full(3, Y0 + 10.0), period=["2025-01", "2025-03", "2025-05"]
    )
    window = pd.period_range("2025-02", "2025-05", freq="M")
    with pytest.warns(HotspotWarning):
        result = emerging_hotspots(pts, grid, window=window)
    assert result.counts.sum(axis=1).tolist() == [0, 1, 0, 1]


# Honest trends: counts must agree, empty cells have no pattern ---------------------------


def test_intensifying_needs_the_counts_to_rise_too():
    hot = np.ones((2, 10), dtype=bool)
    cold = np.zeros_like(hot)
    tau, p = np.array([0.8, 0.8]), np.array([0.001, 0.001])  # both z series rise
    count_tau, count_p = np.array([0.7, 0.0]), np.array([0.002, 1.0])  # only one's counts do
    got = classify_emerging(hot, cold, tau, p, count_tau=count_tau, count_p=count_p)
    assert got.tolist() == ["Intensifying Hot Spot", "Persistent Hot Spot"]
    # the control: on z alone both would be called intensifying
    assert classify_emerging(hot, cold, tau, p).tolist() == ["Intensifying Hot Spot"] * 2
    falling = classify_emerging(hot, cold, -tau, p, count_tau=-count_tau, count_p=count_p)
    assert falling.tolist() == ["Diminishing Hot Spot", "Persistent Hot Spot"]
    simple = classify_simple(
        np.array([[0, 0, 0, 1] * 1]).astype(bool).repeat(2, axis=0),
        tau,
        p,
        count_tau=count_tau,
        count_p=count_p,
        active=np.array([True, False]),
    )
    assert simple.tolist() == ["Emerging", "Not a hot spot"]


def test_a_cell_with_no_incident_has_no_pattern(box_area):
    grid = build_grid(box_area, cell_size=250)
    w = contiguity(grid)
    ids = grid.cell_ids().tolist()
    centre = ids.index(f"BNG250m_{int(X0) + 2500}_{int(Y0) + 2500}")
    ring = [j for j in w[[centre], :].indices if j != centre]
    rng = np.random.default_rng(7)
    counts = rng.poisson(0.3, (12, grid.n_cells)).astype(float)
    counts[:, centre] = 0  # an empty cell ...
    counts[:, ring] += np.arange(12)[:, None] + 6  # ... among busy, growing neighbours
    result = emerging_from_counts(counts, grid, pd.period_range("2025-01", periods=12, freq="M"))
    assert result.hot[:, centre].sum() >= 6  # its neighbourhood is hot (Gi* includes them)
    assert result.category[centre] == "No Pattern Detected"
    assert result.simple_category[centre] == "Not a hot spot"
    busy = ring[0]
    assert result.category[busy] != "No Pattern Detected"  # the control
    # the z-only rule would have labelled the empty cell
    z_only = classify_emerging(result.hot.T, result.cold.T, result.mk_tau, result.mk_p)
    assert z_only[centre] != "No Pattern Detected"
    assert result.count_tau is not None and result.count_tau[centre] == 0


def test_exact_is_the_default_and_fdr_over_the_cube_is_stricter(box_area, make_points, rng):
    grid = build_grid(box_area, cell_size=250)
    pts = _monthly_points(make_points, rng)
    step = emerging_hotspots(pts, grid)
    cube = emerging_hotspots(pts, grid, fdr="cube")
    normal = emerging_hotspots(pts, grid, p_values="normal")
    assert cube.hot.sum() <= step.hot.sum() <= normal.hot.sum()
    assert step.hot.sum() < normal.hot.sum()  # sparse months: the normal curve over-calls
    keep = step.analysed
    p_all = gi_star_test(step.counts, grid).p
    np.testing.assert_allclose(
        cube.q[:, keep].ravel(), stats.false_discovery_control(p_all[:, keep].ravel())
    )
    with pytest.raises(HotspotInputError, match="FDR family"):
        emerging_hotspots(pts, grid, fdr="month")


def test_space_time_neighbourhood_is_gi_star_over_two_periods(box_area):
    from scipy import sparse

    from geo.hotspots import exact_p, space_time_test

    grid = build_grid(box_area, cell_size=500)  # 100 cells, all inside
    rng = np.random.default_rng(11)
    counts = rng.poisson(0.8, (3, grid.n_cells)).astype(float)
    counts[1:, 44] += 6
    w = contiguity(grid)
    block = sparse.csr_array(sparse.block_array([[w, w], [w, w]]))
    n = grid.n_cells
    for kind in ("exact", "normal"):
        test = space_time_test(counts, grid, p_values=kind)
        for t in (1, 2):
            values = np.concatenate((counts[t - 1], counts[t]))
            np.testing.assert_allclose(test.z[t], gi_star(values, block)[n:], atol=1e-12)
            if kind == "exact":
                np.testing.assert_allclose(test.p[t], exact_p(values, block)[n:], atol=1e-12)
        np.testing.assert_allclose(test.z[0], gi_star(counts[0], w), atol=1e-12)
    result = emerging_from_counts(
        counts, grid, pd.period_range("2025-01", periods=3, freq="M"), neighbourhood="space-time"
    )
    assert result.z.shape == counts.shape
    with pytest.raises(HotspotInputError, match="neighbourhood"):
        emerging_from_counts(counts, grid, result.periods, neighbourhood="time")


def _site_counts(rng: np.random.Generator, n: int = 6000) -> pd.DataFrame:
    """Spots with counts over 15 months, a cluster growing in the last ones, some unlocated
    and some outside the 5 km box."""
    months = pd.period_range("2024-11", "2026-01", freq="M").astype(str)
    month = rng.choice(months, n)
    late = month >= "2025-09"
    easting = np.where(late & (rng.random(n) < 0.4), X0 + 2600, X0 + rng.uniform(-400, 5400, n))
    northing = np.where(late & (easting == X0 + 2600), Y0 + 2600, Y0 + rng.uniform(-400, 5400, n))
    easting[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "month": month,
            "category": "CCE",
            "easting": easting + rng.uniform(0, 200, n),
            "northing": northing + rng.uniform(0, 200, n),
            "n": rng.integers(1, 5, n),
        }
    )


def test_counts_from_site_rows_are_the_counts_of_their_points(box_area, rng):
    """``month_counts`` gives emerging hot spots what the points of the same spots give."""
    sites = _site_counts(rng)
    grid = build_grid(box_area, cell_size=250)
    window = pd.period_range("2025-02", "2026-01", freq="M")
    via_points = emerging_hotspots(as_points(sites), grid, window=window, weight_column="n")
    counts = month_counts(sites, grid, window)
    via_counts = emerging_from_counts(counts, grid, window)
    np.testing.assert_array_equal(counts, via_points.counts)
    np.testing.assert_array_equal(via_counts.z, via_points.z)
    assert (via_counts.category == via_points.category).all()
    assert (via_counts.simple_category != "No Pattern Detected").any()
    inside = sites["easting"].between(X0, X0 + 5000) & sites["northing"].between(Y0, Y0 + 5000)
    assert counts.sum() == sites.loc[inside & (sites["month"] >= "2025-02"), "n"].sum()
    # control: a window a month earlier counts other months
    earlier = month_counts(sites, grid, window - 1)
    assert not np.array_equal(earlier, via_points.counts)
