"""Benchmark ``safer-spaces hotspots`` as a whole process against a minimal esda script.

Writes a police.uk-like CSV of synthetic incidents (``Month``, ``Longitude``,
``Latitude``, ``Crime type``; clusters around 40 centres plus a uniform background)
over the 9 districts of Staffordshire and Stoke-on-Trent, then times, each as a fresh
process from start to finish (wall clock, best of ``--repeat``):

* ours: ``safer-spaces hotspots FILE --area CODES --cell-size 250 --out cells.geojson``
  (exact randomisation p-values, the default), and with ``--out cells.csv``;
* the reference: a minimal pandas + geopandas + libpysal + esda script doing the
  same job: read the CSV, project the points, build the 250 m squares over the same
  area, count the points in each (a spatial join), Queen contiguity, ``esda.G_Local``
  (Gi*, analytic p-values), write every cell as GeoJSON;
* the start-up alone: ``safer-spaces hotspots --help`` and ``python -c 'import esda'``.

The area's outlines are built once beforehand (and cached in ``SAFER_SPACES_HOME``),
and the reference reads the same outlines from a GeoPackage, so neither pays for
building them. Target: ours at least 3 times faster at 1,000,000 incidents.

Run: ``.venv/bin/python benchmarks/bench_cli.py [--rows 1000000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

CODES = "E07000192,E07000193,E07000194,E07000195,E07000196,E07000197,E07000198,E07000199,E06000021"
BIN = Path(sys.executable).parent

REFERENCE = """
import sys, warnings
import numpy as np, pandas as pd, geopandas as gpd, shapely, libpysal, esda

csv, area_file, out = sys.argv[1:4]
size = 250.0
frame = pd.read_csv(csv)
points = gpd.GeoDataFrame(
    geometry=gpd.points_from_xy(frame["Longitude"], frame["Latitude"]), crs="EPSG:4326"
).to_crs("EPSG:27700")
area = gpd.read_file(area_file).to_crs("EPSG:27700")
minx, miny, maxx, maxy = area.total_bounds
xs = np.arange(np.floor(minx / size) * size, maxx, size)
ys = np.arange(np.floor(miny / size) * size, maxy, size)
gx, gy = np.meshgrid(xs, ys)
boxes = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + size, gy.ravel() + size)
grid = gpd.GeoDataFrame(geometry=boxes, crs="EPSG:27700")
whole = area.union_all()
grid = grid.loc[grid.intersects(whole)].reset_index(drop=True)
joined = gpd.sjoin(points, grid, predicate="within")
grid["count"] = joined.groupby("index_right").size().reindex(grid.index, fill_value=0).to_numpy()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    w = libpysal.weights.Queen.from_dataframe(grid, use_index=False, silence_warnings=True)
    g = esda.G_Local(grid["count"].astype(float).to_numpy(), w, transform="B", star=True,
                     permutations=0)
grid["gi_z"] = g.Zs
grid["p"] = g.p_norm
grid.to_crs("EPSG:4326").to_file(out, driver="GeoJSON")
print(len(grid), "cells")
"""


def write_points(path: Path, rows: int, seed: int = 11) -> None:
    """Write the synthetic police.uk-like CSV over the demo area."""
    from pyproj import Transformer

    from geo.boundaries import district_boundaries

    area = district_boundaries(CODES.split(",")).union_all()
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = area.bounds
    import shapely

    cx = rng.uniform(minx, maxx, 400)
    cy = rng.uniform(miny, maxy, 400)
    keep = shapely.contains_xy(area, cx, cy)
    cx, cy = cx[keep][:40], cy[keep][:40]
    n_bg = rows * 3 // 10
    which = rng.integers(0, cx.size, rows - n_bg)
    spread = rng.uniform(250, 1500, cx.size)[which]
    x = np.concatenate((rng.uniform(minx, maxx, n_bg), cx[which] + rng.normal(0, spread)))
    y = np.concatenate((rng.uniform(miny, maxy, n_bg), cy[which] + rng.normal(0, spread)))
    lon, lat = Transformer.from_crs(27700, 4326, always_xy=True).transform(x, y)
    months = pd.period_range("2024-01", periods=24, freq="M").astype(str).to_numpy()
    pd.DataFrame(
        {
            "Crime ID": np.arange(rows),
            "Month": months[rng.integers(0, 24, rows)],
            "Longitude": np.round(lon, 6),
            "Latitude": np.round(lat, 6),
            "Crime type": "Anti-social behaviour",
        }
    ).to_csv(path, index=False)


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run a command as a fresh process; return its wall-clock and CPU seconds, last line.

    The CPU seconds (user + system, the process and its threads) say the same on a busy
    shared machine, where the wall clock mostly measures the queue for the cores.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    lines = (done.stdout or done.stderr).strip().splitlines()
    return seconds, cpu, lines[-1][:90] if lines else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="folder for the CSV and outputs (kept)")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-cli-"))
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("SAFER_SPACES_HOME", str(folder / "home"))
    os.environ["SAFER_SPACES_HOME"] = env["SAFER_SPACES_HOME"]
    from geo.boundaries import district_boundaries

    area = folder / "area.gpkg"
    district_boundaries(CODES.split(",")).to_file(area, driver="GPKG")  # builds the cache
    points = folder / f"points-{args.rows}.csv"
    if not points.is_file():
        write_points(points, args.rows)
    script = folder / "reference.py"
    script.write_text(REFERENCE, encoding="utf-8")
    cli = str(BIN / "safer-spaces")
    runs = {
        "start-up: safer-spaces hotspots --help": [cli, "hotspots", "--help"],
        "start-up: python -c 'import esda, geopandas'": [
            sys.executable,
            "-c",
            "import esda, geopandas, libpysal",
        ],
        "ours, GeoJSON out": [
            cli, "hotspots", str(points), "--area", CODES, "--cell-size", "250",
            "--out", str(folder / "ours.geojson"),
        ],
        "ours, CSV out": [
            cli, "hotspots", str(points), "--area", CODES, "--cell-size", "250",
            "--out", str(folder / "ours.csv"),
        ],
        "reference (pandas + geopandas + libpysal + esda)": [
            sys.executable, str(script), str(points), str(area), str(folder / "ref.geojson"),
        ],
    }  # fmt: skip
    rows = []
    for name, command in runs.items():
        best, cpu, line = min(timed(command, env) for _ in range(args.repeat))
        rows.append({"run": name, "seconds": round(best, 2), "CPU s": round(cpu, 2), "says": line})
        print(f"{name}: {best:.2f} s ({cpu:.2f} CPU s)", flush=True)
    table = pd.DataFrame(rows)
    is_reference = table["run"].str.startswith("reference")
    reference = table.loc[is_reference, "seconds"].iloc[0]
    table["reference / this"] = (reference / table["seconds"]).round(2)
    reference_cpu = table.loc[is_reference, "CPU s"].iloc[0]
    table["reference / this (CPU)"] = (reference_cpu / table["CPU s"]).round(2)
    print(f"\n{args.rows:,} incidents, 250 m squares, best of {args.repeat}, {folder}")
    print(table.drop(columns="says").to_string(index=False))
    print("target: ours at least 3x faster than the reference, start to finish")


if __name__ == "__main__":
    main()
