from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo.density import density_bands, kernel_density
from geo.points import HotspotInputError

from .conftest import X0, Y0


@pytest.mark.parametrize("kernel", ["quartic", "gaussian"])
@pytest.mark.parametrize("bandwidth", [100.0, 400.0])
def test_surface_holds_every_incident(kernel, bandwidth, make_points, rng):
    pts = make_points(rng.normal(X0, 500, 300), rng.normal(Y0, 500, 300))
    surface = kernel_density(pts, bandwidth=bandwidth, cell_size=25, kernel=kernel)
    assert surface.total == pytest.approx(300, rel=1e-9)
    assert (surface.values >= 0).all()


def test_gaussian_peak_matches_the_formula(make_points):
    sigma = 200.0
    surface = kernel_density(
        make_points(np.array([X0 + 5.0]), np.array([Y0 + 5.0])),
        bandwidth=sigma,
        cell_size=10,
        kernel="gaussian",
    )
    per_km2 = 1e6 / (2 * np.pi * sigma**2)
    assert surface.values.max() == pytest.approx(per_km2, rel=0.01)
    at_sigma = surface.value_at(np.array([X0 + 5.0 + sigma]), np.array([Y0 + 5.0]))[0]
    assert at_sigma == pytest.approx(per_km2 * np.exp(-0.5), rel=0.05)


def test_quartic_is_zero_beyond_the_bandwidth(make_points):
    surface = kernel_density(
        make_points(np.array([X0 + 5.0]), np.array([Y0 + 5.0])), bandwidth=300, cell_size=10
    )
    d = np.array([0.0, 150.0, 280.0, 330.0, 600.0])
    values = surface.value_at(X0 + 5.0 + d, np.full(d.size, Y0 + 5.0))
    assert values[0] > values[1] > values[2] > 0
    assert values[3] == 0 and values[4] == 0


def test_wider_bandwidth_is_flatter_and_cell_size_does_not_change_it(make_points, rng):
    pts = make_points(rng.normal(X0, 150, 200), rng.normal(Y0, 150, 200))
    narrow = kernel_density(pts, bandwidth=150, cell_size=10, kernel="gaussian")
    wide = kernel_density(pts, bandwidth=600, cell_size=10, kernel="gaussian")
    coarse = kernel_density(pts, bandwidth=600, cell_size=40, kernel="gaussian")
    assert wide.values.max() < narrow.values.max() / 2
    assert coarse.values.max() == pytest.approx(wide.values.max(), rel=0.05)


def test_area_mask_drops_density_outside(make_points, rng):
    area = gpd.GeoSeries([shapely.box(X0, Y0, X0 + 1000, Y0 + 1000)], crs="EPSG:27700")
    pts = make_points(rng.uniform(X0, X0 + 1000, 100), rng.uniform(Y0, Y0 + 1000, 100))
    surface = kernel_density(pts, bandwidth=200, cell_size=20, area=area)
    assert 60 < surface.total < 100  # the kernel tails beyond the edge are cut off
    assert surface.value_at(np.array([X0 - 50.0]), np.array([Y0 + 500.0]))[0] == 0


def test_bands_for_the_map(make_points, rng):
    pts = make_points(rng.normal(X0, 300, 500), rng.normal(Y0, 300, 500))
    surface = kernel_density(pts, bandwidth=250, cell_size=25)
    bands = density_bands(surface, crs="EPSG:27700")
    assert bands["level_min"].is_monotonic_increasing
    assert np.isinf(bands["level_max"].iloc[-1])
    # bands do not overlap, and the top band surrounds the densest point
    assert shapely.union_all(bands.geometry).area == pytest.approx(bands.geometry.area.sum())
    peak = np.unravel_index(np.argmax(surface.values), surface.values.shape)
    px = surface.x0 + (peak[1] + 0.5) * surface.cell_size
    py = surface.y0 + (peak[0] + 0.5) * surface.cell_size
    assert bands.geometry.iloc[-1].contains(shapely.Point(px, py))


@pytest.mark.parametrize(("bandwidth", "cell"), [(0, 10), (-5, 10), (100, 0)])
def test_bad_bandwidth_or_cell_size(bandwidth, cell, make_points):
    with pytest.raises(HotspotInputError, match="positive"):
        kernel_density(
            make_points(np.array([X0]), np.array([Y0])), bandwidth=bandwidth, cell_size=cell
        )
