from __future__ import annotations

import warnings

import esda
import libpysal
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse, stats

from geo.grid import build_grid, contiguity
from geo.hotspots import (
    confidence_bins,
    fdr_adjust,
    gi_star,
    hotspot_cells,
    permutation_p,
    two_sided_p,
)
from geo.points import HotspotInputError, HotspotWarning

from .conftest import X0, Y0


def esda_z(grid, counts):
    w = libpysal.weights.WSP(sparse.csr_matrix(grid.adjacency)).to_W(silence_warnings=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = esda.G_Local(counts.astype(float), w, transform="B", star=True, permutations=0)
    return g.Zs


def clustered_counts(grid, rng):
    counts = rng.poisson(0.8, grid.n_cells).astype(float)
    counts[: grid.n_cells // 20] += rng.poisson(6, grid.n_cells // 20)
    return counts


@pytest.mark.parametrize("kind", ["bng", "h3"])
def test_gi_star_equals_esda(kind, triangle_area, box_area, rng):
    for area in (triangle_area, box_area):
        grid = build_grid(area, cell_size=250, kind=kind)
        counts = clustered_counts(grid, rng)
        np.testing.assert_allclose(
            gi_star(counts, contiguity(grid)), esda_z(grid, counts), rtol=0, atol=1e-9
        )


def test_gi_star_rows_are_periods(box_area, rng):
    grid = build_grid(box_area, cell_size=500)
    w = contiguity(grid)
    counts = rng.poisson(2.0, (4, grid.n_cells))
    z = gi_star(counts, w)
    for t in range(4):
        np.testing.assert_allclose(z[t], esda_z(grid, counts[t]), atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.integers(0, 50), min_size=9, max_size=9),
    st.floats(0.1, 100),
    st.floats(-100, 100),
)
def test_gi_star_is_unchanged_by_units_and_offsets(values, scale, shift):
    w = sparse.csr_array(np.kron(np.eye(3), np.ones((3, 3))))  # three blocks of three
    y = np.array(values, dtype=float)
    z = gi_star(y, w)
    if np.all(y == y[0]):
        assert np.isnan(z).all()
    else:
        np.testing.assert_allclose(gi_star(scale * y + shift, w), z, atol=1e-7)


def test_two_sided_p():
    np.testing.assert_allclose(two_sided_p(np.array([1.959963985, -2.575829304])), [0.05, 0.01])
    assert two_sided_p(np.array([np.nan]))[0] == 1.0


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.10])
def test_fdr_matches_scipy_and_esda(alpha, rng):
    p = np.concatenate((rng.uniform(0, 1e-5, 40), rng.uniform(0, 1, 2000)))
    q = fdr_adjust(p)
    np.testing.assert_allclose(q, stats.false_discovery_control(p, method="bh"))
    keep_esda = p < esda.fdr(p, alpha)
    assert keep_esda.sum() > 0
    assert np.array_equal(q <= alpha, keep_esda)


def test_fdr_per_period_axis(rng):
    p = rng.uniform(0, 1, (3, 50))
    q = fdr_adjust(p, axis=1)
    for t in range(3):
        np.testing.assert_allclose(q[t], stats.false_discovery_control(p[t]))


def test_confidence_bins_thresholds():
    z = np.array([4.0, 2.5, 1.8, 1.0, -4.0, -2.5, -1.8, 0.0])
    q = np.array([0.009, 0.049, 0.099, 0.2, 0.0001, 0.01, 0.0999, 1.0])
    assert confidence_bins(z, q).tolist() == [3, 2, 1, 0, -3, -2, -1, 0]
    assert confidence_bins(np.array([3.0]), np.array([0.01])).tolist() == [2]  # 0.01 is not < 0.01


def test_hotspot_cells_finds_a_planted_cluster(box_area, make_points, rng):
    grid = build_grid(box_area, cell_size=250)
    x = np.concatenate((rng.uniform(X0, X0 + 5000, 400), rng.normal(X0 + 2625, 120, 150)))
    y = np.concatenate((rng.uniform(Y0, Y0 + 5000, 400), rng.normal(Y0 + 2625, 120, 150)))
    x = np.append(x, X0 + 99_000)  # one far away
    y = np.append(y, Y0)
    cells = hotspot_cells(make_points(x, y), grid)
    assert cells.crs == "EPSG:4326"
    assert cells.columns.tolist() == [
        "cell_id",
        "count",
        "gi_z",
        "p",
        "q",
        "bin",
        "inside_share",
        "analysed",
        "geometry",
    ]
    assert len(cells) == 400
    assert cells.attrs["points_outside"] == 1
    assert cells["count"].sum() == 550
    centre = cells.set_index("cell_id").loc[f"BNG250m_{int(X0) + 2500}_{int(Y0) + 2500}"]
    assert centre["bin"] == 3
    hot = cells[cells["bin"] > 0]
    assert 1 <= len(hot) <= 40
    assert (hot["q"] < 0.10).all() and (hot["gi_z"] > 0).all()
    assert (cells["q"] >= cells["p"] - 1e-15).all()
    loose = hotspot_cells(make_points(x, y), grid, corrected=False)
    assert (loose["bin"] != 0).sum() >= (cells["bin"] != 0).sum()


def test_all_zero_counts_give_an_empty_result_with_a_warning(box_area, make_points):
    grid = build_grid(box_area, cell_size=500)
    with pytest.warns(HotspotWarning, match="No incidents fall inside"):
        cells = hotspot_cells(make_points(np.array([0.0]), np.array([0.0])), grid)
    assert (cells["bin"] == 0).all() and (cells["p"] == 1).all() and (cells["gi_z"] == 0).all()


def test_tiny_area_is_refused(make_points):
    import geopandas as gpd
    import shapely

    one = gpd.GeoSeries([shapely.box(X0, Y0, X0 + 250, Y0 + 250)], crs="EPSG:27700")
    with pytest.raises(HotspotInputError, match="only 1 cell"):
        hotspot_cells(make_points(np.array([X0 + 1]), np.array([Y0 + 1])), build_grid(one))


def test_permutation_p_agrees_with_analytic_on_a_strong_cluster(triangle_area, rng):
    grid = build_grid(triangle_area, cell_size=250)
    counts = rng.poisson(1.0, grid.n_cells).astype(float)
    w = contiguity(grid)
    centre = int(np.argmax(np.asarray(w.sum(axis=1)).ravel()))  # a cell with 8 neighbours
    counts[w[[centre], :].indices] += 8  # a cluster around it (its own count is held fixed)
    p = permutation_p(counts, w, permutations=999, seed=1)
    assert p.shape == (grid.n_cells,)
    assert ((p > 0) & (p <= 1)).all()
    assert p[centre] == pytest.approx(2 / 1000)
    again = permutation_p(counts, w, permutations=999, seed=1)
    assert np.array_equal(p, again)
    # the ranking of evidence agrees with the analytic p-values
    analytic = two_sided_p(gi_star(counts, w))
    assert stats.spearmanr(p, analytic).statistic > 0.7


def test_permutation_warns_that_many_cells_cannot_pass_fdr(box_area, make_points, rng):
    grid = build_grid(box_area, cell_size=250)  # 400 cells > 0.05 * 1000 / 2
    pts = make_points(rng.uniform(X0, X0 + 5000, 300), rng.uniform(Y0, Y0 + 5000, 300))
    with pytest.warns(HotspotWarning, match="no single cell"):
        cells = hotspot_cells(pts, grid, inference="permutation", permutations=99, seed=0)
    assert (cells["bin"] == 0).all()


def test_permutation_is_refused_for_big_grids():
    w = sparse.eye_array(10_000, format="csr")
    with pytest.raises(HotspotInputError, match="small areas"):
        permutation_p(np.arange(10_000.0), w)
