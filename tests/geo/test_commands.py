from __future__ import annotations

import argparse
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from cli.hotspots import main, register
from geo.emerging import ESRI_CATEGORIES, SIMPLE_CATEGORIES

from .conftest import X0, Y0

TO_WGS84 = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)


@pytest.fixture
def area_file(tmp_path):
    path = tmp_path / "area.geojson"
    gpd.GeoDataFrame(
        {"name": ["test area"]}, geometry=[shapely.box(X0, Y0, X0 + 3000, Y0 + 3000)], crs=27700
    ).to_file(path, driver="GeoJSON")  # in BNG, so its edges stay on the grid lines
    return path


@pytest.fixture
def incidents_csv(tmp_path, rng):
    rows = []
    for month in pd.period_range("2025-01", periods=12, freq="M"):
        x = np.concatenate((rng.uniform(X0, X0 + 3000, 60), rng.normal(X0 + 1125, 80, 25)))
        y = np.concatenate((rng.uniform(Y0, Y0 + 3000, 60), rng.normal(Y0 + 1125, 80, 25)))
        lon, lat = TO_WGS84.transform(x, y)
        rows.append(pd.DataFrame({"Month": str(month), "Longitude": lon, "Latitude": lat}))
    frame = pd.concat(rows, ignore_index=True)
    frame.loc[3, ["Longitude", "Latitude"]] = np.nan  # a row without a location
    path = tmp_path / "incidents.csv"
    frame.to_csv(path, index=False)
    return path


def test_hotspots_writes_every_cell_as_geojson(tmp_path, incidents_csv, area_file, capsys):
    out = tmp_path / "cells.geojson"
    status = main(["hotspots", str(incidents_csv), "--area", str(area_file), "--out", str(out)])
    assert status == 0
    cells = gpd.read_file(out)
    assert len(cells) == 144  # 3 km / 250 m = 12 x 12
    assert cells.crs.to_epsg() == 4326
    for column in ("cell_id", "count", "gi_z", "p", "q", "bin"):
        assert column in cells.columns
    assert cells["count"].sum() == 12 * 85 - 1
    assert set(cells["bin"]) <= set(range(-3, 4))
    assert (cells["q"] >= cells["p"] - 1e-12).all()
    hot = cells.loc[cells["bin"] == 3, "cell_id"]
    assert f"BNG250m_{int(X0) + 1000}_{int(Y0) + 1000}" in set(hot)
    line = capsys.readouterr()
    assert "144 cells" in line.out and "hot cells" in line.out and " s;" in line.out
    assert "1 of 1020 rows" in line.err  # the row without location is reported
    # neighbouring squares share their vertices exactly
    raw = json.loads(out.read_text())
    first = raw["features"][0]["geometry"]["coordinates"][0]
    assert len(first) == 5


def test_hotspots_csv_output_and_uncorrected_view(tmp_path, incidents_csv, area_file):
    out = tmp_path / "cells.csv"
    args = ["hotspots", str(incidents_csv), "--area", str(area_file), "--cell-size", "500"]
    assert main([*args, "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert len(table) == 36
    assert {"cell_id", "count", "gi_z", "p", "q", "bin", "longitude", "latitude", "wkt"} <= set(
        table.columns
    )
    loose = tmp_path / "loose.csv"
    assert main([*args, "--uncorrected", "--out", str(loose)]) == 0
    assert (pd.read_csv(loose)["bin"] != 0).sum() >= (table["bin"] != 0).sum()


def test_hotspots_on_h3(tmp_path, incidents_csv, area_file):
    out = tmp_path / "hex.geojson"
    status = main(
        [
            "hotspots",
            str(incidents_csv),
            "--grid",
            "h3",
            "--area",
            str(area_file),
            "--out",
            str(out),
        ]
    )
    assert status == 0
    cells = gpd.read_file(out)
    assert cells["cell_id"].str.match(r"^89[0-9a-f]+$").all()
    assert cells["count"].sum() == 12 * 85 - 1


def test_emerging_writes_categories(tmp_path, incidents_csv, area_file, capsys):
    out = tmp_path / "emerging.geojson"
    status = main(
        [
            "emerging",
            str(incidents_csv),
            "--area",
            str(area_file),
            "--cell-size",
            "250",
            "--p-values",
            "normal",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    cells = gpd.read_file(out)
    assert len(cells) == 144
    assert set(cells["category"]) <= set(ESRI_CATEGORIES)
    assert set(cells["simple_category"]) <= set(SIMPLE_CATEGORIES)
    assert cells["mk_p"].between(0, 1).all() and cells["mk_tau"].between(-1, 1).all()
    centre = cells.set_index("cell_id").loc[f"BNG250m_{int(X0) + 1000}_{int(Y0) + 1000}"]
    assert centre["category"] == "Persistent Hot Spot"  # on the normal curve
    assert "12 months 2025-01 to 2025-12" in capsys.readouterr().out


def test_emerging_by_quarter(tmp_path, incidents_csv, area_file, capsys):
    out = tmp_path / "q.csv"
    status = main(
        [
            "emerging",
            str(incidents_csv),
            "--area",
            str(area_file),
            "--period",
            "quarter",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    captured = capsys.readouterr()
    assert "4 quarters" in captured.out
    assert "fewer than 10 periods" in captured.err


def _error(capsys):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1
    return lines[0]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Name,Place\nx,y\n", "Could not find coordinate columns"),
        ("Longitude,Latitude\n-2.1,north\n", "not numbers"),
        ("Longitude,Latitude\n-2.1,95\n", "out of range"),
        ("", "is empty"),
    ],
    ids=["no-columns", "text", "range", "empty"],
)
def test_bad_csv_exits_2_with_one_line(tmp_path, area_file, capsys, body, expected):
    path = tmp_path / "bad.csv"
    path.write_text(body, encoding="utf-8")
    out = tmp_path / "x.geojson"
    assert main(["hotspots", str(path), "--area", str(area_file), "--out", str(out)]) == 2
    assert expected in _error(capsys)
    assert not out.exists()


def test_single_period_exits_2(tmp_path, area_file, capsys):
    path = tmp_path / "one.csv"
    lon, lat = TO_WGS84.transform(X0 + 100, Y0 + 100)
    path.write_text(f"Month,Longitude,Latitude\n2025-01,{lon},{lat}\n", encoding="utf-8")
    status = main(
        ["emerging", str(path), "--area", str(area_file), "--out", str(tmp_path / "e.csv")]
    )
    assert status == 2
    assert "one month" in _error(capsys)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--out", "cells.shp"], ".geojson or .csv"),
        (["--out", "cells.csv", "--area", "missing.geojson"], "no boundary file"),
        (["--out", "cells.csv", "--cell-size", "-5"], "positive"),
    ],
    ids=["extension", "area-file", "cell-size"],
)
def test_usage_errors_exit_2(
    tmp_path, incidents_csv, area_file, capsys, monkeypatch, extra, expected
):
    monkeypatch.chdir(tmp_path)
    args = ["hotspots", str(incidents_csv)]
    if "--area" not in extra:
        args += ["--area", str(area_file)]
    assert main([*args, *extra]) == 2
    assert expected in _error(capsys)


def test_missing_input_exits_2(tmp_path, capsys):
    assert main(["hotspots", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o.csv")]) == 2
    assert "no file" in _error(capsys)


def test_argparse_errors_return_2(capsys):
    assert main(["hotspots"]) == 2
    assert "required" in capsys.readouterr().err


def test_help_and_register(capsys):
    assert main(["hotspots", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--cell-size" in text and "Benjamini-Hochberg" in text and "--area" in text
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["emerging", "in.csv", "--out", "o.geojson"])
    assert args.cell_size == 500 and args.period == "month" and callable(args.handler)


# --- real open data ---------------------------------------------------------------------


@pytest.mark.realdata
@pytest.mark.slow
def test_real_staffordshire_month_hotspots(shared_data, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SAFER_SPACES_HOME", str(tmp_path / "home"))
    out = tmp_path / "cells.geojson"
    source = shared_data / "policeuk_2021-08_staffordshire_street.csv"
    status = main(
        [
            "hotspots",
            str(source),
            "--area",
            str(shared_data / "ons_lad_may2023_buc_staffordshire.geojson"),
            "--out",
            str(out),
        ]
    )
    assert status == 0, capsys.readouterr().err
    summary = capsys.readouterr()
    assert "47 of 7257 rows" in summary.err  # no location, as the data README says
    cells = gpd.read_file(out)
    assert 35_000 < len(cells) < 55_000
    outside = int(summary.out.split(" outside")[0].rsplit(" ", 1)[-1].replace(",", ""))
    assert cells["count"].sum() + outside == 7257 - 47
    assert 0 < outside < 200  # a few Birmingham rows fall outside the 9 districts
    hot = cells[cells["bin"] == 3].to_crs(27700)
    assert len(hot) > 10
    # town centres: Hanley (Stoke-on-Trent), Stafford, Burton upon Trent, Tamworth
    centres = gpd.GeoSeries.from_xy(
        [-2.1752, -2.1168, -1.6346, -1.6950], [53.0245, 52.8067, 52.8036, 52.6335], crs=4326
    ).to_crs(27700)
    for centre in centres:
        assert hot.distance(centre).min() < 1000
    # and quiet moorland is not hot: the Roaches, Staffordshire Moorlands
    roaches = gpd.GeoSeries.from_xy([-2.0047], [53.1622], crs=4326).to_crs(27700).iloc[0]
    assert hot.distance(roaches).min() > 3000


@pytest.mark.realdata
@pytest.mark.slow
def test_real_cannock_monthly_emerging(shared_data, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SAFER_SPACES_HOME", str(tmp_path / "home"))
    out = tmp_path / "emerging.geojson"
    source = shared_data / "policeuk_cannock_2024-12_to_2025-11_points.csv"
    status = main(
        ["emerging", str(source), "--cell-size", "500", "--period", "month", "--out", str(out)]
    )
    assert status == 0, capsys.readouterr().err
    summary = capsys.readouterr().out
    assert "12 months 2024-12 to 2025-11" in summary
    assert "E07000192" in summary  # Cannock Chase, chosen as the default area
    cells = gpd.read_file(out)
    assert set(cells["category"]) <= set(ESRI_CATEGORIES)
    assert cells["mk_p"].between(0, 1).all()
    hot = cells[cells["category"].str.endswith("Hot Spot")]
    assert len(hot) >= 3
    assert cells["count"].sum() > 2000  # most of the 2,363 points fall inside the default area
    # the hot cells are in Cannock itself
    cannock = gpd.GeoSeries.from_xy([-2.0312], [52.6907], crs=4326).to_crs(27700).iloc[0]
    assert hot.to_crs(27700).distance(cannock).min() < 1500


def test_p_values_choice_and_the_notes(tmp_path, incidents_csv, area_file, capsys):
    outs = {}
    for kind in ("exact", "normal"):
        out = tmp_path / f"{kind}.csv"
        args = ["hotspots", str(incidents_csv), "--area", str(area_file), "--out", str(out)]
        assert main([*args, "--p-values", kind]) == 0
        outs[kind] = pd.read_csv(out)
        printed = capsys.readouterr()
        assert f"{kind} p-values" in printed.out
    assert (outs["exact"]["gi_z"] == outs["normal"]["gi_z"]).all()  # the same statistic
    assert not np.allclose(outs["exact"]["p"], outs["normal"]["p"])  # read from another tail
    assert {"inside_share", "analysed"} <= set(outs["exact"].columns)
    sparse_csv = tmp_path / "few.csv"
    pd.read_csv(incidents_csv).head(30).to_csv(sparse_csv, index=False)
    out = tmp_path / "few.geojson"
    assert main(["hotspots", str(sparse_csv), "--area", str(area_file), "--out", str(out)]) == 0
    assert "Try cells of about" in capsys.readouterr().err


def test_emerging_help_states_the_fdr_family_and_its_default(capsys):
    parser = argparse.ArgumentParser(prog="safer-spaces")
    register(parser.add_subparsers(dest="command"))
    with pytest.raises(SystemExit):
        parser.parse_args(["emerging", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "step (default) = each period's cells are one family" in text
    assert "space-time" in text and "--p-values {exact,normal,permutation}" in text
