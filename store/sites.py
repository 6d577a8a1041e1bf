"""Incidents counted per snapped spot, and the one definition of a flagged place.

Locations are snapped at import, so a million incidents fall on far fewer spots. Every
analysis that does not need one row per incident reads them as counts per spot, month and
type (:func:`read_sites`) and works on those counts, so its cost grows with the number of
spots, not of incidents. :func:`flag_sites` is the single place where the rules of
:func:`geo.flags.flag_places` meet the stored data: the Map, the assessment queue and the
Meeting page all call it, so "flagged" means the same on every screen.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from pandas.api.types import union_categoricals
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    DateTime,
    Engine,
    Integer,
    cast,
    func,
    literal_column,
    select,
    text,
)

from geo.flags import FlagFigures, figures_of, flag_places
from geo.grid import Grid, count_points, locate_xy
from geo.points import BNG, WGS84, HotspotWarning, drawable
from store.models import Incident, Referral

__all__ = [
    "FLAG_COLUMNS",
    "TREND_MONTHS",
    "as_points",
    "flag_sites",
    "located",
    "month_counts",
    "place_figures",
    "read_month_totals",
    "read_sites",
    "read_squares",
    "sites_in",
]

TREND_MONTHS = 12
"""Months of history behind the trend tests and the month-by-month view."""

FLAG_COLUMNS: tuple[str, ...] = (
    "rank",
    "id",
    "name",
    "category",
    "district_code",
    "incidents",
    "previous",
    "hot_bin",
    "trend",
    "reason",
    "in_hot_spot",
    "radius_m",
    "period_label",
    "trend_since",
    "incidents_key",
    "previous_key",
)
"""Columns of :func:`flag_sites` besides the geometry: the reason's figures (numbers
first, see :class:`geo.flags.FlagFigures`) and the record key sums of its counts for
``services.disclosure``."""


def _month_of(engine: Engine, column: Any) -> Any:
    if engine.dialect.name == "sqlite":
        return func.strftime("%Y-%m", column)
    return func.to_char(column, "YYYY-MM")


def _month_key(engine: Engine, column: Any) -> Any:
    """Return the month to group many rows by: on PostgreSQL the date of its first day.

    ``to_char`` converts each date to a time stamp with a time zone first; the groups'
    months are named afterwards (:func:`read_squares`, :func:`read_month_totals`).
    """
    if engine.dialect.name == "sqlite":
        return _month_of(engine, column)
    return cast(func.date_trunc("month", cast(column, DateTime)), Date)


def _counted(
    model: type[Incident] | type[Referral],
    keys: tuple[Any, ...],
    districts: tuple[str, ...],
    *,
    ages: tuple[str, ...],
    agencies: tuple[str, ...],
) -> Any:
    """Return the count and record-key sum query of :func:`read_sites` and :func:`read_squares`.

    ``SELECT keys, n, key`` over the districts, ages and agencies wanted (every age and
    agency when empty); the caller groups it by ``keys``.
    """
    query = select(*keys, func.count().label("n"), func.sum(model.record_key).label("key")).where(
        model.district_code.in_(districts)
    )
    if ages:
        query = query.where(model.age_band.in_(ages))
    if agencies:
        query = query.where(model.source_agency.in_(agencies))
    return query


def read_sites(
    engine: Engine,
    districts: tuple[str, ...],
    *,
    kind: str = "incidents",
    ages: tuple[str, ...] = (),
    agencies: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Return incidents or referrals counted per snapped location, month and type.

    Coordinates are British National Grid metres as stored (already snapped at import).
    The caller decides the districts: pass only those the viewer may see.

    Parameters
    ----------
    engine
        The database.
    districts
        ONS codes of the districts to read.
    kind
        ``"incidents"`` or ``"referrals"``.
    ages, agencies
        Age bands and source agencies wanted (all when empty).

    Returns
    -------
    pandas.DataFrame
        ``easting``, ``northing`` (NaN for events with no location, e.g. online),
        ``month`` (``"YYYY-MM"``), ``category``, ``n``, the number of events, and ``key``,
        the sum of their record keys (``services.disclosure``: any count made by adding
        ``n`` over rows gets its cell key by adding ``key`` over the same rows).
    """
    model: type[Incident] | type[Referral] = Referral if kind == "referrals" else Incident
    month = _month_of(engine, model.occurred_on).label("month")
    keys = (model.easting, model.northing, month, model.category)
    query = _counted(model, keys, districts, ages=ages, agencies=agencies)
    with engine.connect() as connection:
        frame = pd.read_sql(query.group_by(*keys), connection)
    frame["n"] = frame["n"].astype("int64")
    frame["key"] = frame["key"].fillna(0).astype("int64")
    return frame


def read_squares(
    engine: Engine,
    districts: tuple[str, ...],
    *,
    size: int,
    kind: str = "incidents",
    ages: tuple[str, ...] = (),
    agencies: tuple[str, ...] = (),
    since: str = "",
) -> pd.DataFrame:
    """Return incidents or referrals counted per grid square, month and type, in SQL.

    The wide-scope twin of :func:`read_sites` (many districts, all England): the same
    columns, but each location is the centre of its ``size`` m square of the British
    National Grid (``floor(easting / size)``), so the database returns one row per square,
    month and type with events, never one per snapped spot (at national scale nearly one
    per incident). A square's centre lies in the same cell as its events for any square
    grid whose cell size is a multiple of ``size`` (grids are aligned on multiples of
    their size), so hot cells, month-by-month statistics and totals made from these rows
    equal those made from :func:`read_sites` (only a square cut by the area's outline
    counts wholly on the side its centre is). ``key`` sums the record keys as before, so
    ``services.disclosure`` perturbs and suppresses the same totals the same way.

    Parameters
    ----------
    engine
        The database.
    districts
        ONS codes of the districts to read (the caller's scope).
    size
        The square's side in metres.
    kind, ages, agencies
        As :func:`read_sites`.
    since
        The first month wanted, ``"YYYY-MM"`` (every month when empty): at national
        scale even squares are one row per square, month and type (2.1 million rows for
        England's last 12 months), so a wide Map reads only the months it analyses.

    Returns
    -------
    pandas.DataFrame
        As :func:`read_sites`; events with no location keep NaN coordinates.
    """
    if size <= 0:
        raise ValueError(f"The square's side must be a positive number of metres, not {size}.")
    model: type[Incident] | type[Referral] = Referral if kind == "referrals" else Incident
    col: ColumnElement[Any]
    row: ColumnElement[Any]
    month = _month_key(engine, model.occurred_on)
    if engine.dialect.name == "sqlite":  # eastings and northings are positive: truncate
        col, row = cast(model.easting / size, Integer), cast(model.northing / size, Integer)
    else:
        # a float divisor: an integer one makes PostgreSQL divide in NUMERIC, row by row
        col = func.floor(model.easting / float(size))
        row = func.floor(model.northing / float(size))
    keys = (col.label("col"), row.label("row"), month.label("month"), model.category)
    query = _counted(model, keys, districts, ages=ages, agencies=agencies)
    if since:
        start = pd.Period(since, freq="M").start_time.date()
        query = query.where(model.occurred_on >= start)
    grouped = query.group_by(col, row, month, model.category)
    half = size / 2
    parts: list[pd.DataFrame] = []
    # in chunks, each made compact at once (two million rows read whole as SQLAlchemy rows
    # took more than a gigabyte before pandas saw them): packed texts on PostgreSQL
    packed = engine.dialect.name == "postgresql"
    for frame in _packed(engine, grouped) if packed else _fetched(engine, grouped):
        parts.append(
            pd.DataFrame(
                {
                    "easting": frame["col"].astype("float64") * size + half,
                    "northing": frame["row"].astype("float64") * size + half,
                    "month": frame["month"],
                    "category": frame["category"],
                    "n": frame["n"].astype("int64"),
                    "key": frame["key"].fillna(0).astype("int64"),
                }
            )
        )
    if not parts:
        empty = {"easting": "float64", "northing": "float64", "month": object}
        empty |= {"category": object, "n": "int64", "key": "int64"}
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in empty.items()})
    words = {
        c: union_categoricals([p[c] for p in parts]).astype(object) for c in ("month", "category")
    }  # one string object per distinct month and type, shared by every row
    frame = pd.concat([p.drop(columns=["month", "category"]) for p in parts], ignore_index=True)
    frame.insert(2, "month", words["month"])
    frame.insert(3, "category", words["category"])
    return frame


def read_month_totals(
    engine: Engine,
    districts: tuple[str, ...],
    *,
    before: str,
    kind: str = "incidents",
    ages: tuple[str, ...] = (),
    agencies: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Return incidents or referrals counted per month and type only, before a month.

    What a wide Meeting needs of the months before those it analyses (the period before
    and a year before are compared as totals): one row per month and type, not one per
    square, so all England's older years are a few hundred rows, not millions.

    Parameters
    ----------
    engine
        The database.
    districts
        ONS codes of the districts to read (the caller's scope).
    before
        The first month not counted, ``"YYYY-MM"``.
    kind, ages, agencies
        As :func:`read_sites`.

    Returns
    -------
    pandas.DataFrame
        :func:`read_sites`' columns, with no location (NaN eastings and northings).
    """
    model: type[Incident] | type[Referral] = Referral if kind == "referrals" else Incident
    month = _month_key(engine, model.occurred_on)
    query = _counted(
        model, (month.label("month"), model.category), districts, ages=ages, agencies=agencies
    )
    query = query.where(model.occurred_on < pd.Period(before, freq="M").start_time.date())
    with engine.connect() as connection:
        frame = pd.read_sql(query.group_by(month, model.category), connection)
    return pd.DataFrame(
        {
            "easting": np.full(len(frame), np.nan),
            "northing": np.full(len(frame), np.nan),
            # text as read_squares' (pandas' own strings): the Meeting joins the two, and
            # joined to Python objects all England's rows were converted one by one
            "month": frame["month"].astype("str").str[:7],
            "category": frame["category"].astype("str"),
            "n": frame["n"].astype("int64"),
            "key": frame["key"].fillna(0).astype("int64"),
        }
    )


_GROUPED = ("col", "row", "month", "category", "n", "key")
"""Columns of :func:`read_squares`' query, in order."""


def _fetched(engine: Engine, grouped: Any) -> Iterator[pd.DataFrame]:
    """Yield :func:`read_squares`' rows in chunks, through SQLAlchemy (SQLite)."""
    with engine.connect().execution_options(stream_results=True) as connection:
        for frame in pd.read_sql(grouped, connection, chunksize=200_000):
            yield frame.assign(
                month=pd.Categorical(frame["month"]), category=pd.Categorical(frame["category"])
            )


def _packed(engine: Engine, grouped: Any) -> Iterator[pd.DataFrame]:
    """Yield :func:`read_squares`' rows in chunks, packed as CSV text by PostgreSQL.

    Read row by row, all England's 12 months (2.1 million rows) took 37 s, 12 of them
    CPU in this process (holding the interpreter other sessions share): a cursor runs
    without PostgreSQL's parallel workers, and each row became Python objects; ``COPY``
    still hands over one message a row (about 9 CPU s). PostgreSQL instead joins the rows
    into :data:`_PACKS` texts of CSV lines (grouped by the square's column), which
    pyarrow's CSV reader parses: the values never become Python objects one by one.

    The grouping gets :data:`_GROUPING_MEMORY` (``SET LOCAL``: this read only): with the
    server's default 4 MB, all England's 2.1 million groups spilled to disk in 41 batches
    and took 15 s instead of 9 (issue 21).
    """
    rows = grouped.subquery("squares")
    line = func.format(
        '%s,%s,%s,"%s",%s,%s',  # an empty field is a NULL (no location); the type quoted
        rows.c.col,
        rows.c.row,
        func.to_char(rows.c.month, "YYYY-MM"),  # not the date's text: DateStyle may change it
        func.replace(rows.c.category, '"', '""'),
        rows.c.n,
        rows.c.key,
    )
    pack = func.coalesce(func.mod(cast(rows.c.col, BigInteger), _PACKS), -1)
    packed = select(func.string_agg(line, literal_column("E'\\n'"))).group_by(pack)
    read = pa_csv.ReadOptions(column_names=list(_GROUPED))
    types = {"col": pa.float64(), "row": pa.float64(), "n": pa.int64(), "key": pa.int64()}
    convert = pa_csv.ConvertOptions(
        column_types=types | {"month": pa.string(), "category": pa.string()},
        strings_can_be_null=False,
    )
    with engine.begin() as connection:
        connection.execute(text(f"SET LOCAL work_mem = '{_GROUPING_MEMORY}'"))
        for lines in connection.execute(packed).scalars():
            table = pa_csv.read_csv(pa.py_buffer(lines.encode()), read, convert_options=convert)
            frame = table.to_pandas()
            yield frame.assign(
                month=pd.Categorical(frame["month"]), category=pd.Categorical(frame["category"])
            )


_PACKS = 64
"""How many texts :func:`_packed` asks PostgreSQL for (all England's year: about 1 MB each)."""

_GROUPING_MEMORY = "128MB"
"""PostgreSQL's ``work_mem`` for :func:`_packed`'s grouping (each of up to three processes
may use twice this for its hash table; 256 MB gained only another 0.4 s)."""


def sites_in(
    sites: pd.DataFrame, *, types: tuple[str, ...] = (), first: str = "", last: str = ""
) -> pd.DataFrame:
    """Return the rows of :func:`read_sites` for some types and months (inclusive).

    ``sites`` itself when every row is kept: site counts are read, never changed, and
    all England's two million rows were copied whole by each of a Meeting's dozens of
    calls with no choice of type (issue 21).

    Examples
    --------
    >>> sites = pd.DataFrame({"month": ["2026-01", "2026-02"], "category": ["cce", "cse"]})
    >>> len(sites_in(sites, first="2026-02")), len(sites_in(sites, types=("cce",)))
    (1, 1)
    >>> sites_in(sites) is sites, sites_in(sites, last="2026-02") is sites
    (True, True)
    """
    keep = np.ones(len(sites), dtype=bool)
    if types:
        keep &= sites["category"].isin(types).to_numpy()
    if first:
        keep &= (sites["month"] >= first).to_numpy()
    if last:
        keep &= (sites["month"] <= last).to_numpy()
    return sites if keep.all() else sites.loc[keep]


def located(sites: pd.DataFrame) -> pd.DataFrame:
    """Return the rows of :func:`read_sites` that have a location (``sites`` if all have)."""
    keep = (sites["easting"].notna() & sites["northing"].notna()).to_numpy()
    return sites if keep.all() else sites.loc[keep]


def month_counts(
    sites: pd.DataFrame, grid: Grid, window: pd.PeriodIndex, *, weight: str = "n"
) -> np.ndarray:
    """Return the incidents per month of ``window`` and cell of ``grid``, from site counts.

    What :func:`geo.emerging.emerging_hotspots` counts from :func:`as_points`, without
    making a point of every spot: all England's 12 months are two million spots, and their
    points were the Meeting's largest use of memory (issue 21).

    Parameters
    ----------
    sites
        Rows of :func:`read_sites` or :func:`read_squares`; rows with no location, or a
        month outside the window, are left out.
    grid
        The grid; spots outside it are left out.
    window
        Consecutive months, oldest first.
    weight
        The column summed: ``"n"`` (incidents), or ``"key"`` (the record-key sums of
        ``services.disclosure``; zeros when the rows have none).

    Returns
    -------
    numpy.ndarray
        int64, shape ``(len(window), grid.n_cells)``.
    """
    spots = located(sites)
    cell = locate_xy(grid, spots["easting"].to_numpy(), spots["northing"].to_numpy())
    codes, names = pd.factorize(spots["month"].to_numpy())  # each distinct month parsed once
    step = (pd.PeriodIndex(names, freq="M").asi8 - window[0].ordinal)[codes]
    inside = (step >= 0) & (step < len(window))
    return count_points(
        grid,
        np.where(inside, cell, -1),
        periods=np.where(inside, step, 0),
        n_periods=len(window),
        weights=spots[weight].to_numpy() if weight in spots else np.zeros(len(spots)),
    )


def as_points(sites: pd.DataFrame) -> gpd.GeoDataFrame:
    """Return located site counts as points (EPSG:27700) with a monthly ``period`` and ``n``."""
    spots = located(sites)
    codes, months = pd.factorize(spots["month"].to_numpy())  # a few dozen months at most
    period = pd.PeriodIndex(months, freq="M")[codes] if len(spots) else pd.PeriodIndex([], freq="M")
    return gpd.GeoDataFrame(
        {
            "period": period,
            "n": spots["n"].to_numpy(),
            **({"key": spots["key"].to_numpy()} if "key" in spots else {}),
        },
        geometry=gpd.points_from_xy(spots["easting"], spots["northing"]),
        crs=BNG,
    )


def _no_flags() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({c: [] for c in FLAG_COLUMNS}, geometry=[], crs=WGS84)


def flag_sites(
    places: gpd.GeoDataFrame,
    sites: pd.DataFrame,
    grid: Grid,
    *,
    first: str,
    last: str,
    radius: float = 200.0,
    min_incidents: int = 10,
    hot_alpha: float = 0.05,
    min_trend_incidents: int = 5,
    keep_all: bool = False,
) -> gpd.GeoDataFrame:
    """Flag and rank the active, located places that need a look in a period.

    Runs :func:`geo.flags.flag_places` on the counts of the period and the history it
    compares with (the previous period of the same length and the trend window of
    :data:`TREND_MONTHS` months). The defaults are the engine's.

    Parameters
    ----------
    places
        The register as read by ``store.queries.load_places`` (EPSG:27700): ``id``,
        ``name``, ``category`` and a point, with ``district_code`` and ``active`` when
        known. Inactive places and places with no point are left out.
    sites
        :func:`read_sites` rows, types already chosen, every month.
    grid
        The hot-spot grid.
    first, last
        The period's months, ``"YYYY-MM"``.
    radius, min_incidents, hot_alpha, min_trend_incidents
        The flag thresholds (see :func:`geo.flags.flag_places`).
    keep_all
        Every place, with ``flagged``, ``nearby_elsewhere`` and ``why_not``
        after :data:`FLAG_COLUMNS` (see :func:`place_figures`).

    Returns
    -------
    geopandas.GeoDataFrame
        In WGS84, best first, unsuppressed: :data:`FLAG_COLUMNS` and the point. Empty
        when there are no located events or places.
    """
    keep = drawable(places)
    if "active" in places:
        keep &= places["active"].astype(bool).to_numpy()
    candidates = places.loc[keep]
    if candidates.empty:  # before the counts are sorted: nothing to flag for this reader
        return _no_flags()
    start, end = pd.Period(first, freq="M"), pd.Period(last, freq="M")
    history_start = min(start - (end.ordinal - start.ordinal + 1), end - (TREND_MONTHS - 1))
    history = located(sites_in(sites, first=str(history_start), last=last))
    if not history["month"].between(first, last).any():
        return _no_flags()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HotspotWarning)
        flags = flag_places(
            candidates[["id", "name", "category", "geometry"]],
            as_points(history),
            grid,
            period=(first, last),
            radius=float(radius),
            min_incidents=min_incidents,
            min_trend_incidents=min_trend_incidents,
            hot_alpha=hot_alpha,
            trend_months=TREND_MONTHS,
            weight_column="n",
            keep_all=keep_all,
            key_column="key" if "key" in sites else None,
        )
    for column in ("incidents_key", "previous_key"):
        if column not in flags:  # sites without record keys: counts for leads only
            flags[column] = 0
    if "district_code" in candidates:
        flags["district_code"] = flags["id"].map(candidates.set_index("id")["district_code"])
    else:
        flags["district_code"] = None
    extra = ["flagged", "nearby_elsewhere", "why_not"] if keep_all else []
    return flags[[*FLAG_COLUMNS, *extra, "geometry"]]


def place_figures(
    places: gpd.GeoDataFrame,
    sites: pd.DataFrame,
    grid: Grid,
    place_id: int,
    *,
    first: str,
    last: str,
    radius: float = 200.0,
    min_incidents: int = 10,
    hot_alpha: float = 0.05,
    min_trend_incidents: int = 5,
) -> tuple[FlagFigures, int] | None:
    """Return the figures behind one place's flag, or why it is not flagged.

    The same computation as :func:`flag_sites` (every place, since incidents count
    towards their nearest place), read for one place; render them with
    :func:`geo.flags.render_why_not` or :func:`geo.flags.render_reason`.

    Parameters
    ----------
    places, sites, grid, first, last, radius, min_incidents, hot_alpha, min_trend_incidents
        As :func:`flag_sites`.
    place_id
        The place.

    Returns
    -------
    tuple of (FlagFigures, int), or None
        The figures and the record key sum of ``count_now`` (for ``services.disclosure``);
        None when the place is inactive, has no point, or there is nothing to count.
    """
    every = flag_sites(
        places,
        sites,
        grid,
        first=first,
        last=last,
        radius=radius,
        min_incidents=min_incidents,
        hot_alpha=hot_alpha,
        min_trend_incidents=min_trend_incidents,
        keep_all=True,
    )
    if every.empty or "flagged" not in every:
        return None
    row = every.loc[every["id"] == place_id]
    if row.empty:
        return None
    figures = figures_of(
        row.iloc[0], min_incidents=min_incidents, min_trend_incidents=min_trend_incidents
    )
    return figures, int(row.iloc[0]["incidents_key"])
