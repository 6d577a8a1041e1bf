"""Fixtures for the hot-spot engine tests: small hand-built areas with explicit CRSs."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo.points import BNG

X0, Y0 = 390_000.0, 310_000.0  # a corner near Stafford, on the 250 m grid
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture
def box_area() -> gpd.GeoSeries:
    """A 5 km x 5 km square aligned with the 250 m national grid (400 cells)."""
    return gpd.GeoSeries([shapely.box(X0, Y0, X0 + 5000, Y0 + 5000)], crs=BNG)


@pytest.fixture
def triangle_area() -> gpd.GeoSeries:
    """A right triangle whose hypotenuse cuts cells diagonally."""
    return gpd.GeoSeries([shapely.Polygon([(X0, Y0), (X0 + 2000, Y0), (X0, Y0 + 2000)])], crs=BNG)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261122)


@pytest.fixture
def shared_data() -> Path:
    """The open data folder next to the repository, or a skip saying why."""
    if not DATA.is_dir():
        pytest.skip(f"real open data not present at {DATA} (realdata tests need ../shared/data)")
    return DATA


def _points(x: np.ndarray, y: np.ndarray, crs: str = BNG, **columns: object) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(dict(columns), geometry=gpd.points_from_xy(x, y), crs=crs)


@pytest.fixture
def make_points():  # type: ignore[no-untyped-def]
    """Build incident points from coordinate arrays: make_points(x, y, crs=..., **columns)."""
    return _points
