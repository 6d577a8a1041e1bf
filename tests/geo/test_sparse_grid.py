"""The wide-scope grid: occupied squares and their neighbours, found by square index."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo.grid import build_grid, build_sparse_grid, locate_xy
from geo.points import HotspotInputError

# An L-shaped area with a bite out of it, so that edge cells and holes are exercised.
AREA = gpd.GeoSeries(
    [
        shapely.Polygon(
            [
                (390_000, 320_000),
                (396_000, 320_000),
                (396_000, 323_000),
                (393_130, 323_000),
                (393_130, 326_000),
                (390_000, 326_000),
            ]
        ).difference(shapely.box(391_000, 321_000, 391_600, 321_700))
    ],
    crs=27700,
)


def _points(seed: int, n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(389_500, 396_500, n), rng.uniform(319_500, 326_500, n)


@pytest.mark.parametrize("size", [250, 500])
@pytest.mark.parametrize("seed", [1, 2])
def test_sparse_cells_are_the_full_grids_cells_around_the_points(size, seed):
    x, y = _points(seed)
    full = build_grid(AREA, cell_size=size)
    sparse = build_sparse_grid(AREA, x, y, cell_size=size)
    full_index = {c: i for i, c in enumerate(full.cell_ids())}
    assert set(sparse.cell_ids()) <= set(full_index)
    assert sparse.n_cells < full.n_cells  # the control: empty land is left out
    # every point lands in the cell of the same id (or outside the area in both)
    got = locate_xy(sparse, x, y)
    want = locate_xy(full, x, y)
    assert (got >= 0).sum() > 10
    assert np.array_equal(got < 0, want < 0)
    assert list(sparse.cell_ids(got[got >= 0])) == list(full.cell_ids(want[want >= 0]))
    # the same polygons, interior flags and, between sparse cells, the same contiguity
    at = np.array([full_index[c] for c in sparse.cell_ids()])
    assert (shapely.to_wkb(sparse.polygons()) == shapely.to_wkb(full.polygons(at))).all()
    assert np.array_equal(sparse.interior, full.interior[at])
    restricted = full.adjacency[at][:, at].toarray()
    assert np.array_equal(sparse.adjacency.toarray(), restricted)
    # every neighbour (in the area) of an occupied cell is a cell
    occupied = np.unique(want[want >= 0])
    neighbours = np.unique(full.adjacency[occupied].indices)
    assert set(full.cell_ids(neighbours)) <= set(sparse.cell_ids())


def test_a_far_point_is_outside_the_sparse_grid_but_inside_the_full_one():
    x, y = np.array([390_100.0]), np.array([320_100.0])
    sparse = build_sparse_grid(AREA, x, y, cell_size=250)
    far = (np.array([395_900.0]), np.array([322_900.0]))
    assert locate_xy(sparse, *far)[0] == -1
    assert locate_xy(build_grid(AREA, cell_size=250), *far)[0] >= 0
    assert sparse.n_cells == 4  # the corner square and its three neighbours in the area


def test_no_point_near_the_area_gives_a_grid_without_cells():
    for x, y in ((np.array([100.0]), np.array([100.0])), (np.array([]), np.array([]))):
        grid = build_sparse_grid(AREA, x, y, cell_size=250)
        assert grid.n_cells == 0
        assert locate_xy(grid, np.array([392_000.0]), np.array([322_000.0]))[0] == -1
    with pytest.raises(HotspotInputError, match="cell size"):
        build_sparse_grid(AREA, np.array([392_000.0]), np.array([322_000.0]), cell_size=0)
