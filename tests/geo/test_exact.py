"""The exact randomisation null of Gi* against brute force and Monte Carlo permutations."""

from __future__ import annotations

import itertools
import math
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import sparse

from geo.grid import build_grid, contiguity, count_points, locate_xy
from geo.hotspots import (
    confidence_bins,
    exact_p,
    fdr_adjust,
    gi_star,
    gi_star_test,
    hotspot_cells,
    inside_share,
    neighbourhood_sum_pmf,
    two_sided_p,
)
from geo.points import HotspotInputError, HotspotWarning, read_points_csv

from .conftest import X0, Y0


def brute_force_p(counts: np.ndarray, w: sparse.csr_array) -> np.ndarray:
    """Two-sided p of every cell over every distinct arrangement of the counts."""
    n = counts.size
    nonzero = counts[counts > 0]
    obs = w @ counts
    ge = np.zeros(n)
    le = np.zeros(n)
    total = 0
    for where in itertools.permutations(range(n), nonzero.size):
        y = np.zeros(n)
        y[list(where)] = nonzero  # one arrangement of the multiset (zeros fill the rest)
        lag = w @ y
        ge += lag >= obs - 1e-9
        le += lag <= obs + 1e-9
        total += 1
    # arrangements that swap equal non-zero values are counted alike, so ratios are exact
    return np.minimum(1.0, 2.0 * np.minimum(ge, le) / total)


def line_weights(n: int) -> sparse.csr_array:
    return sparse.csr_array(np.eye(n) + np.eye(n, k=1) + np.eye(n, k=-1))


@pytest.mark.parametrize(
    "counts",
    [
        pytest.param([0, 0, 0, 2, 3, 2, 0, 0, 0], id="line-cluster"),
        pytest.param([5, 0, 0, 0, 1, 0, 0, 0, 0, 1], id="line-one-busy-cell"),
        pytest.param([1, 1, 1, 0, 0, 0, 4, 0], id="line-ties"),
    ],
)
def test_exact_p_equals_brute_force_on_a_line(counts):
    y = np.array(counts, dtype=float)
    w = line_weights(y.size)
    np.testing.assert_allclose(exact_p(y, w), brute_force_p(y, w), rtol=0, atol=1e-12)


def test_exact_p_equals_brute_force_on_a_small_square_grid():
    area = gpd.GeoSeries([shapely.box(X0, Y0, X0 + 1000, Y0 + 750)], crs="EPSG:27700")
    grid = build_grid(area, cell_size=250)  # 4 x 3 cells: corners 4, edges 6, inside 9
    assert grid.n_cells == 12
    w = contiguity(grid)
    assert set(np.asarray(w.sum(axis=1)).ravel().astype(int)) == {4, 6, 9}
    y = np.zeros(12)
    y[[0, 1, 4, 11]] = [3, 1, 2, 7]
    got = exact_p(y, w)
    want = brute_force_p(y, w)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    # the control: the normal curve is not this null (it would fail the same check)
    assert np.abs(two_sided_p(gi_star(y, w)) - want).max() > 0.05


def test_pmf_equals_enumeration_of_subsets():
    rng = np.random.default_rng(3)
    y = rng.poisson(0.8, 14)
    y[2] = 9
    sizes = [1, 4, 6, 9]
    pmf = neighbourhood_sum_pmf(y, sizes)
    for m in sizes:
        want = np.zeros(m * y.max() + 1)
        for subset in itertools.combinations(range(y.size), m):
            want[y[list(subset)].sum()] += 1
        want /= math.comb(y.size, m)
        np.testing.assert_allclose(pmf[m], want, rtol=0, atol=1e-13)


def test_exact_null_agrees_with_100000_monte_carlo_permutations(box_area):
    grid = build_grid(box_area, cell_size=250)  # 400 cells
    rng = np.random.default_rng(20261128)
    y = rng.poisson(0.15, grid.n_cells).astype(float)  # sparse, as a month of police data
    y[[41, 42, 61, 62, 210]] += [4, 3, 5, 2, 9]
    w = contiguity(grid)
    obs = w @ y
    draws = 100_000
    ge = np.zeros(grid.n_cells)
    le = np.zeros(grid.n_cells)
    for _ in range(draws // 5_000):  # 5,000 shuffles at a time bounds the memory
        shuffled = rng.permuted(np.tile(y, (5_000, 1)), axis=1)
        lag = (w @ shuffled.T).T
        ge += (lag >= obs - 1e-9).sum(axis=0)
        le += (lag <= obs + 1e-9).sum(axis=0)
    mc = np.minimum(1.0, 2.0 * np.minimum(ge, le) / draws)
    exact = exact_p(y, w)
    tail = np.maximum(exact / 2, 1e-5)  # the one-sided tail behind each two-sided p
    se = 2 * np.sqrt(tail * (1 - tail) / draws)
    assert np.all(np.abs(mc - exact) <= 5 * se), np.abs(mc - exact).max()
    small = exact < 0.01
    assert small.sum() >= 3  # the test reaches the tails, where the approximations differ
    # the control: normal p-values differ from the permutation null by far more
    normal = two_sided_p(gi_star(y, w))
    assert np.abs(normal - mc).max() > 0.05
    # and the most extreme cell is rare but not as rare as the normal curve says
    top = int(np.argmax(obs))
    assert normal[top] < exact[top] / 10


def test_exact_p_refuses_fractional_counts():
    with pytest.raises(HotspotInputError, match="whole, non-negative counts"):
        exact_p(np.array([0.5, 1, 2, 0]), line_weights(4))


def test_exact_is_the_default_and_normal_keeps_the_esda_numbers(box_area, make_points, rng):
    grid = build_grid(box_area, cell_size=250)
    x = np.concatenate((rng.uniform(X0, X0 + 5000, 60), rng.normal(X0 + 2625, 100, 12)))
    y = np.concatenate((rng.uniform(Y0, Y0 + 5000, 60), rng.normal(Y0 + 2625, 100, 12)))
    pts = make_points(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HotspotWarning)
        exact = hotspot_cells(pts, grid)
        normal = hotspot_cells(pts, grid, inference="normal")
        old_name = hotspot_cells(pts, grid, inference="analytic")
    assert exact.attrs["inference"] == "exact" and normal.attrs["inference"] == "normal"
    counts = count_points(grid, locate_xy(grid, x, y))
    z = gi_star(counts, contiguity(grid))
    np.testing.assert_allclose(normal["p"], two_sided_p(z), atol=1e-12)
    np.testing.assert_allclose(exact["p"], exact_p(counts, contiguity(grid)), atol=1e-12)
    pd.testing.assert_frame_equal(normal, old_name)
    assert (exact["bin"] > 0).sum() < (normal["bin"] > 0).sum()  # sparse: normal over-calls
    assert (exact["bin"] > 0).sum() >= 1  # the planted cluster is still found


def test_edge_cells_mostly_outside_are_left_out(make_points):
    disc = shapely.Point(X0 + 3000, Y0 + 3000).buffer(3100)
    grid = build_grid(gpd.GeoSeries([disc], crs="EPSG:27700"), cell_size=250)
    share = inside_share(grid)
    thin = int(np.argmin(share))
    assert share[thin] < 0.2 and share.max() == 1
    cx, cy = shapely.centroid(shapely.intersection(grid.polygons(thin), disc)).coords[0]
    pts = make_points(np.full(30, cx), np.full(30, cy))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HotspotWarning)
        cells = hotspot_cells(pts, grid)
        kept = hotspot_cells(pts, grid, min_share=0, corrected=False)
    assert ((cells["inside_share"] > 0) & (cells["inside_share"] <= 1)).all()
    left = cells.loc[~cells["analysed"]]
    assert set(left.index) == set(np.flatnonzero(share < 0.5))
    assert (left["bin"] == 0).all() and (left["p"] == 1).all()
    assert cells.attrs["points_edge"] == 30
    # the control: kept as a whole cell, the sliver with 30 incidents is a hot spot (at p)
    assert kept["analysed"].all() and kept.loc[thin, "bin"] > 0
    test = gi_star_test(np.arange(grid.n_cells) % 3, grid)
    assert test.analysed.sum() == int((share >= 0.5).sum())
    q = test.q()
    np.testing.assert_allclose(q[test.analysed], fdr_adjust(test.p[test.analysed]))
    assert (q[~test.analysed] == 1).all()


def test_cell_size_advice_and_coverage_warning(box_area, make_points, rng):
    grid = build_grid(box_area, cell_size=250)
    few = make_points(rng.uniform(X0, X0 + 500, 20), rng.uniform(Y0, Y0 + 500, 20))
    with pytest.warns(HotspotWarning) as caught:
        cells = hotspot_cells(few, grid)
    text = " ".join(str(w.message) for w in caught)
    assert "Try cells of about" in text and "cover about" in text
    advice = cells.attrs["advice"]
    assert advice.too_small and advice.suggested > 250
    assert advice.expected == pytest.approx(20 / 400 * advice.neighbourhood)
    assert cells.attrs["coverage"] < 0.2
    many = make_points(rng.uniform(X0, X0 + 5000, 4000), rng.uniform(Y0, Y0 + 5000, 4000))
    with warnings.catch_warnings():
        warnings.simplefilter("error", HotspotWarning)  # the control: no warning here
        cells = hotspot_cells(many, grid)
    assert not cells.attrs["advice"].too_small and cells.attrs["coverage"] > 0.9


def _reference_p(counts: np.ndarray, w: sparse.csr_array) -> np.ndarray:
    """An independent exact reference: a dynamic programme over the distinct counts."""
    y = counts.astype(np.int64)
    card = np.asarray(w.sum(axis=1)).ravel().astype(int)
    values, mult = np.unique(y, return_counts=True)
    big, top = card.max(), int(y.max())
    table = np.zeros((big + 1, big * top + 1))  # ways (scaled) to draw j cells summing to s
    table[0, 0] = 1.0
    for v, c in zip(values, mult, strict=True):
        new = table.copy()
        for k in range(1, min(c, big) + 1):
            ways = math.comb(int(c), k)
            shift = k * int(v)
            new[k:, shift:] += ways * table[: big + 1 - k, : table.shape[1] - shift]
        table = new
    obs = np.rint(w @ y).astype(int)
    p = np.ones(y.size)
    for m in np.unique(card):
        pmf = table[m] / math.comb(y.size, int(m))
        upper = np.cumsum(pmf[::-1])[::-1]
        lower = np.cumsum(pmf)
        cells = card == m
        p[cells] = np.minimum(1, 2 * np.minimum(upper[obs[cells]], lower[obs[cells]]))
    return p


@pytest.mark.realdata
def test_police_month_hot_cells_exact_against_reference_and_normal(shared_data):
    street = shared_data / "policeuk_2021-08_staffordshire_street.csv"
    boundary = shared_data / "ons_lad_may2023_buc_staffordshire.geojson"
    if not street.is_file() or not boundary.is_file():
        pytest.skip("the Staffordshire police.uk month or boundaries are absent")
    points = read_points_csv(street)
    grid = build_grid(gpd.read_file(boundary), cell_size=250)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HotspotWarning)
        exact = hotspot_cells(points, grid, min_share=0)
        normal = hotspot_cells(points, grid, inference="normal", min_share=0)
        edges_out = hotspot_cells(points, grid)
    hot_exact = int(((exact["q"] < 0.05) & (exact["gi_z"] > 0)).sum())
    hot_normal = int(((normal["q"] < 0.05) & (normal["gi_z"] > 0)).sum())
    reference_count = 87  # issue 16: the exact randomisation count on this file at 250 m
    assert abs(hot_exact - reference_count) <= 0.2 * reference_count, hot_exact
    assert hot_normal > 10 * hot_exact, (hot_normal, hot_exact)
    # and the p-values themselves equal an independent dynamic-programme reference
    counts = exact["count"].to_numpy()
    w = contiguity(grid)
    np.testing.assert_allclose(exact["p"], _reference_p(counts, w), rtol=1e-6, atol=1e-10)
    hot_edges_out = int(((edges_out["q"] < 0.05) & (edges_out["gi_z"] > 0)).sum())
    assert abs(hot_edges_out - hot_exact) <= 0.2 * hot_exact
    assert confidence_bins(exact["gi_z"], exact["q"]).max() == 3
