"""Benchmark the Map page at 20k, 100k and 1M incidents, and print a table.

An SQLite database is made for each size: the demo (20,000 synthetic Staffordshire
incidents, its places and assessments) and, for the larger sizes, further incidents drawn
from the demo's own ones (same places, dates, types and snapped locations, so the hot spots
and trends keep their shape). Then the real page runs in Streamlit's AppTest, signed in
as a safeguarding lead and as a district officer, and this is measured:

* **first load**: caches cleared, the whole app script (router, sidebar, Map page) run
  once on the default view (last 3 months, all districts, 250 m cells) (target <= 5 s);
* **filter change**: another session with the same warm server cache opens the page with a
  different exploitation type, which the cache has not seen (target <= 1.5 s), and
  **cached view**: opening a view seen before;
* **all layers**: the lead's map with every layer on (density, counts per square, all
  places, and the incident points where there are at most 5,000, else the notice);
* **payload**: the bytes of the map component's arguments as streamlit-folium sends them
  to the browser (the map script, header, HTML and the data layers) (target <= 2 MB);
* **naive payload**: what a folium map with one marker per located incident of the period
  would send (rendered for up to 20,000 markers, scaled linearly above that).

Run: ``.venv/bin/python benchmarks/bench_map.py [--sizes 20000,100000,1000000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

APP = str(ROOT / "dashboard" / "app.py")
NAIVE_SAMPLE = 20_000
_EVENT_COLUMNS = (
    "source_agency",
    "category",
    "occurred_on",
    "date_precision",
    "age_band",
    "sex",
    "online",
    "easting",
    "northing",
    "district_code",
    "ward_code",
    "place_id",
)


def build_base(folder: Path) -> Path:
    """Build the 20,000-incident demo database once."""
    from data.bootstrap import open_database

    path = folder / "demo-20000.db"
    if not path.exists():
        open_database(f"sqlite:///{path}").dispose()
    return path


def grow(base: Path, n: int, folder: Path, *, seed: int = 7) -> Path:
    """Copy the demo database and add incidents resampled from its own, up to ``n``."""
    path = folder / f"demo-{n}.db"
    if path.exists():
        return path
    shutil.copy(base, path)
    with sqlite3.connect(path) as connection:
        have = connection.execute("SELECT count(*) FROM incidents").fetchone()[0]
        extra = n - have
        if extra <= 0:
            return path
        columns = ", ".join(_EVENT_COLUMNS)
        rows = connection.execute(f"SELECT {columns} FROM incidents").fetchall()
        rng = np.random.default_rng(seed)
        pick = rng.integers(0, len(rows), extra)
        now = pd.Timestamp.now(tz="UTC").isoformat(sep=" ")
        placeholders = ", ".join("?" * (len(_EVENT_COLUMNS) + 5))
        connection.executemany(
            f"INSERT INTO incidents ({columns}, source_ref, created_at, updated_at, "
            f"created_by, updated_by) VALUES ({placeholders})",
            (
                (*rows[j], f"bench-{i:08d}", now, now, "benchmark", "benchmark")
                for i, j in enumerate(pick.tolist())
            ),
        )
    return path


def payload_recorder() -> tuple[list[int], Callable[[], None]]:
    """Wrap streamlit-folium's component so that the size of what it sends is recorded."""
    import streamlit_folium

    sizes: list[int] = []
    original = streamlit_folium._component_func

    def recording(**kwargs: Any) -> Any:
        sent = {k: v for k, v in kwargs.items() if k not in ("on_change", "key", "default")}
        sizes.append(len(json.dumps(sent, default=str).encode()))
        return original(**kwargs)

    streamlit_folium._component_func = recording

    def restore() -> None:
        streamlit_folium._component_func = original

    return sizes, restore


def run_page(
    viewer: Any, query: dict[str, str], sizes: list[int], layers: list[str] | None = None
) -> tuple[float, int]:
    """Run the app once in AppTest; return the seconds and the map payload in bytes."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=600)
    at.session_state["viewer"] = viewer
    if layers is not None:
        at.session_state["map_seeded"] = True
        at.session_state["map_layers"] = layers
        for key, value in (("map_conf", 95), ("map_radius", 200), ("map_min", 10)):
            at.session_state[key] = value
    for key, value in query.items():
        at.query_params[key] = value
    before = len(sizes)
    started = time.perf_counter()
    at.run()
    seconds = time.perf_counter() - started
    if at.exception:
        raise SystemExit(f"The Map page failed: {at.exception[0].message}")
    return seconds, sizes[-1] if len(sizes) > before else 0


def naive_payload(path: Path, query_window: tuple[str, str]) -> tuple[int, int, bool]:
    """Return (located incidents in the window, bytes of a marker-per-incident map, scaled)."""
    import folium

    from dashboard.maps import offline_map

    with sqlite3.connect(path) as connection:
        frame = pd.read_sql(
            "SELECT easting, northing FROM incidents WHERE easting IS NOT NULL "
            "AND occurred_on BETWEEN ? AND ?",
            connection,
            params=query_window,
        )
    import geopandas as gpd

    points = gpd.GeoSeries.from_xy(frame["easting"], frame["northing"], crs=27700).to_crs(4326)
    sample = points.iloc[:NAIVE_SAMPLE]
    m = offline_map(bounds=tuple(points.total_bounds))
    for point in sample:
        folium.Marker((point.y, point.x)).add_to(m)
    size = len(m.get_root().render().encode())
    if len(points) > len(sample):
        return len(points), int(size * len(points) / max(len(sample), 1)), True
    return len(points), size, False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,100000,1000000")
    parser.add_argument("--folder", help="keep the databases here (default: a temporary one)")
    args = parser.parse_args()
    sizes_wanted = [int(s) for s in args.sizes.split(",")]
    folder = Path(args.folder or tempfile.mkdtemp(prefix="bench-map-"))
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["SAFER_SPACES_HOME"] = str(folder)
    warnings.simplefilter("ignore")

    import streamlit as st

    from services.access import Viewer
    from store.db import connect
    from store.queries import latest_event_date

    started = time.perf_counter()
    base = build_base(folder)
    print(f"demo database built in {time.perf_counter() - started:.0f} s ({folder})")
    payloads, restore = payload_recorder()
    rows = []
    try:
        for n in sizes_wanted:
            started = time.perf_counter()
            path = grow(base, n, folder)
            fill = time.perf_counter() - started
            url = f"sqlite:///{path}"
            os.environ["SAFER_SPACES_DATABASE_URL"] = url
            engine = connect(url)
            codes = tuple(pd.read_sql("SELECT code FROM districts", engine)["code"])
            latest = latest_event_date(engine)
            engine.dispose()
            lead = Viewer("bench.lead", "lead", codes, "Staffordshire County Council")
            officer = Viewer("bench.officer", "officer", codes[:2], "District council")

            st.cache_data.clear()
            st.cache_resource.clear()
            first, payload = run_page(lead, {}, payloads)
            change, _ = run_page(lead, {"types": "cce"}, payloads)
            cached, _ = run_page(lead, {}, payloads)
            officer_s, officer_payload = run_page(officer, {"types": "cce"}, payloads)
            year_s, year_payload = run_page(lead, {"period": "year"}, payloads)
            every = ["hot", "flags", "density", "counts", "places", "points"]
            every_s, every_payload = run_page(lead, {}, payloads, layers=every)

            end = pd.Timestamp(latest) + pd.offsets.MonthEnd(0)
            start = (end - pd.offsets.MonthBegin(3)).normalize()
            located, naive, scaled = naive_payload(path, (f"{start:%Y-%m-%d}", f"{end:%Y-%m-%d}"))
            rows.append(
                {
                    "incidents": f"{n:,}",
                    "fill s": f"{fill:.0f}",
                    "first load s": f"{first:.2f}",
                    "filter change s": f"{change:.2f}",
                    "cached view s": f"{cached:.2f}",
                    "officer s": f"{officer_s:.2f}",
                    "12 months s": f"{year_s:.2f}",
                    "payload kB": f"{payload / 1e3:.0f}",
                    "officer kB": f"{officer_payload / 1e3:.0f}",
                    "12 months kB": f"{year_payload / 1e3:.0f}",
                    "all layers s": f"{every_s:.2f}",
                    "all layers kB": f"{every_payload / 1e3:.0f}",
                    "in quarter": f"{located:,}",
                    "naive kB": f"{naive / 1e3:,.0f}" + (" (scaled)" if scaled else ""),
                }
            )
            print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    finally:
        restore()
    print()
    print(pd.DataFrame(rows).to_string(index=False))
    print("targets at 1,000,000: first load <= 5 s, filter change <= 1.5 s, payload <= 2,000 kB")


if __name__ == "__main__":
    main()
