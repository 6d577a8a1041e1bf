"""Benchmark the app's server work on the national dataset (PostgreSQL), and print a table.

Fill the database first, once (heavy: run it niced, in the background)::

    createdb national
    nice -n 19 .venv/bin/python benchmarks/generate.py \\
        postgresql+psycopg://USER@HOST/national --national

Then::

    .venv/bin/python benchmarks/bench_national.py postgresql+psycopg://USER@HOST/national

This process plays one app process. It adds the demo accounts when the database has
no users (the warm-up computes what each kind of account sees first), then measures:

* **a district's first Map**: the whole app script (router, sidebar, Map page) in
  Streamlit's AppTest, signed in as a safeguarding lead, for one district (Stafford,
  E07000197), on a cold process: every cache empty (target <= 3 s);
* **all England's first Map**: the same for every district, caches cleared (<= 8 s);
* **warm-up**: ``dashboard.warm.warm``, the opening views of every audience for every
  preset period, caches cleared (target <= 60 s);
* **peak memory** of the process, ``ru_maxrss`` (target <= 2 GB).

The table gives the rows in the database, since every figure depends on them.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import warnings
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

APP = str(ROOT / "dashboard" / "app.py")
DISTRICT = "E07000197"  # Stafford


def run_map(viewer: Any, query: dict[str, str]) -> float:
    """Run the app once (the Map page) in AppTest; return the seconds."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=900)
    at.session_state["viewer"] = viewer
    for key, value in query.items():
        at.query_params[key] = value
    started = time.perf_counter()
    at.run()
    seconds = time.perf_counter() - started
    if at.exception:
        raise SystemExit(f"The Map page failed: {at.exception[0].message}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the national database (postgresql+psycopg://...)")
    parser.add_argument("--district", default=DISTRICT, help="the one district's code")
    args = parser.parse_args()
    os.environ["SAFER_SPACES_DATABASE_URL"] = args.url
    os.environ["SAFER_SPACES_WARM"] = "0"  # the warm-up is measured on its own
    warnings.simplefilter("ignore")

    import pandas as pd
    import streamlit as st
    from sqlalchemy import func, select

    from store.access import Viewer
    from store.db import connect
    from store.models import District, Incident, Place, Referral, User

    engine = connect(args.url)
    with engine.connect() as connection:
        rows = {
            m.__tablename__: int(connection.scalar(select(func.count()).select_from(m)))
            for m in (District, Place, Incident, Referral, User)
        }
        codes = tuple(connection.scalars(select(District.code).order_by(District.code)))
    if not rows["users"]:
        from store.users import ensure_demo_users

        ensure_demo_users(engine)
    print(", ".join(f"{v:,} {k}" for k, v in rows.items()), flush=True)
    lead = Viewer("lead", "lead", codes)
    results = []
    seconds = run_map(lead, {"districts": args.district})
    results.append(("a district's first Map (cold process)", seconds, 3.0))
    print(f"district: {seconds:.1f} s", flush=True)
    st.cache_data.clear()
    seconds = run_map(lead, {})
    results.append((f"all England's first Map ({len(codes)} districts)", seconds, 8.0))
    print(f"England: {seconds:.1f} s", flush=True)
    st.cache_data.clear()
    from dashboard import loaders, warm

    started = time.perf_counter()
    views = warm.warm(loaders.data_version(), date.today())
    results.append((f"warm-up ({views} views)", time.perf_counter() - started, 60.0))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB -> GB
    results.append(("peak memory of the process (GB)", peak, 2.0))
    table = pd.DataFrame(results, columns=["measure", "seconds or GB", "target"])
    table["met"] = table["seconds or GB"] <= table["target"]
    print()
    print(table.round(2).to_string(index=False))


if __name__ == "__main__":
    main()
