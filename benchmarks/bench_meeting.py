"""Benchmark the Meeting page's figures and the meeting pack at 20k, 100k and 1M incidents.

The databases are those of ``bench_map.py`` (the demo, grown by resampling its own
incidents). For each size this prints the time to compute every figure of the meeting for
all districts and the last 3 months (``reports.meeting.figures_for``, cold: what the first
person to open Meeting waits for; later views come from the cache), to draw the map of
emerging hot spots, and to make the pack's HTML and PDF, with their sizes.

Run: ``.venv/bin/python benchmarks/bench_meeting.py [--sizes 20000,100000,1000000]``.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
import warnings
from datetime import date, datetime
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from benchmarks.bench_map import build_base, grow  # noqa: E402


def measure(path: Path) -> dict[str, str]:
    """Return the timings and sizes for one database."""
    from pypdf import PdfReader

    from reports import pack
    from reports.charts import emerging_map_png
    from reports.meeting import figures_for
    from services.audience import Audience
    from store import queries
    from store.db import connect

    engine = connect(f"sqlite:///{path}")
    districts = queries.load_districts(engine)
    last = pd.Period(queries.latest_event_date(engine), freq="M")
    started = time.perf_counter()
    figures = figures_for(
        engine,
        tuple(districts["code"]),
        first=str(last - 2),
        last=str(last),
        today=date.today(),
        audience=Audience.for_role("viewer", tuple(districts["code"])),
    )
    seconds_figures = time.perf_counter() - started
    started = time.perf_counter()
    picture = emerging_map_png(figures, districts)
    seconds_map = time.perf_counter() - started
    context = pack.pack_context(
        filters="All",
        latest=last.end_time.date(),
        last_import=None,
        demo=True,
        approximate=True,
        audience="Steering group member",
        now=datetime.now(),
    )
    started = time.perf_counter()
    deck = pack.slides(figures, districts, map_png=picture)
    html = pack.pack_html(figures, context, deck)
    seconds_html = time.perf_counter() - started
    started = time.perf_counter()
    pdf = pack.pack_pdf(figures, context, deck)
    seconds_pdf = time.perf_counter() - started
    engine.dispose()
    return {
        "figures s": f"{seconds_figures:.2f}",
        "map s": f"{seconds_map:.2f}",
        "slides+HTML s": f"{seconds_html:.2f}",
        "PDF s": f"{seconds_pdf:.2f}",
        "HTML kB": f"{len(html.encode()) / 1024:,.0f}",
        "PDF kB": f"{len(pdf) / 1024:,.0f}",
        "PDF pages": str(len(PdfReader(io.BytesIO(pdf)).pages)),
        "flagged": next(f.value for f in figures.headline if f.key == "flagged_places"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,100000,1000000")
    parser.add_argument("--folder", help="keep the databases here (default: a temporary one)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.folder or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        base = build_base(folder)
        rows = []
        for n in (int(s) for s in args.sizes.split(",")):
            row = {"incidents": f"{n:,}", **measure(grow(base, n, folder))}
            rows.append(row)
            print(pd.DataFrame(rows).to_string(index=False), flush=True)
            print()
    print("All districts, last 3 months, a steering group member's view; SQLite.")


if __name__ == "__main__":
    main()
