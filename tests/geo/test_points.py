from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.points import (
    HotspotInputError,
    HotspotWarning,
    bng_xy,
    detect_coordinate_columns,
    detect_period_column,
    parse_periods,
    points_from_frame,
    read_points_csv,
    validate_points,
)


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (["Month", "Longitude", "Latitude"], ("Longitude", "Latitude", "EPSG:4326")),
        (["lat", "lon"], ("lon", "lat", "EPSG:4326")),
        (["LNG", "LAT"], ("LNG", "LAT", "EPSG:4326")),
        (["Easting", "Northing"], ("Easting", "Northing", "EPSG:27700")),
        (["easting", "northing", "longitude", "latitude"], ("longitude", "latitude", "EPSG:4326")),
    ],
    ids=["police.uk", "short", "upper", "bng", "both-prefers-lonlat"],
)
def test_detect_coordinate_columns(columns, expected):
    assert detect_coordinate_columns(columns) == expected


def test_no_coordinate_columns_lists_what_was_found():
    with pytest.raises(HotspotInputError, match="Crime type, Location"):
        detect_coordinate_columns(["Crime type", "Location"])


def test_detect_period_column():
    assert detect_period_column(["Crime ID", "Month"]) == "Month"
    assert detect_period_column(["Longitude"]) is None


def test_parse_periods_month_and_quarter():
    months = parse_periods(pd.Series(["2024-12", "2025-01-31"]))
    assert [str(p) for p in months] == ["2024-12", "2025-01"]
    quarters = parse_periods(months, freq="quarter")
    assert [str(p) for p in quarters] == ["2024Q4", "2025Q1"]


def test_parse_periods_names_bad_rows():
    with pytest.raises(HotspotInputError, match="row 4"):
        parse_periods(pd.Series(["2024-12", "2025-01", "someday"]))


def test_police_csv_drops_rows_without_location_with_warning(tmp_path):
    path = tmp_path / "street.csv"
    path.write_text(
        "Crime ID,Month,Longitude,Latitude,Crime type\n"
        "a,2021-08,-2.117,52.806,Drugs\n"
        ",2021-08,,,Anti-social behaviour\n"
        "c,2021-09,-2.118,52.807,Robbery\n",
        encoding="utf-8",
    )
    with pytest.warns(HotspotWarning, match="1 of 3 rows"):
        gdf = read_points_csv(path)
    assert len(gdf) == 2
    assert gdf.crs == "EPSG:4326"
    assert gdf.attrs["rows_without_location"] == 1
    assert [str(p) for p in gdf["period"]] == ["2021-08", "2021-09"]
    assert gdf.geometry.x.tolist() == [-2.117, -2.118]


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("Longitude,Latitude\n-2.1,\n", "only one coordinate \\(row 2\\)"),
        ("Longitude,Latitude\n-2.1,52.8\nabc,52.8\n", "not numbers \\(row 3"),
        ("Longitude,Latitude\n-2.1,152.8\n", "out of range"),
        ("Longitude,Latitude\n52.8,-2.1\n52.9,-2.2\n", None),  # inside range: allowed here
        ("Name,Place\nx,y\n", "Could not find coordinate columns"),
        ("", "is empty"),
        ("Longitude,Latitude\n", "no rows"),
        ("Longitude,Latitude,Month\n-2.1,52.8,never\n", "Month"),
    ],
    ids=["half", "text", "range", "swapped-in-range", "no-columns", "empty", "header", "date"],
)
def test_bad_csv_is_a_clear_error(tmp_path, body, match):
    path = tmp_path / "bad.csv"
    path.write_text(body, encoding="utf-8")
    if match is None:
        assert len(read_points_csv(path)) == 2
        return
    with pytest.raises(HotspotInputError, match=match):
        read_points_csv(path)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(HotspotInputError, match="no file"):
        read_points_csv(tmp_path / "nothing.csv")


def test_swapped_coordinates_get_a_hint():
    frame = pd.DataFrame({"lon": [-2.1, 52.8], "lat": [52.8, 120.0]})
    with pytest.raises(HotspotInputError, match="swapped"):
        points_from_frame(frame)


def test_points_without_crs_are_refused():
    gdf = gpd.GeoDataFrame(geometry=gpd.points_from_xy([1.0], [2.0]))
    with pytest.raises(HotspotInputError, match="no coordinate reference system"):
        validate_points(gdf)


def test_nan_empty_and_non_points_are_all_reported():
    geoms = [shapely.Point(400000, 300000), shapely.Point(np.nan, 1), None, shapely.box(0, 0, 1, 1)]
    gdf = gpd.GeoDataFrame(geometry=geoms, crs="EPSG:27700")
    with pytest.raises(HotspotInputError) as info:
        validate_points(gdf)
    assert "not points" in str(info.value)
    assert "2 points have no location" in str(info.value)


def test_bng_out_of_range_is_refused():
    gdf = gpd.GeoDataFrame(geometry=gpd.points_from_xy([5e6], [3e5]), crs="EPSG:27700")
    with pytest.raises(HotspotInputError, match="outside the British National Grid"):
        bng_xy(gdf)


def test_bng_xy_projects_the_true_origin():
    # The true origin of the national grid, 49°N 2°W, is at E 400000, N -100000.
    gdf = gpd.GeoDataFrame(geometry=gpd.points_from_xy([-2.0], [49.0]), crs="EPSG:4326")
    x, y = bng_xy(gdf)
    np.testing.assert_allclose([x[0], y[0]], [400000.0, -100000.0], atol=1e-3)


def test_date_errors_name_the_csv_line_after_rows_without_location(tmp_path):
    path = tmp_path / "dates.csv"
    path.write_text(
        "Month,Longitude,Latitude\n2021-08,,\n2021-08,-2.1,52.8\nsoon,-2.1,52.8\n",
        encoding="utf-8",
    )
    with pytest.warns(HotspotWarning), pytest.raises(HotspotInputError, match="row 4"):
        read_points_csv(path)
