"""Built-up areas from the density of postcodes, for a base map that needs no network.

Everything here works in British National Grid (EPSG:27700). A postcode holds about 15
addresses, so squares holding several postcodes are built up; joined and smoothed, they
draw the towns and villages as a base map would, from the ONS Postcode Directory the
project already ships.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.points import BNG

__all__ = ["BNG", "built_up_areas", "town_ranks"]



def built_up_areas(
    easting: np.ndarray,
    northing: np.ndarray,
    *,
    cell: float = 250.0,
    min_postcodes: int = 4,
    smooth: float = 120.0,
    min_area: float = 150_000.0,
    tolerance: float = 40.0,
) -> gpd.GeoDataFrame:
    """Return the built-up areas around a set of postcodes, as smoothed polygons.

    Coordinates are British National Grid (EPSG:27700) metres.

    Parameters
    ----------
    easting, northing : numpy.ndarray
        Postcode locations (e.g. ``geo.postcodes.load_postcode_directory``).
    cell : float, default 250
        Side of the squares postcodes are counted in, in metres.
    min_postcodes : int, default 4
        A square with at least this many postcodes is built up.
    smooth : float, default 120
        Buffer out then in by this many metres, joining neighbouring squares and
        rounding their corners.
    min_area : float, default 150,000
        Areas smaller than this (m²) are left out (isolated farms and hamlets).
    tolerance : float, default 40
        Simplification tolerance in metres (keeps the payload small).

    Returns
    -------
    geopandas.GeoDataFrame
        One polygon per built-up area, in EPSG:27700, with ``area_km2``.

    Raises
    ------
    ValueError
        If the coordinate arrays differ in length or a parameter is not positive.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> e = np.r_[rng.uniform(0, 1000, 400), 5000.0]
    >>> n = np.r_[rng.uniform(0, 1000, 400), 5000.0]
    >>> areas = built_up_areas(e, n)
    >>> len(areas), bool(areas.contains(shapely.Point(500, 500)).all())
    (1, True)
    """
    x = np.asarray(easting, dtype="float64")
    y = np.asarray(northing, dtype="float64")
    if x.shape != y.shape:
        raise ValueError(f"easting and northing differ in length: {x.shape} and {y.shape}")
    if min(cell, min_postcodes, smooth, tolerance) <= 0 or min_area < 0:
        raise ValueError("cell, min_postcodes, smooth and tolerance must be positive")
    empty = gpd.GeoDataFrame({"area_km2": pd.Series([], dtype="float64")}, geometry=[], crs=BNG)
    keep = np.isfinite(x) & np.isfinite(y)
    if not keep.any():
        return empty
    ix = np.floor(x[keep] / cell).astype(np.int64)
    iy = np.floor(y[keep] / cell).astype(np.int64)
    squares, counts = np.unique(np.stack([ix, iy], axis=1), axis=0, return_counts=True)
    dense = squares[counts >= min_postcodes]
    if dense.size == 0:
        return empty
    boxes = shapely.box(
        dense[:, 0] * cell, dense[:, 1] * cell, (dense[:, 0] + 1) * cell, (dense[:, 1] + 1) * cell
    )
    merged = shapely.union_all(shapely.buffer(boxes, smooth, join_style="round"))
    merged = shapely.buffer(merged, -smooth, join_style="round")
    parts = [
        part.simplify(tolerance)
        for part in getattr(merged, "geoms", [merged])
        if not part.is_empty and part.area >= min_area
    ]
    if not parts:
        return empty
    frame = gpd.GeoDataFrame(
        {"area_km2": [round(part.area / 1e6, 3) for part in parts]}, geometry=parts, crs=BNG
    )
    return frame.sort_values("area_km2", ascending=False, ignore_index=True)


def town_ranks(weights: np.ndarray) -> np.ndarray:
    """Rank towns for labelling by their weight: 1 main towns, 2 towns, 3 smaller places.

    Parameters
    ----------
    weights : numpy.ndarray
        A size measure per town (e.g. ``data/towns.csv``'s ``weight``).

    Returns
    -------
    numpy.ndarray
        Integer ranks: 1 for weights of 5 or more, 2 for 2.5 or more, else 3.

    Examples
    --------
    >>> town_ranks(np.array([10.0, 3.0, 1.0])).tolist()
    [1, 2, 3]
    """
    w = np.asarray(weights, dtype="float64")
    return np.where(w >= 5, 1, np.where(w >= 2.5, 2, 3)).astype(np.int64)
