"""Issue 21: the hotspots command as a whole process (lazy imports, pyarrow, cached area)."""

from __future__ import annotations

import subprocess
import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

import geo.boundaries as boundaries
from cli import hotspots as commands
from geo.grid import DEFAULT_CELL_SIZE
from geo.hotspots import DEFAULT_MIN_SHARE, P_VALUES
from geo.points import HotspotInputError, bng_xy, read_points_csv, read_points_xy

from .conftest import X0, Y0

TO_WGS84 = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
CODE = "E07000199"


@pytest.fixture
def points_csv(tmp_path, rng):
    x = np.concatenate((rng.uniform(X0, X0 + 3000, 300), rng.normal(X0 + 1125, 80, 80)))
    y = np.concatenate((rng.uniform(Y0, Y0 + 3000, 300), rng.normal(Y0 + 1125, 80, 80)))
    lon, lat = TO_WGS84.transform(x, y)
    frame = pd.DataFrame({"Month": "2025-01", "Longitude": lon, "Latitude": lat})
    frame.loc[5, ["Longitude", "Latitude"]] = np.nan  # a row without a location
    path = tmp_path / "points.csv"
    frame.to_csv(path, index=False)
    return path


def test_the_parser_defaults_mirror_the_analysis_modules():
    assert commands.DEFAULT_CELL_SIZE == DEFAULT_CELL_SIZE
    assert commands.P_VALUES == P_VALUES
    assert commands.DEFAULT_MIN_SHARE == DEFAULT_MIN_SHARE


def test_the_fast_reader_gives_what_the_careful_one_gives(points_csv):
    with pytest.warns(UserWarning, match="1 of 380 rows"):
        fast = read_points_xy(points_csv)
    with pytest.warns(UserWarning, match="1 of 380 rows"):
        careful = bng_xy(read_points_csv(points_csv, period_column=""))
    assert fast[0].size == 379
    np.testing.assert_allclose(fast[0], careful[0], atol=1e-6)
    np.testing.assert_allclose(fast[1], careful[1], atol=1e-6)


@pytest.mark.parametrize(
    "body",
    [
        "Longitude,Latitude\n-2.1,north\n-2.2,52.6\n",
        "Longitude,Latitude\n-2.1,95\n",
        "Longitude,Latitude\n-2.1,\n-2.2,52.6\n",
        "Name,Place\nx,y\n",
    ],
    ids=["text", "range", "one-coordinate", "no-columns"],
)
def test_the_fast_reader_reports_problems_as_the_careful_one(tmp_path, body):
    path = tmp_path / "bad.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(HotspotInputError) as careful:
        bng_xy(read_points_csv(path, period_column=""))
    with pytest.raises(HotspotInputError) as fast:
        read_points_xy(path)
    assert str(fast.value) == str(careful.value)


def _fake_outline(codes):
    box = shapely.MultiPolygon([shapely.box(X0, Y0, X0 + 3000, Y0 + 3000)])
    return gpd.GeoDataFrame(
        {"code": list(codes), "name": "test", "source": "test (approximate)"},
        geometry=[box] * len(codes),
        crs=27700,
    )


def test_area_codes_are_built_once_then_read_from_the_cache(
    tmp_path, points_csv, monkeypatch, capsys
):
    monkeypatch.setenv("SAFER_SPACES_HOME", str(tmp_path / "home"))
    built: list[list[str]] = []
    directory_loads: list[int] = []
    monkeypatch.setattr(
        boundaries,
        "approximate_district_boundaries",
        lambda codes: built.append(list(codes)) or _fake_outline(codes),
    )
    monkeypatch.setattr(
        boundaries,
        "_known_codes",
        lambda: directory_loads.append(1) or frozenset({CODE, "E07000198"}),
    )
    out = tmp_path / "cells.csv"
    run = ["hotspots", str(points_csv), "--area", CODE, "--out", str(out)]
    assert commands.main(run) == 0
    assert built == [[CODE]] and directory_loads == [1]
    out.unlink()
    assert commands.main(run) == 0  # the second call: neither rebuilt nor the directory read
    assert out.is_file()
    assert built == [[CODE]] and directory_loads == [1]
    # control: other codes are not in the cache, so the counters do see a build
    other = ["hotspots", str(points_csv), "--area", "E07000198", "--out", str(out)]
    assert commands.main(other) == 0
    assert built == [[CODE], ["E07000198"]] and directory_loads == [1, 1]
    capsys.readouterr()


HEAVY = ("streamlit", "sqlalchemy", "folium", "alembic", "plotly")
PROBE = """
import sys
from cli.main import main
statuses = [main(args) for args in {runs!r}]
{extra}
loaded = sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r}))
print("LOADED", ",".join(loaded) or "-", "scipy.stats" in sys.modules, *statuses)
"""


def _loaded(runs: list[list[str]], extra: str = "") -> list[str]:
    """Run the command line's ``main`` on each argument list in one fresh interpreter.

    Returns the heavy modules it loaded (``"-"`` for none), whether ``scipy.stats`` was
    loaded, and each run's exit status.
    """
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(runs=runs, extra=extra, heavy=HEAVY)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("LOADED")), done.stderr)
    return line.split()[1:]


def test_hotspots_imports_neither_the_app_the_database_layer_nor_scipy_stats(tmp_path, points_csv):
    """One interpreter runs the command to CSV and to GeoJSON; the control a second one."""
    area = tmp_path / "area.geojson"
    _fake_outline(["x"]).to_file(area, driver="GeoJSON")
    runs = [
        ["hotspots", str(points_csv), "--area", str(area), "--out", str(tmp_path / out)]
        for out in ("c.csv", "c.geojson")
    ]
    # no heavy module, no scipy.stats (about a second of start-up saved), exit status 0
    assert _loaded(runs) == ["-", "False", "0", "0"]
    # control: the probe does see a module once something imports it
    control = _loaded(runs[1:], extra="import sqlalchemy, scipy.stats")
    assert control == ["sqlalchemy", "True", "0"]


def test_the_geojson_writer_matches_gdal(tmp_path):
    cells = gpd.GeoDataFrame(
        {
            "cell_id": ["a", 'b "quoted"\nline', "ç"],
            "count": np.array([3, 0, 12], dtype="int32"),
            "gi_z": [1.5, np.nan, -0.25],
            "p": [1e-20, 1.0, 0.123456789012345],
            "analysed": [True, False, True],
        },
        geometry=[
            shapely.box(-2.1, 52.4, -2.09, 52.41),
            shapely.Polygon([(-2, 52), (-1.99, 52), (-2, 52.01)], [[(-1.999, 52.001),
                            (-1.998, 52.001), (-1.999, 52.002)]]),
            shapely.MultiPolygon([shapely.box(0, 0, 0.001, 0.001), shapely.box(1, 1, 1.1, 1.1)]),
        ],
        crs="EPSG:4326",
    )  # fmt: skip
    ours, gdal = tmp_path / "ours.geojson", tmp_path / "gdal.geojson"
    commands._write(cells, ours)
    cells.to_file(gdal, driver="GeoJSON", engine="pyogrio", COORDINATE_PRECISION=7)
    back, expected = gpd.read_file(ours), gpd.read_file(gdal)
    pd.testing.assert_frame_equal(
        pd.DataFrame(back.drop(columns="geometry")),
        pd.DataFrame(expected.drop(columns="geometry")),
        check_dtype=False,
    )
    assert back.crs.to_epsg() == 4326
    assert shapely.equals_exact(back.geometry.values, expected.geometry.values, 1e-7).all()
    # control: a cell moved by 2 m no longer matches
    moved = shapely.transform(back.geometry.values, lambda xy: xy + 2e-5)
    assert not shapely.equals_exact(moved, expected.geometry.values, 1e-7).all()


def test_the_csv_writer_gives_the_same_table_from_metres_or_degrees(tmp_path):
    """Cells in British National Grid (as ``hotspots`` passes them for a CSV) or in WGS84
    are written alike: WGS84 outlines, and centres at the square's own centre (to the
    6 decimals written, about 5 cm).
    """
    corners = [(392_000 + 250 * i, 322_000 + 250 * j) for i in range(3) for j in range(2)]
    metres = gpd.GeoDataFrame(
        {"cell_id": [f"c{i}" for i in range(6)], "count": np.arange(6)},
        geometry=[shapely.box(x, y, x + 250, y + 250) for x, y in corners],
        crs="EPSG:27700",
    )
    from_metres, from_degrees = tmp_path / "m.csv", tmp_path / "d.csv"
    commands._write(metres, from_metres)
    commands._write(metres.to_crs(4326), from_degrees)
    a, b = pd.read_csv(from_metres), pd.read_csv(from_degrees)
    assert list(a["wkt"]) == list(b["wkt"]) and a["wkt"].str.startswith("POLYGON ((-2.").all()
    truth = gpd.GeoSeries(
        gpd.points_from_xy([x + 125 for x, _ in corners], [y + 125 for _, y in corners]),
        crs="EPSG:27700",
    ).to_crs(4326)
    for table in (a, b):
        assert np.allclose(table["longitude"], truth.x, rtol=0, atol=6e-7)  # rounding
        assert np.allclose(table["latitude"], truth.y, rtol=0, atol=6e-7)
