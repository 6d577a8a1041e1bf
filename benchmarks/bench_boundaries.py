"""Benchmark approximate district boundaries: build time, accuracy and map payload.

Run from the repository root::

    .venv/bin/python benchmarks/bench_boundaries.py [CODE ...]

Prints the time to build the districts cold (postcode directory load, build, cache
write) and warm (cache read), then per district: intersection-over-union against the
ONS May 2023 BUC outlines when ../shared/data is present, vertex count and the size
of the GeoJSON sent to the browser in WGS84.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import shapely  # noqa: E402

from geo.boundaries import (  # noqa: E402
    DEFAULT_AREA,
    approximate_district_boundaries,
    district_boundaries,
    read_boundary_file,
)
from geo.postcodes import load_postcode_directory  # noqa: E402

ONS_FILE = REPO_ROOT.parent / "shared" / "data" / "ons_lad_may2023_buc_staffordshire.geojson"


def _timed(label: str, timings: list[tuple[str, float]], func, *args, **kwargs):
    start = time.perf_counter()
    result = func(*args, **kwargs)
    timings.append((label, time.perf_counter() - start))
    return result


def _geojson_bytes(gdf: gpd.GeoDataFrame, *, decimals: int | None = None) -> int:
    wgs84 = gdf.to_crs("EPSG:4326")
    if decimals is not None:
        wgs84["geometry"] = shapely.transform(
            wgs84.geometry.to_numpy(), lambda xy: np.round(xy, decimals)
        )
    return len(wgs84.to_json().encode())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("codes", nargs="*", default=list(DEFAULT_AREA))
    args = parser.parse_args(argv)
    codes: list[str] = args.codes

    timings: list[tuple[str, float]] = []
    _timed("load postcode directory (cold)", timings, load_postcode_directory)
    _timed("build approximate boundaries", timings, approximate_district_boundaries, codes)
    with tempfile.TemporaryDirectory() as folder:
        cache = Path(folder)
        _timed("district_boundaries, empty cache", timings, district_boundaries, codes,
               cache_dir=cache)  # fmt: skip
        gdf = _timed("district_boundaries, warm cache", timings, district_boundaries, codes,
                     cache_dir=cache)  # fmt: skip
    print(f"Approximate boundaries for {len(codes)} districts\n")
    print(pd.DataFrame(timings, columns=["step", "seconds"]).round(3).to_string(index=False))

    table = pd.DataFrame(
        {
            "code": gdf["code"],
            "name": gdf["name"],
            "area_km2": (gdf.area / 1e6).round(1),
            "vertices": shapely.get_num_coordinates(gdf.geometry.to_numpy()),
            "parts": shapely.get_num_geometries(gdf.geometry.to_numpy()),
        }
    )
    if ONS_FILE.exists():
        ons = read_boundary_file(ONS_FILE).set_index("code")
        known = table["code"].isin(ons.index)
        iou = [
            shapely.area(shapely.intersection(g, ons.geometry[c]))
            / shapely.area(shapely.union(g, ons.geometry[c]))
            for c, g in zip(gdf["code"][known], gdf.geometry[known], strict=True)
        ]
        table.loc[known, "iou_vs_ons"] = np.round(iou, 3)
        table.loc[known, "ons_vertices"] = shapely.get_num_coordinates(
            ons.geometry[table["code"][known]].to_numpy()
        )
    else:
        print(f"\n({ONS_FILE} is absent: no comparison with the ONS outlines)")
    print("\n" + table.to_string(index=False))
    if "iou_vs_ons" in table:
        print(f"\nIoU: min {table['iou_vs_ons'].min():.3f}, mean {table['iou_vs_ons'].mean():.3f}")
    raw, rounded = _geojson_bytes(gdf), _geojson_bytes(gdf, decimals=5)
    print(
        f"\nGeoJSON in WGS84: {raw / 1024:.0f} KiB as written, {rounded / 1024:.0f} KiB with "
        f"coordinates rounded to 5 decimals (about 1 m); {table['vertices'].sum()} vertices"
    )


if __name__ == "__main__":
    main()
