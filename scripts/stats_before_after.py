"""Before/after figures of issue 16 on the demo, for any checkout of the project.

Run ``python scripts/stats_before_after.py CHECKOUT`` (e.g. ``/work/main`` and then
``.``): prints hot cells, emerging categories and flagged places (with how many have five
or more other flagged places within 400 m) as JSON, computed by that checkout's code.
"""

from __future__ import annotations

import json
import sys
import warnings

CHECKOUT = sys.argv[1] if len(sys.argv) > 1 else "."
sys.path.insert(0, CHECKOUT)

import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

from data.demo import DEFAULT_AREA, build_demo  # noqa: E402
from geo.boundaries import district_boundaries  # noqa: E402
from geo.emerging import emerging_hotspots  # noqa: E402
from geo.grid import build_grid  # noqa: E402
from geo.hotspots import hotspot_cells  # noqa: E402
from store.sites import as_points, flag_sites  # noqa: E402

PERIODS = (("Oct 2026", "2026-10", "2026-10"), ("Aug-Oct 2026", "2026-08", "2026-10"))
TRENDS = ["New Hot Spot", "Intensifying Hot Spot", "Consecutive Hot Spot"]
PATTERNS = [f"P000{i}" for i in range(1, 8)]


def main() -> None:
    """Print the figures of the checkout as JSON."""
    warnings.simplefilter("ignore")
    demo = build_demo()
    inc = demo.incidents.loc[~demo.incidents["online"] & demo.incidents["easting"].notna()].copy()
    inc["month"] = pd.to_datetime(inc["occurred_on"]).dt.strftime("%Y-%m")
    keys = ["easting", "northing", "month", "category"]
    sites = inc.groupby(keys).size().rename("n").reset_index()
    grid = build_grid(district_boundaries(list(DEFAULT_AREA)), cell_size=250)
    out: dict[str, object] = {"checkout": CHECKOUT, "cells": grid.n_cells}
    pts = as_points(sites)
    for label, first, last in PERIODS:
        chosen = pts.loc[(pts["period"] >= first) & (pts["period"] <= last)]
        one_each = chosen.loc[chosen.index.repeat(chosen["n"])]
        cells = hotspot_cells(one_each, grid)
        out[f"hot cells {label}"] = int(((cells["q"] < 0.05) & (cells["gi_z"] > 0)).sum())
    window = pd.period_range("2025-11", "2026-10", freq="M")
    result = emerging_hotspots(pts, grid, window=window, weight_column="n")
    category = pd.Series(result.category).value_counts()
    out["emerging"] = category.drop("No Pattern Detected", errors="ignore").to_dict()
    out["simple"] = pd.Series(result.simple_category).value_counts().to_dict()
    places = gpd.GeoDataFrame(
        {
            "id": range(len(demo.places)),
            "name": demo.places["name"],
            "category": demo.places["category"],
            "district_code": demo.places["district_code"],
            "active": demo.places["active"],
        },
        geometry=gpd.points_from_xy(demo.places["easting"], demo.places["northing"]),
        crs=27700,
    )
    key_of = dict(zip(places["id"], demo.places["place_key"], strict=True))
    for label, first, last in PERIODS:
        flags = flag_sites(places, sites, grid, first=first, last=last)
        bng = flags.to_crs(27700).geometry
        xy = np.column_stack([bng.x, bng.y])
        crowded = 0
        if len(flags):
            near = cKDTree(xy).query_ball_point(xy, 400)
            crowded = int(sum(len(n) - 1 >= 5 for n in near))
        trend = flags["trend"].isin(TRENDS)
        out[f"flagged {label}"] = len(flags)
        out[f"flagged with >=5 other flagged within 400 m {label}"] = crowded
        out[f"trend flags {label}"] = int(trend.sum())
        few = trend & (flags["incidents"] < 5)
        out[f"trend flags with <5 incidents {label}"] = int(few.sum())
        planted = flags.loc[flags["id"].map(key_of).isin(PATTERNS)]
        out[f"patterns flagged {label}"] = sorted(
            f"{key_of[i]}:{t or '-'}" for i, t in zip(planted["id"], planted["trend"], strict=True)
        )
    print(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
