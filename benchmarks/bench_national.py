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
* **warm-up**: what the server's warm-up thread does: ``dashboard.warm.import_pages``
  (matplotlib and the PDF modules the pages import on first use) and
  ``dashboard.warm.warm``, the opening views of every audience for every preset period,
  caches cleared (target <= 60 s);
* **after the warm-up**, what a person meets on a running server: the same district's
  first Map (a choice the warm-up does not make: its hot spots are computed, the base map
  and outlines are ready) and all England's (the lead's opening view, warmed);
* **peak memory** of the process, ``ru_maxrss`` (target <= 2 GB);
* **import through the command line** (``--import-csv FILE --import-db URL``): the whole
  process ``safer-spaces import incidents FILE --db URL`` into a separate, empty
  PostgreSQL database (COPY path), as ``benchmarks/bench_import.py`` times it (target
  >= 50,000 rows/s). Make the CSV with ``bench_import.py --rows 1000000 --keep DIR``.

Times are server-side script time from the request to the script's end, through
Streamlit's AppTest (the app's real script, router and caches, in this process: no
browser, no WebSocket). ``--skip england,warm`` leaves steps out (district, england,
warm, warmed, squares: all England's last quarter counted per 250 m square in SQL,
``store.queries.square_counts``, a building block for a national Map, with no target of
its own). It prints one table,
with the rows in the database (every figure depends on them) and the machine's load.
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
sys.path.insert(0, str(ROOT / "benchmarks"))

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


def _cpu() -> float:
    """Return this process's CPU seconds so far (user + system, every thread)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the national database (postgresql+psycopg://...)")
    parser.add_argument("--district", default=DISTRICT, help="the one district's code")
    parser.add_argument("--import-csv", type=Path, help="a CSV of incidents to import")
    parser.add_argument("--import-db", help="an empty PostgreSQL database for the import")
    parser.add_argument(
        "--skip", default="", help="steps to leave out: district,england,warm,warmed,squares"
    )
    args = parser.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    os.environ["SAFER_SPACES_DATABASE_URL"] = args.url
    os.environ["SAFER_SPACES_WARM"] = "0"  # the warm-up is measured on its own
    warnings.simplefilter("ignore")

    import pandas as pd
    import streamlit as st
    from sqlalchemy import func, select

    from services.access import Viewer
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
        from services.users import ensure_demo_users

        ensure_demo_users(engine)
    print(", ".join(f"{v:,} {k}" for k, v in rows.items()), flush=True)
    print(_load(), flush=True)
    lead = Viewer("lead", "lead", codes)
    results: list[tuple[str, float, float, str, float | None]] = []
    if "district" not in skip:
        cpu = _cpu()
        seconds = run_map(lead, {"districts": args.district})
        label = "a district's first Map, cold process (s)"
        results.append((label, seconds, 3.0, "<=", _cpu() - cpu))
        print(f"district: {seconds:.1f} s; {_load()}", flush=True)
        st.cache_data.clear()
        st.cache_resource.clear()
    if "england" not in skip:
        cpu = _cpu()
        seconds = run_map(lead, {})
        label = f"all England's first Map, {len(codes)} districts (s)"
        results.append((label, seconds, 8.0, "<=", _cpu() - cpu))
        print(f"England: {seconds:.1f} s; {_load()}", flush=True)
        st.cache_data.clear()
        st.cache_resource.clear()
    if "warm" not in skip:
        from dashboard import loaders, warm

        started, cpu = time.perf_counter(), _cpu()
        warm.import_pages()  # as the server's warm-up thread does first
        views = warm.warm(loaders.data_version(), date.today())
        seconds = time.perf_counter() - started
        results.append((f"warm-up, {views} views (s)", seconds, 60.0, "<=", _cpu() - cpu))
        print(f"warm-up: {results[-1][1]:.1f} s; {_load()}", flush=True)
        if "warmed" not in skip:  # what a person then meets on the running server
            for label, query, target in (
                ("a district's first Map after the warm-up (s)", {"districts": args.district}, 3.0),
                ("all England's first Map after the warm-up (s)", {}, 8.0),
            ):
                cpu = _cpu()
                seconds = run_map(lead, query)
                results.append((label, seconds, target, "<=", _cpu() - cpu))
                print(f"{label}: {seconds:.1f} s; {_load()}", flush=True)
    if "squares" not in skip:
        # the building block for a national Map: the rows stay in the database, which
        # counts them per 250 m square (store.queries.square_counts); no target of its own
        from store.queries import EventFilter, latest_event_date, square_counts

        last = latest_event_date(engine)
        assert last is not None
        first = (pd.Timestamp(last) - pd.DateOffset(months=2)).replace(day=1).date()
        started, cpu = time.perf_counter(), _cpu()
        squares = square_counts(engine, EventFilter(start=first, end=last), size=250)
        seconds = time.perf_counter() - started
        label = f"all England's quarter per 250 m square in SQL, {len(squares):,} squares (s)"
        results.append((label, seconds, float("nan"), "<=", _cpu() - cpu))
        print(f"squares: {seconds:.1f} s; {_load()}", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB -> GB
    results.append(("peak memory of the app process (GB)", peak, 2.0, "<=", None))
    if args.import_csv is not None and args.import_db:
        from bench_import import time_cli_import

        with args.import_csv.open("rb") as handle:
            lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(2**20), b""))
        n = lines - 1  # the header
        seconds, cpu, said = time_cli_import(args.import_csv, args.import_db)
        print(f"import: {n:,} rows in {seconds:.1f} s ({cpu:.1f} CPU s); {said}", flush=True)
        label = f"CLI import of {n:,} rows into PostgreSQL (rows/s)"
        results.append((label, n / seconds, 50_000, ">=", cpu))
    columns = ["measure", "measured", "target", "need", "CPU s"]
    table = pd.DataFrame(results, columns=columns)
    table["met"] = [
        "-" if t != t else ("yes" if ((m <= t) if need == "<=" else (m >= t)) else "NO")
        for m, t, need in zip(table["measured"], table["target"], table["need"], strict=True)
    ]
    table["target"] = [
        "-" if t != t else f"{need} {t:,.0f}"
        for t, need in zip(table["target"], table["need"], strict=True)
    ]
    print()
    print(", ".join(f"{v:,} {k}" for k, v in rows.items()) + f"; {_load()}")
    table = table[["measure", "measured", "target", "met", "CPU s"]]
    print(table.round(2).to_string(index=False, na_rep="-"))
    print(
        "CPU s: this process's CPU (user + system) during the step; the import's is the "
        "import process's. PostgreSQL's CPU is not counted."
    )


if __name__ == "__main__":
    main()
