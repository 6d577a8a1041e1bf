"""The safer-spaces command line, through its real entry point."""

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import box

from cli.main import build_parser, main
from store.db import connect
from store.queries import load_districts


@pytest.mark.parametrize(
    "command", ["demo", "serve", "upgrade", "boundaries", "hotspots", "emerging"]
)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([command, "--help"])
    assert done.value.code == 0
    assert "usage: safer-spaces " + command in capsys.readouterr().out


def test_the_console_script_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert "serve" in result.stdout and "demo" in result.stdout


def test_demo_then_boundaries_import_replaces_the_approximate_outline(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("SAFER_SPACES_HOME", str(tmp_path))
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["demo", "--db", url]) == 0
    assert "20,000 incidents" in capsys.readouterr().out

    assert main(["demo", "--db", url]) == 2
    assert "already holds data" in capsys.readouterr().err

    stafford = load_districts(connect(url), ("E07000197",))
    official = gpd.GeoDataFrame(
        {"LAD23CD": ["E07000197"], "LAD23NM": ["Stafford"]},
        geometry=[stafford.geometry.iloc[0].envelope],
        crs=27700,
    ).to_crs(4326)
    path = tmp_path / "stafford.geojson"
    official.to_file(path, driver="GeoJSON")
    assert main(["boundaries", str(path), "--db", url]) == 0
    assert "0 added, 1 replaced" in capsys.readouterr().out
    stored = load_districts(connect(url), ("E07000197",)).iloc[0]
    assert stored["source"].startswith("official")
    assert abs(stored.geometry.area - stafford.geometry.iloc[0].envelope.area) < 1e4


def test_a_boundary_file_without_a_crs_is_refused_and_nothing_changes(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["upgrade", "--db", url]) == 0
    path = tmp_path / "nocrs.geojson"
    feature = {
        "type": "Feature",
        "properties": {"LAD23CD": "E07000197", "LAD23NM": "Stafford"},
        "geometry": json.loads(gpd.GeoSeries([box(390000, 320000, 395000, 325000)]).to_json())[
            "features"
        ][0]["geometry"],
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    status = main(["boundaries", str(path), "--db", url])
    err = capsys.readouterr().err
    assert status == 2
    assert "safer-spaces boundaries:" in err and "Traceback" not in err
    assert len(load_districts(connect(url))) == 0


def test_an_unreadable_database_is_reported_on_one_line(tmp_path, capsys):
    path = tmp_path / "broken.db"
    path.write_bytes(b"\x00garbage" * 200)
    assert main(["upgrade", "--db", f"sqlite:///{path}"]) == 2
    err = capsys.readouterr().err
    assert "could not be opened" in err
    assert Path(path).read_bytes() == b"\x00garbage" * 200


def test_approximate_boundaries_for_any_districts(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SAFER_SPACES_HOME", str(tmp_path))
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["boundaries", "--approximate", "E07000197,E07000198", "--db", url]) == 0
    assert "2 added" in capsys.readouterr().out
    stored = load_districts(connect(url))
    assert sorted(stored["code"]) == ["E07000197", "E07000198"]
    assert set(stored["source"]) == {"approximate"}


def test_an_unknown_district_code_is_explained_and_nothing_is_stored(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SAFER_SPACES_HOME", str(tmp_path))
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["boundaries", "--approximate", "E07000197,E0700019", "--db", url]) == 2
    err = capsys.readouterr().err
    assert "E0700019" in err and "Traceback" not in err
    assert len(load_districts(connect(url))) == 0
