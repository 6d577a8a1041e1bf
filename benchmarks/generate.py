"""Fill a database with a force-sized synthetic dataset, reproducibly, and print the timings.

By default: 1,000,000 incidents and 100,000 referrals over 36 months across the 9 districts
of Staffordshire and Stoke-on-Trent, with the demo's 480 places, its place assessments
(findings and actions) and the demo accounts. It is the embedded demo
(``data.demo.build_demo``) made larger: the same clusters around town centres and transport
hubs, the planted persistent, new, intensifying and diminishing hot spots, the seasons. The
same arguments always give the same rows (only the ``created_at`` times differ); SQLite and
PostgreSQL get identical data.

Rows are written in one transaction: PostgreSQL through ``COPY ... FROM STDIN`` (psycopg),
SQLite through ``executemany`` in chunks. ``ANALYZE`` runs at the end so that the query
planner knows the table sizes. The database must be empty (a new SQLite file, or a new
PostgreSQL database: ``createdb safer_bench``); its schema is created here.

Run::

    .venv/bin/python benchmarks/generate.py sqlite:///var/bench-1m.db
    .venv/bin/python benchmarks/generate.py postgresql+psycopg://user@127.0.0.1/safer_bench
    .venv/bin/python benchmarks/generate.py sqlite:///var/small.db --incidents 5000 \\
        --referrals 500 --months 12
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from sqlalchemy import Connection, Engine, func, insert, select, text  # noqa: E402

from services.disclosure import new_record_keys  # noqa: E402
from store.models import Incident, Referral  # noqa: E402

CHUNK = 100_000


def _clean(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the frame with integer ids as nullable integers and the tracking times set."""
    now = datetime.now(UTC)
    out = frame.assign(created_at=now, updated_at=now)
    if "record_key" not in out:
        out["record_key"] = new_record_keys(len(out))
    if "place_id" in out:
        out["place_id"] = out["place_id"].astype("Int64")
    return out


def copy_events(connection: Connection, model: type[Incident], frame: pd.DataFrame) -> None:
    """Write events with PostgreSQL's ``COPY ... FROM STDIN`` (CSV), in chunks."""
    frame = _clean(frame)
    columns = ", ".join(frame.columns)
    raw = connection.connection.driver_connection
    with raw.cursor() as cursor:
        for start in range(0, len(frame), CHUNK):
            buffer = io.StringIO()
            frame.iloc[start : start + CHUNK].to_csv(
                buffer, index=False, header=False, date_format="%Y-%m-%d %H:%M:%S.%f%z"
            )
            sql = f"COPY {model.__tablename__} ({columns}) FROM STDIN WITH (FORMAT csv)"
            with cursor.copy(sql) as copy:
                copy.write(buffer.getvalue())


def executemany_events(connection: Connection, model: type[Incident], frame: pd.DataFrame) -> None:
    """Write events with SQLAlchemy's ``executemany``, in chunks (SQLite)."""
    frame = _clean(frame)
    for start in range(0, len(frame), CHUNK):
        chunk = frame.iloc[start : start + CHUNK]
        clean = chunk.astype(object).where(chunk.notna(), None)
        connection.execute(insert(model), clean.to_dict("records"))


def counts(engine: Engine) -> dict[str, int]:
    """Return the number of rows in the tables the generator fills."""
    from store.models import Action, Assessment, District, Finding, Place, User

    with engine.connect() as connection:
        return {
            model.__tablename__: int(connection.scalar(select(func.count()).select_from(model)))
            for model in (District, Place, Incident, Referral, Assessment, Finding, Action, User)
        }


def analyze(engine: Engine) -> None:
    """Refresh the planner's statistics (``ANALYZE``) after the bulk load."""
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))


def generate(
    url: str,
    *,
    incidents: int,
    referrals: int,
    months: int,
    seed: int,
    end: date,
    cache_dir: Path | None = None,
) -> list[tuple[str, float]]:
    """Create the schema and fill an empty database; return (stage, seconds) pairs."""
    from data.load import load_demo
    from store.db import connect, upgrade

    timings = []
    started = time.perf_counter()
    engine = connect(url)
    upgrade(engine)
    timings.append(("schema", time.perf_counter() - started))
    writer = copy_events if engine.dialect.name == "postgresql" else executemany_events
    started = time.perf_counter()
    load_demo(
        engine,
        end=end,
        seed=seed,
        n_incidents=incidents,
        n_referrals=referrals,
        months=months,
        cache_dir=cache_dir,
        write_events=writer,
    )
    timings.append(("build and store (one transaction)", time.perf_counter() - started))
    started = time.perf_counter()
    analyze(engine)
    timings.append(("ANALYZE", time.perf_counter() - started))
    engine.dispose()
    return timings


def main(argv: list[str] | None = None) -> int:
    from data.demo import DEFAULT_END
    from data.load import DemoError
    from store.db import DatabaseError, connect, describe_url

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="an empty database: sqlite:///FILE or postgresql+psycopg://")
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--referrals", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument(
        "--end",
        type=date.fromisoformat,
        default=DEFAULT_END,
        help=f"last day of the data (default {DEFAULT_END})",
    )
    parser.add_argument("--cache-dir", type=Path, help="where district outlines are cached")
    parser.add_argument(
        "--national",
        action="store_true",
        help="all English districts (PostgreSQL only; benchmarks/national.py), committed in "
        "chunks; defaults then 10,000,000 incidents, 1,000,000 referrals, 20,000 places",
    )
    parser.add_argument("--places", type=int, default=20_000, help="places (--national)")
    args = parser.parse_args(argv)
    if args.national:
        return _national(args, parser)
    print(
        f"Filling {describe_url(args.url)}: {args.incidents:,} incidents, "
        f"{args.referrals:,} referrals, {args.months} months to {args.end}, seed {args.seed}",
        flush=True,
    )
    total = time.perf_counter()
    try:
        timings = generate(
            args.url,
            incidents=args.incidents,
            referrals=args.referrals,
            months=args.months,
            seed=args.seed,
            end=args.end,
            cache_dir=args.cache_dir,
        )
    except (DatabaseError, DemoError, ValueError) as error:
        print(f"Nothing was generated: {error}", file=sys.stderr)
        return 2
    timings.append(("total", time.perf_counter() - total))
    print(pd.DataFrame(timings, columns=["stage", "seconds"]).round(1).to_string(index=False))
    engine = connect(args.url)
    stored = counts(engine)
    engine.dispose()
    print(pd.Series(stored, name="rows").rename_axis("table").to_frame().to_string())
    rate = (stored["incidents"] + stored["referrals"]) / max(timings[1][1], 1e-9)
    print(f"{rate:,.0f} events a second (built and stored)")
    return 0


def _national(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from national import generate_national

    from store.db import connect, describe_url, upgrade

    if not args.url.startswith("postgresql"):
        parser.error("--national needs a PostgreSQL database")
    incidents = args.incidents if "--incidents" in sys.argv else 10_000_000
    referrals = args.referrals if "--referrals" in sys.argv else 1_000_000
    print(
        f"Filling {describe_url(args.url)} (national): {incidents:,} incidents, "
        f"{referrals:,} referrals, {args.places:,} places, {args.months} months to {args.end}",
        flush=True,
    )
    total = time.perf_counter()
    engine = connect(args.url)
    upgrade(engine)
    timings = [("schema", time.perf_counter() - total)]
    timings += generate_national(
        engine,
        incidents=incidents,
        referrals=referrals,
        places=args.places,
        months=args.months,
        end=args.end,
        seed=args.seed,
        say=lambda line: print(line, flush=True),
    )
    timings.append(("total", time.perf_counter() - total))
    print(pd.DataFrame(timings, columns=["stage", "seconds"]).round(1).to_string(index=False))
    stored = counts(engine)
    print(pd.Series(stored, name="rows").rename_axis("table").to_frame().to_string())
    engine.dispose()
    import resource

    events = stored["incidents"] + stored["referrals"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{events / timings[-1][1]:,.0f} events a second start to finish; "
        f"peak memory of the generator {peak_mb:,.0f} MB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
