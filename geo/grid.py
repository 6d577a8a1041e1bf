"""Analysis grids: British National Grid squares or H3 hexagons over an area.

Works in British National Grid (EPSG:27700). A :class:`Grid` holds every cell
that overlaps the area (with a positive area of overlap), each as its whole
square or hexagon so that neighbouring cells share vertices, and the binary
contiguity between them. Incidents are counted only where they fall inside the
area itself, so that the part of a border cell outside the area adds nothing,
and cells that lie wholly outside the area (empty moorland beyond the
boundary) are not in the grid at all and cannot dilute the statistics. Cells
inside the area with no incidents are kept: their zero counts matter.

BNG squares are aligned with the national grid (a 250 m grid has corners at
multiples of 250 m of easting and northing). H3 cells use the resolution whose
average cell area is closest (in ratio) to that of a square of the cell size:
250 m and 500 m give resolution 9 (about 0.105 km², 200 m edges), 1000 m gives
resolution 8.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy import sparse

from geo.points import BNG, WGS84, HotspotInputError

__all__ = [
    "DEFAULT_CELL_SIZE",
    "Grid",
    "GridKind",
    "area_geometry",
    "areas_inside",
    "build_grid",
    "build_sparse_grid",
    "cells_frame",
    "contiguity",
    "count_points",
    "h3_resolution",
    "locate_xy",
]

GridKind = Literal["bng", "h3"]
"""``"bng"`` for British National Grid squares, ``"h3"`` for H3 hexagons."""

DEFAULT_CELL_SIZE = 250.0
"""Default cell size in metres."""

_TO_WGS84 = Transformer.from_crs(BNG, WGS84, always_xy=True)
_TO_BNG = Transformer.from_crs(WGS84, BNG, always_xy=True)


@dataclass(frozen=True, eq=False)
class Grid:
    """Cells over an area, in British National Grid (EPSG:27700).

    Build one with :func:`build_grid` or :func:`build_sparse_grid`; the fields are
    read-only. A square's polygon and id follow from its position on the national grid,
    so they are made on demand for the cells asked for (:meth:`polygons`,
    :meth:`cell_ids`): all England's 250 m grid has about a million cells, of which a
    few hundred are drawn, and a million stored polygons and ids would hold about half
    a gigabyte (issue 21). H3 cells keep theirs.

    Attributes
    ----------
    kind
        ``"bng"`` or ``"h3"``.
    cell_size
        The requested cell size in metres.
    interior
        True where the cell lies wholly inside the area.
    adjacency
        Binary contiguity without self-links (queen for squares: up to 8
        neighbours; H3 ring 1: up to 6), symmetric, CSR.
    area
        The area as one (Multi)Polygon in EPSG:27700.
    resolution
        The H3 resolution, or None for squares.
    share
        The share of each cell's area inside ``area``, measured when the grid was built
        (1 for interior cells), or None when not measured.
    """

    kind: GridKind
    cell_size: float
    interior: np.ndarray
    adjacency: sparse.csr_array
    area: shapely.Geometry
    resolution: int | None = None
    share: np.ndarray | None = None
    _bng_origin: tuple[int, int] = (0, 0)
    _bng_lookup: np.ndarray = field(default_factory=lambda: np.empty((0, 0), dtype=np.int64))
    _bng_at: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    _bng_keys: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    _h3_ids: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))
    _h3_polygons: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))
    _h3_index: dict[str, int] = field(default_factory=dict)

    @property
    def n_cells(self) -> int:
        """The number of cells."""
        return int(self.interior.size)

    def polygons(self, rows: np.ndarray | Sequence[int] | None = None) -> np.ndarray:
        """Return whole cells as shapely polygons in EPSG:27700.

        Parameters
        ----------
        rows
            Cell indexes (or a boolean mask over the cells), in the order wanted; every
            cell when None. Squares are made for these rows only.

        Returns
        -------
        numpy.ndarray
            Object array of polygons, one per row; a square's polygon is the same
            (to the bit) each time it is asked for.
        """
        index = self._rows(rows)
        if self.kind == "h3":
            return self._h3_polygons[index]
        col, row = self._squares(index)
        return _square_polygons(col, row, self.cell_size)

    def cell_ids(self, rows: np.ndarray | Sequence[int] | None = None) -> np.ndarray:
        """Return the cells' ids.

        Parameters
        ----------
        rows
            Cell indexes (or a boolean mask over the cells), in the order wanted; every
            cell when None.

        Returns
        -------
        numpy.ndarray
            Object array of str, one per row: ``"BNG250m_394000_308250"`` (size,
            easting and northing of the south-west corner) or the H3 index.
        """
        index = self._rows(rows)
        if self.kind == "h3":
            return self._h3_ids[index]
        col, row = self._squares(index)
        return _bng_cell_ids(self.cell_size, col * self.cell_size, row * self.cell_size)

    def find(self, cell_id: str) -> int:
        """Return the index of the cell with this id, or -1 when it is not on the grid.

        Parameters
        ----------
        cell_id
            An id as :meth:`cell_ids` gives.

        Returns
        -------
        int
            The cell index, or -1.
        """
        if self.kind == "h3":
            return self._h3_index.get(cell_id, -1)
        prefix = f"BNG{self.cell_size:g}m_"
        corner = cell_id.removeprefix(prefix).split("_")
        if not cell_id.startswith(prefix) or len(corner) != 2:
            return -1
        try:
            x0, y0 = (int(c) for c in corner)
        except ValueError:
            return -1
        # ids truncate the corner to whole metres: look up the square's centre instead
        col = np.floor(np.array([x0]) / self.cell_size + 0.5).astype(np.int64)
        row = np.floor(np.array([y0]) / self.cell_size + 0.5).astype(np.int64)
        cell = int(_square_cells(self, col, row)[0])
        return cell if cell >= 0 and self.cell_ids([cell])[0] == cell_id else -1

    def _rows(self, rows: np.ndarray | Sequence[int] | None) -> np.ndarray:
        if rows is None:
            return np.arange(self.n_cells)
        index = np.asarray(rows)
        return np.flatnonzero(index) if index.dtype == bool else index.astype(np.int64)

    def _squares(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the national-grid column and row of these cells (squares only)."""
        if self._bng_lookup.size:
            row, col = np.divmod(self._bng_at[index], self._bng_lookup.shape[1])
            return col + self._bng_origin[0], row + self._bng_origin[1]
        col, row = np.divmod(self._bng_keys[index], _KEY_SHIFT)
        return col, row

    def __repr__(self) -> str:
        return f"Grid(kind={self.kind!r}, cell_size={self.cell_size:g}, n_cells={self.n_cells})"


def area_geometry(area: gpd.GeoDataFrame | gpd.GeoSeries) -> shapely.Geometry:
    """Return the union of an area's polygons in British National Grid.

    Parameters
    ----------
    area
        District boundaries or any polygons; they must state a CRS and are
        reprojected to EPSG:27700.

    Returns
    -------
    shapely.Geometry
        One valid (Multi)Polygon.

    Raises
    ------
    HotspotInputError
        When the area has no CRS, no polygons, or covers no ground.
    """
    geoms = area.geometry if isinstance(area, gpd.GeoDataFrame) else area
    if geoms.crs is None:
        raise HotspotInputError(
            "The area boundaries have no coordinate reference system (CRS); set one, "
            "e.g. area.set_crs('EPSG:27700')."
        )
    geoms = geoms.to_crs(BNG)
    arr = np.asarray(geoms.array, dtype=object)
    arr = arr[~(shapely.is_missing(arr) | shapely.is_empty(arr))]
    arr = arr[np.isin(shapely.get_type_id(arr), (3, 6))]
    if arr.size == 0:
        raise HotspotInputError("The area is empty: it holds no polygons to analyse.")
    union = shapely.union_all(shapely.make_valid(arr))
    union = shapely.union_all(
        [g for g in shapely.get_parts(union) if shapely.get_type_id(g) in (3, 6)]
    )
    if union.is_empty or union.area <= 0:
        raise HotspotInputError("The area is empty: its polygons cover no ground.")
    return union


def h3_resolution(cell_size: float) -> int:
    """Return the H3 resolution whose average cell area best matches a square of this size.

    Parameters
    ----------
    cell_size
        Side of the equivalent square, in metres.

    Returns
    -------
    int
        H3 resolution between 0 and 15.

    Examples
    --------
    >>> h3_resolution(250), h3_resolution(500), h3_resolution(1000)
    (9, 9, 8)
    """
    areas = np.array([h3.average_hexagon_area(r, "m^2") for r in range(16)])
    return int(np.argmin(np.abs(np.log(areas) - 2 * np.log(cell_size))))


def _check_size(cell_size: float) -> float:
    size = float(cell_size)
    if not np.isfinite(size) or size <= 0:
        raise HotspotInputError(f"The cell size must be a positive number of metres, not {size}.")
    return size


def _outline(area: shapely.Geometry) -> shapely.STRtree | None:
    """Return an R-tree of the segments of the area's outline, or None when it has none."""
    parts = shapely.get_parts(shapely.get_parts(shapely.boundary(area)))
    coords, ring = shapely.get_coordinates(parts, return_index=True)
    same = ring[:-1] == ring[1:]
    segments = shapely.linestrings(np.stack((coords[:-1][same], coords[1:][same]), axis=1))
    return shapely.STRtree(segments) if segments.size else None


def _overlaps(
    cells: np.ndarray, area: shapely.Geometry, outline: shapely.STRtree | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (overlaps with positive area, lies wholly inside, share inside) for each cell.

    The share is the cell's area inside ``area`` over its whole area: 1 inside, 0 for a
    cell that does not overlap, and for an edge cell its intersection, measured once here
    (``geo.hotspots.inside_share`` used to intersect the edge cells again).

    Only the cells that the area's outline touches need the exact (slow) tests: every
    other cell lies wholly inside or wholly outside, as its centre does. The touched
    cells are found with ``outline``, the R-tree of the outline's segments
    (:func:`_outline`; issue 21: testing every cell of a county against its outline
    took most of a hot-spot run). Each cell's answer depends on that cell alone.
    """
    shapely.prepare(area)
    bounds = shapely.bounds(cells)
    centre_x = (bounds[:, 0] + bounds[:, 2]) / 2
    centre_y = (bounds[:, 1] + bounds[:, 3]) / 2
    hit = shapely.contains_xy(area, centre_x, centre_y)
    inside = hit.copy()
    touched = np.zeros(cells.shape, dtype=bool)
    if outline is not None:
        touched[np.unique(outline.query(cells, predicate="intersects")[0])] = True
    hit[touched] = shapely.intersects(cells[touched], area)
    inside[touched] = False
    inside[touched & hit] = shapely.contains(area, cells[touched & hit])
    edge = hit & ~inside
    share = inside.astype("float64")
    if edge.any():
        overlap = areas_inside(cells[edge], area)
        whole = shapely.area(cells[edge])
        keep = overlap > 1e-6 * whole
        idx = np.flatnonzero(edge)
        hit[idx[~keep]] = False
        share[idx[keep]] = np.clip(overlap[keep] / whole[keep], 0.0, 1.0)
    return hit, inside, share


_TILE = 10_000.0
"""The side, in metres, of the national-grid squares :func:`areas_inside` cuts an area into
(a multiple of every square cell size, so each square cell lies in one)."""


def areas_inside(cells: np.ndarray, area: shapely.Geometry) -> np.ndarray:
    """Return the area of each cell (a polygon, EPSG:27700) that lies inside ``area``.

    GEOS intersects a cell with the whole of ``area``, whatever the cell's size: a
    250 m square cut by all England's outline (19,000 vertices) cost half a millisecond,
    three seconds for the 5,900 squares on its coast (issue 21). So the area is first
    cut into the :data:`_TILE` m squares of the national grid that hold cells, once per
    square, and each cell is intersected with its square's piece. A cell that crosses a
    square's edge (a hexagon, a cell size that does not divide the square's side) is
    intersected with the whole area. Each cell's answer depends on the cell alone, so
    any batch of cells gives it the same (``Grid.share`` and
    ``geo.hotspots.inside_share`` agree to the bit); it equals the whole area's
    intersection to within rounding (``tests/geo/test_grid.py``).

    Parameters
    ----------
    cells
        Polygons.
    area
        A (Multi)Polygon.

    Returns
    -------
    numpy.ndarray
        Square metres, one per cell.
    """
    bounds = shapely.bounds(cells)
    sw = np.floor(bounds[:, :2] / _TILE)
    within = (bounds[:, 2:] <= (sw + 1) * _TILE).all(axis=1)
    out = np.empty(len(cells))
    if (~within).any():
        out[~within] = shapely.area(shapely.intersection(cells[~within], area))
    tiles, tile_of = np.unique(sw[within], axis=0, return_inverse=True)
    tile_of = tile_of.reshape(-1)
    x0, y0 = tiles[:, 0] * _TILE, tiles[:, 1] * _TILE
    pieces = shapely.intersection(shapely.box(x0, y0, x0 + _TILE, y0 + _TILE), area)
    at = np.flatnonzero(within)
    out[at] = shapely.area(shapely.intersection(cells[at], pieces[tile_of]))
    return out


def _bng_grid(area: shapely.Geometry, size: float) -> Grid:
    minx, miny, maxx, maxy = area.bounds
    c0, r0 = int(np.floor(minx / size)), int(np.floor(miny / size))
    c1, r1 = int(np.ceil(maxx / size)), int(np.ceil(maxy / size))
    ncols, nrows = c1 - c0, r1 - r0
    if ncols * nrows > 50_000_000:
        raise HotspotInputError(
            f"{size:g} m cells over this area would make {ncols * nrows:,} cells; "
            "choose a larger cell size or a smaller area."
        )
    rows, cols = np.divmod(np.arange(nrows * ncols), ncols)
    boxes = _square_polygons(cols + c0, rows + r0, size)
    keep, inside, share = _overlaps(boxes, area, _outline(area))
    del boxes
    lookup = np.full(nrows * ncols, -1, dtype=np.int64)
    kept = np.flatnonzero(keep)
    lookup[kept] = np.arange(kept.size)
    lookup2d = lookup.reshape(nrows, ncols)
    src_parts, dst_parts = [], []
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr == 0 and dc == 0:
                continue
            a = lookup2d[max(0, -dr) : nrows - max(0, dr), max(0, -dc) : ncols - max(0, dc)]
            b = lookup2d[max(0, dr) : nrows + min(0, dr), max(0, dc) : ncols + min(0, dc)]
            both = (a >= 0) & (b >= 0)
            src_parts.append(a[both])
            dst_parts.append(b[both])
    adjacency = _csr(np.concatenate(src_parts), np.concatenate(dst_parts), kept.size)
    return Grid(
        kind="bng",
        cell_size=size,
        interior=inside[kept],
        adjacency=adjacency,
        share=_read_only(share[kept]),
        area=area,
        _bng_origin=(c0, r0),
        _bng_lookup=lookup2d,
        _bng_at=kept,
    )


_SLICE = 100_000
"""Candidate squares made into polygons and tested at a time by :func:`build_sparse_grid`."""

_KEY_SHIFT = 1 << 24
"""Square keys: ``col * 2**24 + row`` (British National Grid squares of any size >= 1 m
have col and row below 2**24 inside the grid's 700 km by 1,300 km)."""


def _square_key(col: np.ndarray, row: np.ndarray) -> np.ndarray:
    return np.asarray(col, dtype=np.int64) * _KEY_SHIFT + np.asarray(row, dtype=np.int64)


def _square_polygons(col: np.ndarray, row: np.ndarray, size: float) -> np.ndarray:
    """Return the BNG squares at these national-grid columns and rows as polygons.

    The one way every square is made, so that a square is the same polygon (to the bit)
    whichever grid or call makes it.
    """
    x0, y0 = col * size, row * size
    return shapely.box(x0, y0, x0 + size, y0 + size)


def _square_cells(grid: Grid, col: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Return the cell of a BNG grid at each national-grid column and row, or -1."""
    if grid._bng_keys.size:
        return _key_index(grid).get_indexer(_square_key(col, row)).astype(np.int64, copy=False)
    cell = np.full(col.shape, -1, dtype=np.int64)
    c0, r0 = grid._bng_origin
    nrows, ncols = grid._bng_lookup.shape
    col, row = col - c0, row - r0
    inb = (col >= 0) & (col < ncols) & (row >= 0) & (row < nrows)
    cell[inb] = grid._bng_lookup[row[inb], col[inb]]
    return cell


_KEY_INDEXES: weakref.WeakKeyDictionary[Grid, pd.Index] = weakref.WeakKeyDictionary()


def _key_index(grid: Grid) -> pd.Index:
    """Return a hash index of a sparse grid's square keys, made once per grid.

    Locating all England's two million spots among its million squares by binary search
    (:func:`_sparse_find`) took 0.8 s, paid by each of a warm-up's 28 look-ups; a hash
    look-up takes 0.3 s, after 0.1 s to build it once (issue 21). Positions are the same.
    """
    index = _KEY_INDEXES.get(grid)
    if index is None:
        index = _KEY_INDEXES[grid] = pd.Index(grid._bng_keys)
    return index


def _sparse_find(keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Return the position of each wanted key in the sorted ``keys``, or -1."""
    at = np.searchsorted(keys, wanted)
    at = np.minimum(at, keys.size - 1)
    return np.where(keys[at] == wanted, at, -1).astype(np.int64)


def _bng_cell_ids(size: float, x0: np.ndarray, y0: np.ndarray) -> np.ndarray:
    """Return the ids of BNG squares from their south-west corners (metres).

    One format for :func:`build_grid` and :func:`build_sparse_grid`, so a square has the
    same id on the whole area's grid and on a wide scope's.
    """
    return np.array(
        [f"BNG{size:g}m_{int(a)}_{int(b)}" for a, b in zip(x0, y0, strict=True)], dtype=object
    )


def build_sparse_grid(
    area: gpd.GeoDataFrame | gpd.GeoSeries,
    x: np.ndarray,
    y: np.ndarray,
    *,
    cell_size: float = DEFAULT_CELL_SIZE,
) -> Grid:
    """Build the squares of a wide area that hold points, and their neighbours, only.

    Works in British National Grid: the area is reprojected to EPSG:27700. All England
    at 250 m would be about 6 million candidate squares (its bounding box) and 2 million
    cells; an analysis of counts only needs the squares with counts and the squares
    around them (the Gi* neighbourhoods). Those are found by integer square index
    (``floor(x / cell_size)``), and only they become polygons and are tested against
    the area, so the cost grows with the number of occupied squares, not with the area.

    The cells are a subset of :func:`build_grid`'s for the same area and size, with the
    same ids, polygons, interior flags and, between them, the same contiguity; points
    fall in the same cells (:func:`locate_xy`). What differs is the study area: the
    empty squares far from any point are not cells, so a Gi* on this grid compares a
    square with the inhabited squares around the country, not with empty moorland.

    Parameters
    ----------
    area
        District boundaries (or any polygons) with a CRS.
    x, y
        Eastings and northings (EPSG:27700) of the points (or square centres) to cover.
    cell_size
        The side of a square in metres.

    Returns
    -------
    Grid
        A ``"bng"`` grid of the occupied squares and their queen neighbours that overlap
        the area; no cells when no point is near the area (nothing to analyse).

    Raises
    ------
    HotspotInputError
        For an area without CRS or polygons, or a bad cell size.

    Examples
    --------
    >>> square = gpd.GeoSeries([shapely.box(0, 0, 2500, 2500)], crs="EPSG:27700")
    >>> grid = build_sparse_grid(square, np.array([100.0]), np.array([100.0]), cell_size=250)
    >>> grid.n_cells, int(grid.adjacency.sum())
    (4, 12)
    """
    size = _check_size(cell_size)
    geometry = area_geometry(area)
    col = np.floor(np.asarray(x, dtype="float64") / size).astype(np.int64)
    row = np.floor(np.asarray(y, dtype="float64") / size).astype(np.int64)
    occupied = _sorted_unique(_square_key(col, row))
    ring = [(dc, dr) for dc in (-1, 0, 1) for dr in (-1, 0, 1)]
    candidates = _sorted_unique(
        np.concatenate([occupied + dc * _KEY_SHIFT + dr for dc, dr in ring])
    )
    ccol, crow = np.divmod(candidates, _KEY_SHIFT)
    keep = np.zeros(candidates.size, dtype=bool)
    inside = np.zeros(candidates.size, dtype=bool)
    share = np.zeros(candidates.size)
    outline = _outline(geometry) if candidates.size else None
    # A slice of squares at a time: all England has about 1.5 million candidates, whose
    # polygons at once would hold most of a gigabyte.
    for start in range(0, candidates.size, _SLICE):
        part = slice(start, start + _SLICE)
        boxes = _square_polygons(ccol[part], crow[part], size)
        keep[part], inside[part], share[part] = _overlaps(boxes, geometry, outline)
    keys = candidates[keep]
    src_parts, dst_parts = [], []
    for dc, dr in ring:
        if dc == 0 and dr == 0:
            continue
        found = _sparse_find(keys, keys + dc * _KEY_SHIFT + dr)
        ok = found >= 0
        src_parts.append(np.flatnonzero(ok))
        dst_parts.append(found[ok])
    return Grid(
        kind="bng",
        cell_size=size,
        interior=inside[keep],
        share=_read_only(share[keep]),
        adjacency=_csr(np.concatenate(src_parts), np.concatenate(dst_parts), keys.size),
        area=geometry,
        _bng_keys=keys,
    )


def _read_only(values: np.ndarray) -> np.ndarray:
    values.setflags(write=False)
    return values


def _sorted_unique(keys: np.ndarray) -> np.ndarray:
    """Return the distinct keys, sorted: what ``np.unique`` returns, by sorting.

    NumPy 2's ``np.unique`` first hashes integers, and square keys (a column times
    :data:`_KEY_SHIFT` plus a row, and their neighbours') collide in its hash table:
    all England's took 2.6 s of a warm-up, against about 0.3 s to sort (issue 21).

    Examples
    --------
    >>> _sorted_unique(np.array([5, 3, 5, 1, 3])).tolist()
    [1, 3, 5]
    """
    ordered = np.sort(keys)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if keys.size else ordered


def _csr(src: np.ndarray, dst: np.ndarray, n: int) -> sparse.csr_array:
    data = np.ones(src.size, dtype=np.float64)
    matrix = sparse.csr_array((data, (src, dst)), shape=(n, n))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def _h3_grid(area: shapely.Geometry, size: float) -> Grid:
    res = h3_resolution(size)
    lon_lat_area = shapely.transform(area, lambda c: np.column_stack(_TO_WGS84.transform(*c.T)))
    shape = h3.geo_to_h3shape(lon_lat_area.__geo_interface__)
    candidates = sorted(h3.h3shape_to_cells_experimental(shape, res, contain="overlap"))
    if not candidates:
        raise HotspotInputError("The area is too small for any H3 cell at this cell size.")
    rings = [h3.cell_to_boundary(c) for c in candidates]
    counts = np.array([len(r) for r in rings])
    flat = np.array([p for r in rings for p in r], dtype="float64")  # (lat, lng)
    ex, ny = _TO_BNG.transform(flat[:, 1], flat[:, 0])
    offsets = np.concatenate(([0], np.cumsum(counts)))
    polys = np.array(
        [
            shapely.Polygon(np.column_stack((ex[a:b], ny[a:b])))
            for a, b in itertools.pairwise(offsets)
        ],
        dtype=object,
    )
    keep, inside, share = _overlaps(polys, area, _outline(area))
    cells = [c for c, k in zip(candidates, keep, strict=True) if k]
    if not cells:
        raise HotspotInputError("The area is too small for any H3 cell at this cell size.")
    index = {c: i for i, c in enumerate(cells)}
    src: list[int] = []
    dst: list[int] = []
    for i, c in enumerate(cells):
        for nb in h3.grid_ring(c, 1):
            j = index.get(nb)
            if j is not None:
                src.append(i)
                dst.append(j)
    return Grid(
        kind="h3",
        cell_size=size,
        interior=inside[keep],
        share=_read_only(share[keep]),
        adjacency=_csr(np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64), len(cells)),
        area=area,
        resolution=res,
        _h3_ids=np.array(cells, dtype=object),
        _h3_polygons=polys[keep],
        _h3_index=index,
    )


def build_grid(
    area: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    cell_size: float = DEFAULT_CELL_SIZE,
    kind: GridKind = "bng",
) -> Grid:
    """Build the grid of cells that overlap an area.

    Works in British National Grid: the area is reprojected to EPSG:27700.

    Parameters
    ----------
    area
        District boundaries (or any polygons) with a CRS.
    cell_size
        Cell size in metres: the side of a square, or for H3 the side of the
        square of equal area (see :func:`h3_resolution`).
    kind
        ``"bng"`` for squares, ``"h3"`` for hexagons.

    Returns
    -------
    Grid
        Every cell overlapping the area, whole, with binary contiguity.

    Raises
    ------
    HotspotInputError
        For an area without CRS or polygons, or a bad cell size or kind.

    Examples
    --------
    >>> square = gpd.GeoSeries([shapely.box(0, 0, 1000, 500)], crs="EPSG:27700")
    >>> grid = build_grid(square, cell_size=250)
    >>> grid.n_cells, int(grid.adjacency.sum())
    (8, 32)
    """
    size = _check_size(cell_size)
    geometry = area_geometry(area)
    if kind == "bng":
        return _bng_grid(geometry, size)
    if kind == "h3":
        return _h3_grid(geometry, size)
    raise HotspotInputError(f"The grid must be 'bng' or 'h3', not {kind!r}.")


def contiguity(grid: Grid, *, include_self: bool = True) -> sparse.csr_array:
    """Return the grid's binary contiguity weights.

    Parameters
    ----------
    grid
        The grid.
    include_self
        Add each cell to its own neighbourhood, as Gi* requires.

    Returns
    -------
    scipy.sparse.csr_array
        ``n_cells`` by ``n_cells``, ones where cells are neighbours.
    """
    if not include_self:
        return grid.adjacency.copy()
    return sparse.csr_array(grid.adjacency + sparse.eye_array(grid.n_cells, format="csr"))


def locate_xy(grid: Grid, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return the cell of each point given in British National Grid, or -1 outside the area.

    Squares are found by arithmetic on the coordinates (vectorised). H3 cells
    are found by H3 itself, once per distinct location, because h3-py has no
    vectorised look-up (about 0.7 µs per location). Only points in cells crossed
    by the boundary are tested against the boundary polygon.

    Parameters
    ----------
    grid
        The grid.
    x, y
        Eastings and northings in metres (EPSG:27700).

    Returns
    -------
    numpy.ndarray
        int64 cell index per point; -1 for points outside the area.
    """
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    cell = np.full(x.shape, -1, dtype=np.int64)
    if x.size == 0:
        return cell
    if grid.kind == "bng":
        col = np.floor(x / grid.cell_size).astype(np.int64)
        row = np.floor(y / grid.cell_size).astype(np.int64)
        cell = _square_cells(grid, col, row)
    else:
        minx, miny, maxx, maxy = grid.area.bounds
        inb = np.flatnonzero((x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy))
        if inb.size:
            # h3-py has no vectorised point look-up: call it once per distinct location.
            xy, inverse = np.unique(np.column_stack((x[inb], y[inb])), axis=0, return_inverse=True)
            lon, lat = _TO_WGS84.transform(xy[:, 0], xy[:, 1])
            res = grid.resolution
            assert res is not None
            found_ids = [h3.latlng_to_cell(b, a, res) for a, b in zip(lon, lat, strict=True)]
            lookup = np.array([grid._h3_index.get(c, -1) for c in found_ids], dtype=np.int64)
            cell[inb] = lookup[inverse.ravel()]
    found = np.flatnonzero(cell >= 0)
    edge = found[~grid.interior[cell[found]]]
    if edge.size:
        shapely.prepare(grid.area)
        inside = shapely.contains_xy(grid.area, x[edge], y[edge])
        cell[edge[~inside]] = -1
    return cell


def count_points(
    grid: Grid,
    cells: np.ndarray,
    *,
    periods: np.ndarray | None = None,
    n_periods: int | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Count located points per cell, optionally per period.

    Parameters
    ----------
    grid
        The grid.
    cells
        Cell index per point from :func:`locate_xy`; -1 is ignored.
    periods
        Period number (0-based) per point, for a count per period.
    n_periods
        The number of periods (rows of the result); ``periods.max() + 1`` when None.
    weights
        Whole-number weight per point (a point standing for several incidents at one
        snapped spot); 1 each when None.

    Returns
    -------
    numpy.ndarray
        int64 counts: shape ``(n_cells,)``, or ``(n_periods, n_cells)`` with periods.

    Examples
    --------
    >>> square = gpd.GeoSeries([shapely.box(0, 0, 500, 250)], crs="EPSG:27700")
    >>> grid = build_grid(square, cell_size=250)
    >>> count_points(grid, np.array([0, 1, 1, -1])).tolist()
    [1, 2]
    >>> count_points(grid, np.array([0, 1, -1]), weights=np.array([3, 2, 5])).tolist()
    [3, 2]
    """
    n = grid.n_cells
    ok = cells >= 0
    w = None if weights is None else np.asarray(weights)[ok]
    if periods is None:
        return np.bincount(cells[ok], weights=w, minlength=n).astype(np.int64)
    t = int(n_periods if n_periods is not None else (periods.max() + 1 if periods.size else 0))
    flat = periods[ok].astype(np.int64) * n + cells[ok]
    return np.bincount(flat, weights=w, minlength=t * n).astype(np.int64).reshape(t, n)


def cells_frame(
    grid: Grid,
    columns: Mapping[str, np.ndarray | pd.Series | list[object]],
    *,
    crs: str = WGS84,
    cells: np.ndarray | None = None,
) -> gpd.GeoDataFrame:
    """Return the grid's cells as a GeoDataFrame with the given columns.

    Parameters
    ----------
    grid
        The grid.
    columns
        Extra columns, one value per cell, after ``cell_id``.
    crs
        The output CRS; WGS84 (for display) by default, ``"EPSG:27700"`` for metric work.
    cells
        The indexes of the cells wanted, in order; every cell when None. Only these are
        projected (all England's grid has hundreds of thousands of cells).

    Returns
    -------
    geopandas.GeoDataFrame
        ``cell_id``, the given columns and the whole cell polygons, indexed from 0.
    """
    rows = np.arange(grid.n_cells) if cells is None else np.asarray(cells, dtype=np.int64)
    data: dict[str, object] = {"cell_id": grid.cell_ids(rows).astype(str)}
    data.update({name: np.asarray(values)[rows] for name, values in columns.items()})
    frame = gpd.GeoDataFrame(data, geometry=grid.polygons(rows), crs=BNG)
    return frame if crs == BNG else frame.to_crs(crs)
