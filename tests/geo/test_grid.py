from __future__ import annotations

import geopandas as gpd
import h3
import libpysal
import numpy as np
import pytest
import shapely
from pyproj import Transformer

import geo.grid
from geo.grid import (
    area_geometry,
    build_grid,
    build_sparse_grid,
    cells_frame,
    contiguity,
    count_points,
    h3_resolution,
    locate_xy,
)
from geo.points import HotspotInputError

from .conftest import X0, Y0


def test_bng_squares_cover_an_aligned_square(box_area):
    grid = build_grid(box_area, cell_size=250)
    assert grid.n_cells == 400
    assert grid.interior.all()
    assert grid.cell_ids([0])[0] == f"BNG250m_{int(X0)}_{int(Y0)}"
    degree = np.asarray(grid.adjacency.sum(axis=1)).ravel()
    # queen contiguity: 4 corners with 3, 72 edge cells with 5, the rest with 8
    assert np.bincount(degree.astype(int)).tolist()[3:] == [4, 0, 72, 0, 0, 324]
    star = contiguity(grid)
    assert np.all(star.diagonal() == 1)
    assert (star != star.T).nnz == 0


def test_cells_clipped_to_the_area_are_kept_whole(triangle_area):
    grid = build_grid(triangle_area, cell_size=250)
    # 8 x 8 cells in the bounding box; the hypotenuse keeps the 36 below and on it,
    # but not the cells that only touch it at a corner.
    assert grid.n_cells == 36
    assert np.allclose(shapely.area(grid.polygons()), 250.0**2)
    assert grid.interior.sum() == 28  # the 8 on the diagonal are cut
    outside = ~shapely.intersects(grid.polygons(), triangle_area.iloc[0])
    assert not outside.any()


def test_neighbours_share_vertices_and_match_libpysal_queen(triangle_area):
    grid = build_grid(triangle_area, cell_size=250)
    frame = cells_frame(grid, {}, crs="EPSG:27700")
    queen = libpysal.weights.Queen.from_dataframe(frame, use_index=False, silence_warnings=True)
    theirs = queen.sparse.toarray()
    assert np.array_equal(grid.adjacency.toarray(), theirs)


def test_points_outside_the_area_are_not_counted(triangle_area):
    grid = build_grid(triangle_area, cell_size=250)
    # (a) inside, in a cut cell; (b) in the same cut cell but beyond the hypotenuse;
    # (c) far outside; (d) inside an interior cell.
    x = np.array([X0 + 1010, X0 + 1240, X0 + 9000, X0 + 10])
    y = np.array([Y0 + 760, Y0 + 990, Y0 + 10, Y0 + 10])
    cell = locate_xy(grid, x, y)
    assert cell[0] >= 0 and cell[1] == -1 and cell[2] == -1 and cell[3] >= 0
    assert grid.cell_ids([cell[3]])[0] == f"BNG250m_{int(X0)}_{int(Y0)}"
    assert count_points(grid, cell).sum() == 2


def test_count_points_per_period(box_area):
    grid = build_grid(box_area, cell_size=1000)
    cells = np.array([0, 0, 3, -1, 24])
    counts = count_points(grid, cells, periods=np.array([0, 1, 1, 0, 2]), n_periods=3)
    assert counts.shape == (3, 25)
    assert counts[:, 0].tolist() == [1, 1, 0]
    assert counts.sum() == 4


def test_h3_grid_neighbours_and_lookup_match_h3(box_area, rng):
    grid = build_grid(box_area, cell_size=250, kind="h3")
    assert grid.resolution == 9
    index = {c: i for i, c in enumerate(grid.cell_ids())}
    rows, cols = grid.adjacency.nonzero()
    for i in rng.choice(grid.n_cells, 40, replace=False):
        ring = {index[c] for c in h3.grid_ring(grid.cell_ids([i])[0], 1) if c in index}
        assert set(cols[rows == i].tolist()) == ring
    x = rng.uniform(X0, X0 + 5000, 2000)
    y = rng.uniform(Y0, Y0 + 5000, 2000)
    cell = locate_xy(grid, x, y)
    lon, lat = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True).transform(x, y)
    expected = [h3.latlng_to_cell(b, a, 9) for a, b in zip(lon, lat, strict=True)]
    assert (cell >= 0).all()
    assert grid.cell_ids(cell).tolist() == expected


def test_h3_hexagons_share_vertices(box_area):
    grid = build_grid(box_area, cell_size=500, kind="h3")
    frame = cells_frame(grid, {}, crs="EPSG:27700")
    queen = libpysal.weights.Queen.from_dataframe(frame, use_index=False, silence_warnings=True)
    assert np.array_equal(grid.adjacency.toarray(), queen.sparse.toarray())


def test_cells_frame_is_wgs84_for_display(box_area):
    grid = build_grid(box_area, cell_size=1000)
    frame = cells_frame(grid, {"count": np.arange(25)})
    assert frame.crs == "EPSG:4326"
    assert frame.columns.tolist() == ["cell_id", "count", "geometry"]
    assert frame.total_bounds[0] == pytest.approx(-2.15, abs=0.05)


def test_cells_frame_of_some_cells_is_those_rows_of_the_whole_frame(box_area):
    grid = build_grid(box_area, cell_size=1000)
    columns = {"count": np.arange(25) * 3, "name": [f"cell {i}" for i in range(25)]}
    whole = cells_frame(grid, columns)
    wanted = np.array([17, 2, 9])
    some = cells_frame(grid, columns, cells=wanted)
    expected = whole.iloc[wanted].reset_index(drop=True)
    assert some.index.tolist() == [0, 1, 2]
    assert some.drop(columns="geometry").equals(expected.drop(columns="geometry"))
    assert some.geometry.geom_equals_exact(expected.geometry, tolerance=0).all()
    # control: other cells are other rows
    other = cells_frame(grid, columns, cells=np.array([17, 2, 10]))
    assert not other.drop(columns="geometry").equals(expected.drop(columns="geometry"))


@pytest.mark.parametrize(("size", "res"), [(50, 11), (250, 9), (1000, 8), (3000, 7)])
def test_h3_resolution(size, res):
    assert h3_resolution(size) == res


def test_bad_areas_and_sizes():
    with pytest.raises(HotspotInputError, match="no coordinate reference system"):
        area_geometry(gpd.GeoSeries([shapely.box(0, 0, 1, 1)]))
    with pytest.raises(HotspotInputError, match="empty"):
        area_geometry(gpd.GeoSeries([shapely.Polygon()], crs="EPSG:27700"))
    with pytest.raises(HotspotInputError, match="empty"):
        area_geometry(gpd.GeoSeries([shapely.Point(1, 1)], crs="EPSG:27700"))
    square = gpd.GeoSeries([shapely.box(X0, Y0, X0 + 100, Y0 + 100)], crs="EPSG:27700")
    with pytest.raises(HotspotInputError, match="positive"):
        build_grid(square, cell_size=0)
    with pytest.raises(HotspotInputError, match="'bng' or 'h3'"):
        build_grid(square, kind="hex")  # type: ignore[arg-type]


def _squares_as_stored(
    area: gpd.GeoSeries, size: float, col: np.ndarray, row: np.ndarray
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Ids, polygons and interior flags of the squares that overlap the area, made as the
    grids stored them before they made them on demand (issue 21)."""
    x0, y0 = col * size, row * size
    boxes = shapely.box(x0, y0, x0 + size, y0 + size)
    shape = area.iloc[0]
    keep = shapely.area(shapely.intersection(boxes, shape)) > 1e-6 * size**2
    ids = [f"BNG{size:g}m_{int(a)}_{int(b)}" for a, b in zip(x0[keep], y0[keep], strict=True)]
    return ids, boxes[keep], shapely.contains(shape, boxes[keep])


def _same_polygons(got: np.ndarray, expected: np.ndarray) -> bool:
    return got.shape == expected.shape and bool(
        (shapely.to_wkb(got) == shapely.to_wkb(expected)).all()
    )


@pytest.mark.parametrize("size", [250.0, 333.3, 1000.0])
def test_squares_made_on_demand_are_the_squares_once_stored(triangle_area, size):
    grid = build_grid(triangle_area, cell_size=size)
    minx, miny, maxx, maxy = triangle_area.total_bounds
    cols = np.arange(np.floor(minx / size), np.ceil(maxx / size), dtype=np.int64)
    rows = np.arange(np.floor(miny / size), np.ceil(maxy / size), dtype=np.int64)
    row, col = (a.ravel() for a in np.meshgrid(rows, cols, indexing="ij"))
    ids, polygons, interior = _squares_as_stored(triangle_area, size, col, row)
    assert grid.cell_ids().tolist() == ids
    assert _same_polygons(grid.polygons(), polygons)  # to the bit
    assert np.array_equal(grid.interior, interior)
    some = np.array([5, 0, 3, 3]) % grid.n_cells
    assert _same_polygons(grid.polygons(some), polygons[some])
    assert grid.cell_ids(some).tolist() == [ids[i] for i in some]
    mask = np.arange(grid.n_cells) % 2 == 0
    assert _same_polygons(grid.polygons(mask), polygons[mask])
    assert grid.polygons([]).shape == (0,)
    # control: the same square drawn clockwise is equal, but not to the bit
    clockwise = shapely.box(*shapely.bounds(polygons[0]), ccw=False)
    assert shapely.equals(clockwise, polygons[0])
    assert not _same_polygons(grid.polygons([0]), np.array([clockwise], dtype=object))


@pytest.mark.parametrize("size", [250.0, 333.3])
def test_sparse_squares_made_on_demand_are_the_squares_once_stored(
    triangle_area, rng, monkeypatch, size
):
    x = rng.uniform(X0 - 500, X0 + 2500, 40)
    y = rng.uniform(Y0 - 500, Y0 + 2500, 40)
    monkeypatch.setattr(geo.grid, "_SLICE", 7)  # made and tested a few squares at a time
    grid = build_sparse_grid(triangle_area, x, y, cell_size=size)
    col, row = np.floor(x / size).astype(np.int64), np.floor(y / size).astype(np.int64)
    around = {
        (c + dc, r + dr)
        for c, r in zip(col, row, strict=True)
        for dc in (-1, 0, 1)
        for dr in (-1, 0, 1)
    }
    col, row = (np.array(a, dtype=np.int64) for a in zip(*sorted(around), strict=True))
    ids, polygons, interior = _squares_as_stored(triangle_area, size, col, row)
    assert grid.n_cells > 7 and grid.cell_ids().tolist() == ids
    assert _same_polygons(grid.polygons(), polygons)
    assert np.array_equal(grid.interior, interior)
    monkeypatch.setattr(geo.grid, "_SLICE", 10**9)  # all at once: the same grid
    whole = build_sparse_grid(triangle_area, x, y, cell_size=size)
    assert np.array_equal(whole.interior, grid.interior)
    assert (whole.adjacency != grid.adjacency).nnz == 0
    assert _same_polygons(whole.polygons(), grid.polygons())


def test_h3_polygons_are_the_cells_hexagons(box_area):
    grid = build_grid(box_area, cell_size=500, kind="h3")
    to_bng = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    hexagons = []
    for cell in grid.cell_ids():
        lat, lng = np.array(h3.cell_to_boundary(cell)).T
        hexagons.append(shapely.Polygon(np.column_stack(to_bng.transform(lng, lat))))
    assert _same_polygons(grid.polygons(), np.array(hexagons, dtype=object))
    assert _same_polygons(grid.polygons([2, 1]), np.array(hexagons[2:0:-1], dtype=object))


@pytest.mark.parametrize("kind", ["bng", "h3", "sparse"])
def test_find_gives_each_cell_back_from_its_id(triangle_area, kind):
    if kind == "sparse":
        xy = np.array([X0 + 100.0, X0 + 900.0])
        grid = build_sparse_grid(triangle_area, xy, xy[::-1], cell_size=250)
    else:
        grid = build_grid(triangle_area, cell_size=250, kind=kind)  # type: ignore[arg-type]
    ids = grid.cell_ids()
    assert [grid.find(c) for c in ids] == list(range(grid.n_cells))
    beyond = f"BNG250m_{int(X0) + 5000}_{int(Y0)}"
    for unknown in (beyond, "BNG500m_390000_310000", "BNG250m_390010_310000", "nonsense", ""):
        assert grid.find(unknown) == -1


@pytest.mark.parametrize("kind", ["bng", "h3", "sparse"])
def test_the_share_inside_measured_at_build_is_the_share_measured_later(triangle_area, rng, kind):
    """``Grid.share`` (measured while the grid is built) equals, to the bit, the share
    ``inside_share`` measures from the polygons of a grid without one. Control: the share
    inside another area differs, so the comparison can fail."""
    import dataclasses

    from geo.hotspots import inside_share

    if kind == "sparse":
        x, y = rng.uniform(X0 - 500, X0 + 2500, 60), rng.uniform(Y0 - 500, Y0 + 2500, 60)
        grid = build_sparse_grid(triangle_area, x, y, cell_size=250)
    else:
        grid = build_grid(triangle_area, cell_size=250 if kind == "bng" else 500, kind=kind)
    assert grid.share is not None and not grid.share.flags.writeable
    measured = inside_share(dataclasses.replace(grid, share=None))
    assert np.array_equal(grid.share, measured)
    edge = ~grid.interior
    assert edge.any() and (grid.share[edge] < 1).all() and (grid.share[grid.interior] == 1).all()
    smaller = shapely.affinity.scale(grid.area, 0.9, 0.9)
    other = inside_share(dataclasses.replace(grid, share=None, area=smaller))
    assert not np.array_equal(grid.share, other)


def test_sparse_squares_are_found_by_hash_as_by_binary_search(triangle_area, rng):
    """The hash look-up of a sparse grid's squares gives the binary search's positions,
    -1 for squares that are not cells. Control: keys one column over are other cells."""
    x, y = rng.uniform(X0 - 500, X0 + 2500, 80), rng.uniform(Y0 - 500, Y0 + 2500, 80)
    grid = build_sparse_grid(triangle_area, x, y, cell_size=250)
    col = np.floor(rng.uniform(X0 - 1500, X0 + 3500, 5000) / 250).astype(np.int64)
    row = np.floor(rng.uniform(Y0 - 1500, Y0 + 3500, 5000) / 250).astype(np.int64)
    found = geo.grid._square_cells(grid, col, row)
    expected = geo.grid._sparse_find(grid._bng_keys, geo.grid._square_key(col, row))
    assert found.dtype == np.int64 and np.array_equal(found, expected)
    assert (found >= 0).sum() > 100 and (found == -1).sum() > 100
    over = geo.grid._square_cells(grid, col + 1, row)
    assert not np.array_equal(over, expected)


def test_the_area_inside_each_cell_is_the_whole_outlines_intersection(rng):
    """``areas_inside`` cuts the area into 10 km squares first; each cell's area inside
    equals its intersection with the whole area to within rounding, for squares that lie
    in one 10 km square and for cells that cross their edges (hexagons, 300 m squares),
    and does not depend on the other cells asked for. Control: a crossing cell measured
    against its south-west 10 km square's piece alone loses area, so the fallback is needed
    and the comparison can see it."""
    from geo.grid import areas_inside

    t = geo.grid._TILE
    # a jagged area over four 10 km squares, with a hole
    ring = [
        (t * 0.3 + 9000 * np.cos(a), t * 0.4 + 7000 * np.sin(a)) for a in np.linspace(0, 6.2, 97)
    ]
    area = shapely.Polygon(
        [(x + t + rng.uniform(-400, 400), y + t) for x, y in ring],
        holes=[[(t * 1.3, t * 1.4), (t * 1.35, t * 1.4), (t * 1.35, t * 1.45)]],
    )
    col, row = np.divmod(np.arange(120 * 100), 100)
    squares = shapely.box(
        col * 250 + t * 0.8,
        row * 250 + t * 0.8,
        col * 250 + t * 0.8 + 250,
        row * 250 + t * 0.8 + 250,
    )
    ocol, orow = np.divmod(np.arange(80 * 80), 80)
    x0, y0 = ocol * 300 + t * 0.35, orow * 300 + t * 0.65
    odd = shapely.box(x0, y0, x0 + 300, y0 + 300)
    hexagons = shapely.buffer(
        shapely.points(rng.uniform(t * 0.3, t * 2.3, (600, 2))), 200, quad_segs=2
    )
    for cells in (squares, odd, hexagons):
        cut = shapely.intersects(cells, shapely.boundary(area))
        assert cut.sum() > 20  # cells the outline crosses are measured
        whole = shapely.area(shapely.intersection(cells, area))
        tiled = areas_inside(cells, area)
        assert np.allclose(tiled, whole, rtol=1e-9, atol=1e-6)
        order = rng.permutation(len(cells))[: len(cells) // 3]
        assert np.array_equal(areas_inside(cells[order], area), tiled[order])
    crossing = odd[
        (shapely.bounds(odd)[:, 0] // t != shapely.bounds(odd)[:, 2] // t)
        & shapely.intersects(odd, area)
    ]
    assert crossing.size
    sw = np.floor(shapely.bounds(crossing)[:, :2] / t) * t
    pieces = shapely.intersection(shapely.box(sw[:, 0], sw[:, 1], sw[:, 0] + t, sw[:, 1] + t), area)
    alone = shapely.area(shapely.intersection(crossing, pieces))
    assert (alone < areas_inside(crossing, area) - 1).any()
