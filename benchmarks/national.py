"""Fill PostgreSQL with a national synthetic dataset: all English districts, in chunks.

Used by ``benchmarks/generate.py --national``. Every English local authority district
the ONS Postcode Directory knows (296 in the shipped directory) gets its approximate
outline (``geo.boundaries.district_boundaries``, cached in ``SAFER_SPACES_HOME``), and
then, over ``months`` months:

* places (20,000 by default) at postcodes, one category each;
* incidents (10,000,000 by default): 60% around 3,000 hot postcodes (spread 150 m),
  the rest at postcodes drawn uniformly (so the density follows where people live);
  4% online (no location); dates weekly, with a slight rise over time;
* referrals (1,000,000 by default), located like incidents.

Locations are snapped to 100 m squares, as an import does. Rows go through
``COPY ... FROM STDIN`` in chunks of ``chunk`` rows (CSV made by pyarrow), each chunk
committed with ``synchronous_commit`` off; the next chunk is made while the database
stores the previous one, so at most two chunks are in memory. The indexes and foreign
keys of ``incidents`` and ``referrals`` are dropped before the load and made again after
it (one sort per index instead of ten million insertions), then ``ANALYZE``. A run
stopped part-way leaves the rows stored so far (the progress lines say how many) but
not their indexes: start again on a new database. The same seed gives the same rows.

Measured: ``docs/load.md``, "National dataset".
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from importlib import resources

import numpy as np
import pandas as pd
from sqlalchemy import Engine, insert, text

COPY_COLUMNS_EVENT = (
    "source_agency",
    "source_ref",
    "category",
    "occurred_on",
    "date_precision",
    "age_band",
    "sex",
    "online",
    "easting",
    "northing",
    "district_code",
    "place_id",
    "record_key",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
)
_REFERRAL_EXTRA = ("route", "risk_level", "outcome")
_AGE_BANDS = np.array(["10-12", "13-15", "16-17", "18-24"])
_AGE_P = np.array([0.15, 0.45, 0.30, 0.10])
_AGENCIES = np.array(["police", "social_care", "education", "health", "voluntary"])
_ROUTES = np.array(["RFM", "MACE", "other"])
_RISK = np.array(["low", "medium", "high"])
_OUTCOMES = np.array(
    ["No further action", "Early help", "MACE discussion", "Child protection", "Open"]
)
ACTOR = "national generator"


def english_districts() -> list[str]:
    """Return the English district codes (E06, E07, E08, E09) in the postcode directory."""
    from geo.postcodes import load_postcode_directory

    text_ = resources.files("geo").joinpath("district_names.csv").read_text(encoding="utf-8")
    named = {row["code"] for row in csv.DictReader(text_.splitlines())}
    present = set(load_postcode_directory()["district_code"].astype(str).unique())
    return sorted(c for c in named & present if c[:3] in ("E06", "E07", "E08", "E09"))


def _weeks(end: date, months: int) -> np.ndarray:
    last = pd.Timestamp(end)
    first = (last - pd.DateOffset(months=months - 1)).replace(day=1)
    mondays = pd.date_range(first, last, freq="W-MON")
    return mondays.date


def _csv(frame: pd.DataFrame, columns: tuple[str, ...]) -> bytes:
    """Return the frame's columns as CSV for ``COPY`` (pyarrow's writer: several times pandas').

    Missing values (NaN, NA) become empty unquoted fields, which ``COPY`` reads as NULL;
    text is quoted, so an empty string stays an empty string.
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    buffer = io.BytesIO()
    table = pa.Table.from_pandas(frame.loc[:, list(columns)], preserve_index=False)
    pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False))
    return buffer.getvalue()


def _copy(engine: Engine, table: str, columns: tuple[str, ...], data: bytes) -> None:
    """Write one chunk with ``COPY ... FROM STDIN`` and commit it."""
    with engine.begin() as connection:
        # the load can be re-run from the start if the server fails: no need to wait for
        # each chunk's write-ahead log to reach the disk
        connection.execute(text("SET LOCAL synchronous_commit = off"))
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor:
            sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)"
            with cursor.copy(sql) as copy:
                copy.write(data)


def _progress(table: str, done: int, total: int, seconds: float) -> str:
    return f"{table}: {done:,} of {total:,} stored ({done / seconds:,.0f} rows/s)"


def _drop_indexes_and_keys(connection, table: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Drop ``table``'s indexes and foreign keys; return the SQL that remakes them.

    A bulk load is several times faster into a bare table (no index to keep up, no
    foreign-key trigger per row); building each index once at the end sorts instead.
    Partitioned tables: dropping the parent's index or constraint drops every leaf's, and
    making it again on the parent makes every leaf's again. The primary key stays (other
    tables' keys point at it; ids only grow, so it is cheap).
    """
    constraints = connection.execute(
        text(
            "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = CAST(:t AS regclass) AND contype = 'f'"
        ),
        {"t": table},
    ).all()
    indexes = connection.execute(
        text(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = CAST(:t AS regclass) AND NOT x.indisprimary "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)"
        ),
        {"t": table},
    ).all()
    remake = [f"ALTER TABLE {table} ADD CONSTRAINT {n} {d}" for n, _, d in constraints]
    # pg_get_indexdef says "ON ONLY incidents" for a partitioned table's index: run as it
    # is, that would make the parent's index alone (invalid) and leave every leaf bare
    remake += [d.replace(" ON ONLY ", " ON ", 1) for _, d in indexes]
    for name, _, _ in constraints:
        connection.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT {name}"))
    for name, _ in indexes:
        connection.execute(text(f"DROP INDEX {name}"))
    return remake


def _events(
    rng: np.random.Generator,
    n: int,
    *,
    start: int,
    prefix: str,
    postcodes: pd.DataFrame,
    hot: np.ndarray,
    weeks: np.ndarray,
    place_xy: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> pd.DataFrame:
    """Return ``n`` synthetic events (incidents' columns)."""
    from geo.anonymise import snap_to_grid

    around_hot = rng.random(n) < 0.6
    which = np.where(
        around_hot, hot[rng.integers(0, hot.size, n)], rng.integers(0, len(postcodes), n)
    )
    spread = np.where(around_hot, 150.0, 40.0)
    e = postcodes["easting"].to_numpy()[which] + rng.normal(0, 1, n) * spread
    nn = postcodes["northing"].to_numpy()[which] + rng.normal(0, 1, n) * spread
    e, nn = snap_to_grid(e, nn, cell_size=100.0)
    e, nn = np.asarray(e, dtype=float), np.asarray(nn, dtype=float)
    online = rng.random(n) < 0.04
    e[online], nn[online] = np.nan, np.nan
    # a slight rise over time: later weeks a little more likely
    w = np.linspace(0.8, 1.2, weeks.size)
    occurred = weeks[rng.choice(weeks.size, n, p=w / w.sum())]
    now = datetime.now(UTC)
    # the nearest of the postcode's district's places, when within 200 m
    place_id = pd.array([pd.NA] * n, dtype="Int64")
    px, py, pid = place_xy
    if pid.size:
        from scipy.spatial import cKDTree

        located = ~online
        dist, idx = cKDTree(np.column_stack((px, py))).query(
            np.column_stack((e[located], nn[located])), distance_upper_bound=200.0
        )
        near = np.isfinite(dist)
        ids = np.full(located.sum(), -1, dtype=np.int64)
        ids[near] = pid[idx[near]]
        values = np.full(n, -1, dtype=np.int64)
        values[located] = ids
        place_id = pd.array(np.where(values >= 0, values, 0), dtype="Int64")
        place_id[values < 0] = pd.NA
    return pd.DataFrame(
        {
            "source_agency": _AGENCIES[rng.integers(0, _AGENCIES.size, n)],
            "source_ref": [f"{prefix}{i:09d}" for i in range(start, start + n)],
            "category": np.array(_categories())[rng.integers(0, len(_categories()), n)],
            "occurred_on": occurred,
            "date_precision": "week",
            "age_band": _AGE_BANDS[rng.choice(_AGE_BANDS.size, n, p=_AGE_P)],
            "sex": np.array(["female", "male", ""])[rng.integers(0, 3, n)],
            "online": online,
            "easting": e,
            "northing": nn,
            "district_code": postcodes["district_code"].to_numpy()[which],
            "place_id": place_id,
            "record_key": rng.integers(0, 256, n),
            "created_at": now,
            "updated_at": now,
            "created_by": ACTOR,
            "updated_by": ACTOR,
        }
    )


def _categories() -> list[str]:
    from store.vocabulary import EXPLOITATION_TYPES

    return list(EXPLOITATION_TYPES)


def generate_national(
    engine: Engine,
    *,
    incidents: int,
    referrals: int,
    places: int,
    months: int,
    end: date,
    seed: int,
    chunk: int = 250_000,
    say: Callable[[str], None] = print,
    districts: tuple[str, ...] = (),
) -> list[tuple[str, float]]:
    """Fill an empty, migrated PostgreSQL database; return (stage, seconds) pairs.

    ``districts`` limits it to some district codes (the tests); all English ones if empty.
    """
    from geo.boundaries import district_boundaries
    from geo.postcodes import load_postcode_directory
    from store.models import District, Place
    from store.vocabulary import PLACE_CATEGORIES

    timings: list[tuple[str, float]] = []
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    codes = list(districts) or english_districts()
    outlines = district_boundaries(codes)  # cached in config.settings.cache_dir
    timings.append((f"{len(codes)} district outlines", time.perf_counter() - started))
    say(f"{len(codes)} district outlines in {timings[-1][1]:.0f} s")
    started = time.perf_counter()
    import shapely

    with engine.begin() as connection:
        connection.execute(
            insert(District),
            [
                {
                    "code": r.code,
                    "name": r.name,
                    "source": r.source,
                    "geometry_wkb": shapely.to_wkb(r.geometry),
                    "created_by": ACTOR,
                    "updated_by": ACTOR,
                }
                for r in outlines.itertuples()
            ],
        )
    postcodes = load_postcode_directory(codes)[["postcode", "easting", "northing", "district_code"]]
    at = rng.choice(len(postcodes), places, replace=False)
    chosen = postcodes.iloc[at]
    kinds = list(PLACE_CATEGORIES)
    place_rows = pd.DataFrame(
        {
            "place_key": [f"N{i:06d}" for i in range(places)],
            "name": [f"Place {i:05d} ({p.strip()})" for i, p in enumerate(chosen["postcode"])],
            "category": np.array(kinds)[rng.integers(0, len(kinds), places)],
            "easting": chosen["easting"].to_numpy(),
            "northing": chosen["northing"].to_numpy(),
            "postcode": chosen["postcode"].to_numpy(),
            "district_code": chosen["district_code"].to_numpy(),
            "active": True,
            "created_by": ACTOR,
            "updated_by": ACTOR,
        }
    )
    with engine.begin() as connection:
        connection.execute(insert(Place), place_rows.to_dict("records"))
        ids = dict(connection.execute(text("SELECT place_key, id FROM places")).all())
    pid = place_rows["place_key"].map(ids).to_numpy(dtype=np.int64)
    place_xy = (place_rows["easting"].to_numpy(), place_rows["northing"].to_numpy(), pid)
    hot = rng.choice(len(postcodes), 3_000, replace=False)
    weeks = _weeks(end, months)
    timings.append((f"{places:,} places", time.perf_counter() - started))
    started = time.perf_counter()
    with engine.begin() as connection:
        remake = {t: _drop_indexes_and_keys(connection, t) for t in ("incidents", "referrals")}
    timings.append(("drop indexes and keys", time.perf_counter() - started))
    from concurrent.futures import Future, ThreadPoolExecutor

    writer = ThreadPoolExecutor(max_workers=1)
    for table, total, prefix in (("incidents", incidents, "NI"), ("referrals", referrals, "NR")):
        started = time.perf_counter()
        pending: Future[None] | None = None
        done = 0
        for first in range(0, total, chunk):
            n = min(chunk, total - first)
            frame = _events(
                rng,
                n,
                start=first,
                prefix=prefix,
                postcodes=postcodes,
                hot=hot,
                weeks=weeks,
                place_xy=place_xy,
            )
            columns = COPY_COLUMNS_EVENT
            if table == "referrals":
                risk = rng.integers(0, 3, n)
                frame = frame.assign(
                    route=_ROUTES[rng.integers(0, 3, n)],
                    risk_level=_RISK[risk],
                    outcome=_OUTCOMES[rng.integers(0, 5, n)],
                )
                columns = COPY_COLUMNS_EVENT + _REFERRAL_EXTRA
            data = _csv(frame, columns)
            del frame
            if pending is not None:  # at most one chunk in the database's hands
                pending.result()
                say(_progress(table, done, total, time.perf_counter() - started))
            # the database stores this chunk while the next one is made
            pending = writer.submit(_copy, engine, table, columns, data)
            done = first + n
        if pending is not None:
            pending.result()
            say(_progress(table, done, total, time.perf_counter() - started))
        timings.append((f"{total:,} {table} (COPY)", time.perf_counter() - started))
    writer.shutdown()
    for table, statements in remake.items():
        started = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
            for statement in statements:
                connection.execute(text(statement))
        spent = time.perf_counter() - started
        timings.append((f"{table}: {len(statements)} indexes and keys", spent))
        say(f"{table}: indexes and keys remade in {timings[-1][1]:.0f} s")
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    timings.append(("ANALYZE", time.perf_counter() - started))
    return timings
