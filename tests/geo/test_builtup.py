"""Built-up areas from the density of postcodes, for the offline base map."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from geo.builtup import built_up_areas, town_ranks


def _town(cx: float, cy: float, n: int, spread: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(cx - spread, cx + spread, n), rng.uniform(cy - spread, cy + spread, n)


def test_a_dense_town_is_built_up_and_scattered_farms_are_not() -> None:
    tx, ty = _town(400_000, 300_000, 600, 800, 1)  # ~600 postcodes over 1.6 km square
    fx, fy = _town(420_000, 320_000, 30, 4_000, 2)  # 30 postcodes over 8 km square
    areas = built_up_areas(np.r_[tx, fx], np.r_[ty, fy])
    assert len(areas) == 1
    assert areas.crs.to_epsg() == 27700
    area = areas.geometry.iloc[0]
    assert area.contains(shapely.Point(400_000, 300_000))
    assert not area.intersects(shapely.box(416_000, 316_000, 424_000, 324_000))
    assert 1.5 < areas["area_km2"].iloc[0] < 4.5


def test_two_towns_stay_apart_and_are_sorted_by_size() -> None:
    ax, ay = _town(400_000, 300_000, 900, 1_000, 3)
    bx, by = _town(410_000, 300_000, 300, 500, 4)
    areas = built_up_areas(np.r_[ax, bx], np.r_[ay, by])
    assert len(areas) == 2
    assert areas["area_km2"].is_monotonic_decreasing
    assert areas.geometry.iloc[1].contains(shapely.Point(410_000, 300_000))


def test_nothing_dense_gives_an_empty_frame() -> None:
    areas = built_up_areas(np.array([0.0, 5_000.0]), np.array([0.0, 5_000.0]))
    assert areas.empty and areas.crs.to_epsg() == 27700


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"cell": 0}, "positive"), ({"min_postcodes": 0}, "positive")],
)
def test_bad_parameters_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        built_up_areas(np.zeros(3), np.zeros(3), **kwargs)


def test_coordinates_must_pair_up() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        built_up_areas(np.zeros(3), np.zeros(2))


def test_town_ranks() -> None:
    np.testing.assert_array_equal(
        town_ranks(np.array([10, 5, 4.9, 2.5, 2.4, 0])), [1, 1, 2, 2, 3, 3]
    )
