"""Reading the stored data into frames for analysis and display.

Every reader takes the engine and plain values, and returns pandas or
GeoPandas frames in British National Grid (EPSG:27700).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import ColumnElement, Engine, Integer, Select, cast, func, select

from geo.points import BNG
from store.models import (
    Action,
    Assessment,
    DataChange,
    District,
    Finding,
    ImportBatch,
    Incident,
    Place,
    Referral,
    Ward,
)

__all__ = [
    "EventFilter",
    "data_version",
    "latest_event_date",
    "load_actions",
    "load_assessments",
    "load_districts",
    "load_events",
    "load_events_in",
    "load_import_batches",
    "load_places",
    "load_points",
    "load_wards",
    "square_counts",
]



@dataclass(frozen=True)
class EventFilter:
    """Which incidents or referrals to read: a period and optional category lists.

    An empty tuple means "all".
    """

    start: date | None = None
    end: date | None = None
    categories: tuple[str, ...] = ()
    age_bands: tuple[str, ...] = ()
    agencies: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()

    def apply(self, query: Select, model: type[Incident] | type[Referral]) -> Select:  # type: ignore[type-arg]
        """Return the query restricted to this filter."""
        if self.start is not None:
            query = query.where(model.occurred_on >= self.start)
        if self.end is not None:
            query = query.where(model.occurred_on <= self.end)
        for column, values in (
            (model.category, self.categories),
            (model.age_band, self.age_bands),
            (model.source_agency, self.agencies),
            (model.district_code, self.districts),
        ):
            if values:
                query = query.where(column.in_(values))
        return query


_EVENT_COLUMNS = (
    "id",
    "source_agency",
    "category",
    "occurred_on",
    "age_band",
    "sex",
    "online",
    "easting",
    "northing",
    "district_code",
    "ward_code",
    "place_id",
    "record_key",
)


def load_events(
    engine: Engine,
    event_filter: EventFilter = EventFilter(),
    *,
    kind: str = "incidents",
    columns: tuple[str, ...] = _EVENT_COLUMNS,
) -> pd.DataFrame:
    """Return incidents or referrals matching a filter.

    Parameters
    ----------
    engine
        The database.
    event_filter
        The period, categories, age bands, agencies and districts wanted.
    kind
        ``"incidents"`` or ``"referrals"``.
    columns
        The columns to read; only what is asked for leaves the database.

    Returns
    -------
    pandas.DataFrame
        One row per event; ``occurred_on`` as datetime64, coordinates in
        EPSG:27700 metres (NaN for events with no location).
    """
    model: type[Incident] | type[Referral] = Referral if kind == "referrals" else Incident
    query = event_filter.apply(select(*(getattr(model, c) for c in columns)), model)
    with engine.connect() as connection:
        frame = pd.read_sql(query, connection)
    if "occurred_on" in frame:
        frame["occurred_on"] = pd.to_datetime(frame["occurred_on"])
    return frame


def _geometries(frame: pd.DataFrame, column: str) -> gpd.GeoSeries:
    return gpd.GeoSeries(shapely.from_wkb(frame[column].to_numpy()), crs=BNG)


def load_districts(engine: Engine, codes: tuple[str, ...] = ()) -> gpd.GeoDataFrame:
    """Return the district boundaries (code, name, source, geometry) in EPSG:27700."""
    query = select(District.code, District.name, District.source, District.geometry_wkb)
    if codes:
        query = query.where(District.code.in_(codes))
    with engine.connect() as connection:
        frame = pd.read_sql(query.order_by(District.name), connection)
    geometry = _geometries(frame, "geometry_wkb")
    return gpd.GeoDataFrame(frame.drop(columns="geometry_wkb"), geometry=geometry, crs=BNG)


def load_wards(engine: Engine, districts: tuple[str, ...] = ()) -> gpd.GeoDataFrame:
    """Return the ward boundaries (code, name, district_code, geometry) in EPSG:27700."""
    query = select(Ward.code, Ward.name, Ward.district_code, Ward.source, Ward.geometry_wkb)
    if districts:
        query = query.where(Ward.district_code.in_(districts))
    with engine.connect() as connection:
        frame = pd.read_sql(query.order_by(Ward.name), connection)
    geometry = _geometries(frame, "geometry_wkb")
    return gpd.GeoDataFrame(frame.drop(columns="geometry_wkb"), geometry=geometry, crs=BNG)


def load_places(engine: Engine, districts: tuple[str, ...] = ()) -> gpd.GeoDataFrame:
    """Return the place register as points in EPSG:27700 (empty points when unlocated)."""
    query = select(
        Place.id,
        Place.place_key,
        Place.name,
        Place.category,
        Place.postcode,
        Place.district_code,
        Place.responsible_org,
        Place.active,
        Place.easting,
        Place.northing,
    )
    if districts:
        query = query.where(Place.district_code.in_(districts))
    with engine.connect() as connection:
        frame = pd.read_sql(query.order_by(Place.name), connection)
    geometry = gpd.points_from_xy(frame["easting"], frame["northing"], crs=BNG)
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=BNG)


def load_assessments(engine: Engine, districts: tuple[str, ...] = ()) -> pd.DataFrame:
    """Return every assessment with its place, newest first.

    Returns
    -------
    pandas.DataFrame
        ``id``, ``place_id``, ``place_name``, ``place_category``, ``district_code``,
        ``assessing_org``, ``lead_assessor``, ``assessed_on``, ``status``,
        ``overall_risk``, ``next_review_on`` (datetime64), ``version``,
        ``review_comment``, ``created_by``, ``updated_by``, ``updated_at``, and
        ``findings`` and ``actions`` (counts).
    """
    findings = (
        select(Finding.assessment_id, func.count().label("n"))
        .group_by(Finding.assessment_id)
        .subquery()
    )
    actions = (
        select(Action.assessment_id, func.count().label("n"))
        .group_by(Action.assessment_id)
        .subquery()
    )
    query = (
        select(
            Assessment.id,
            Assessment.place_id,
            Place.name.label("place_name"),
            Place.category.label("place_category"),
            Place.district_code,
            Assessment.assessing_org,
            Assessment.lead_assessor,
            Assessment.assessed_on,
            Assessment.status,
            Assessment.overall_risk,
            Assessment.next_review_on,
            Assessment.version,
            Assessment.review_comment,
            Assessment.created_by,
            Assessment.updated_by,
            Assessment.updated_at,
            func.coalesce(findings.c.n, 0).label("findings"),
            func.coalesce(actions.c.n, 0).label("actions"),
        )
        .join(Place, Place.id == Assessment.place_id)
        .outerjoin(findings, findings.c.assessment_id == Assessment.id)
        .outerjoin(actions, actions.c.assessment_id == Assessment.id)
        .order_by(Assessment.assessed_on.desc(), Assessment.id.desc())
    )
    if districts:
        query = query.where(Place.district_code.in_(districts))
    with engine.connect() as connection:
        frame = pd.read_sql(query, connection)
    for column in ("assessed_on", "next_review_on"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def load_actions(engine: Engine, districts: tuple[str, ...] = ()) -> pd.DataFrame:
    """Return every action with its assessment status and place."""
    query = (
        select(
            Action.id,
            Action.assessment_id,
            Assessment.status.label("assessment_status"),
            Place.name.label("place_name"),
            Place.district_code,
            Action.description,
            Action.owner_org,
            Action.due_on,
            Action.status,
            Action.completed_on,
        )
        .join(Assessment, Assessment.id == Action.assessment_id)
        .join(Place, Place.id == Assessment.place_id)
    )
    if districts:
        query = query.where(Place.district_code.in_(districts))
    with engine.connect() as connection:
        frame = pd.read_sql(query.order_by(Action.due_on), connection)
    for column in ("due_on", "completed_on"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def load_import_batches(engine: Engine) -> pd.DataFrame:
    """Return the import batches, newest first."""
    query = select(
        ImportBatch.id,
        ImportBatch.created_at,
        ImportBatch.created_by,
        ImportBatch.kind,
        ImportBatch.source,
        ImportBatch.file_name,
        ImportBatch.rows_total,
        ImportBatch.rows_accepted,
        ImportBatch.rows_rejected,
        ImportBatch.rows_duplicate,
        ImportBatch.rows_outside_area,
    ).order_by(ImportBatch.id.desc())
    with engine.connect() as connection:
        return pd.read_sql(query, connection)


def latest_event_date(engine: Engine) -> date | None:
    """Return the newest incident date, or None when there are no incidents."""
    with engine.connect() as connection:
        return connection.scalar(select(func.max(Incident.occurred_on)))


def data_version(engine: Engine) -> str:
    """Return a short key that changes whenever the stored data change.

    Used to key caches. It is read from the database's own log of writes to the tables
    the pages read (``data_changes``, kept by triggers: 0013_data_changes), a few rows,
    instead of counting those tables: on a national database that was a scan of ten
    million incidents every time. A write is in the key once it is committed.
    """
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                DataChange.table_name,
                func.count(),
                func.sum(DataChange.changes),
                func.max(DataChange.changed_at),
            )
            .group_by(DataChange.table_name)
            .order_by(DataChange.table_name)
        ).all()
    return "|".join(f"{name}:{writes}/{changes}@{newest}" for name, writes, changes, newest in rows)


def load_points(
    engine: Engine, chosen: EventFilter, *, limit: int
) -> tuple[pd.DataFrame | None, int]:
    """Return the located incidents that match a filter, if there are at most ``limit``.

    Returns
    -------
    pandas.DataFrame or None, int
        ``easting``, ``northing``, ``category`` per incident (None above ``limit``), and
        how many located incidents match.
    """
    counted = chosen.apply(
        select(func.count()).select_from(Incident).where(Incident.easting.is_not(None)), Incident
    )
    rows = chosen.apply(
        select(Incident.easting, Incident.northing, Incident.category).where(
            Incident.easting.is_not(None)
        ),
        Incident,
    )
    with engine.connect() as connection:
        total = int(connection.scalar(counted) or 0)
        if total > limit:
            return None, total
        return pd.read_sql(rows, connection), total


def load_events_in(
    engine: Engine, chosen: EventFilter, area: shapely.Geometry
) -> pd.DataFrame:
    """Return the incidents that match a filter inside an area (EPSG:27700), no coordinates.

    Returns
    -------
    pandas.DataFrame
        ``category``, ``occurred_on`` (datetime64), ``age_band``, ``source_agency`` and
        ``record_key``.
    """
    minx, miny, maxx, maxy = area.bounds
    query = chosen.apply(
        select(
            Incident.easting,
            Incident.northing,
            Incident.category,
            Incident.occurred_on,
            Incident.age_band,
            Incident.source_agency,
            Incident.record_key,
        ).where(Incident.easting.between(minx, maxx), Incident.northing.between(miny, maxy)),
        Incident,
    )
    with engine.connect() as connection:
        frame = pd.read_sql(query, connection)
    inside = shapely.contains_xy(
        area, frame["easting"].to_numpy(dtype=float), frame["northing"].to_numpy(dtype=float)
    )
    frame = frame.loc[inside].drop(columns=["easting", "northing"]).reset_index(drop=True)
    frame["occurred_on"] = pd.to_datetime(frame["occurred_on"])
    return frame


def square_counts(engine: Engine, chosen: EventFilter, *, size: int) -> pd.DataFrame:
    """Return located incidents counted per grid square, aggregated in the database.

    For wide views (a region, all England) the rows never leave the database: it counts
    them per ``size`` m square of the British National Grid (``floor(easting / size)``),
    so only one row per square with incidents is read. The filter's districts and
    period prune PostgreSQL's partitions (migration 0009). Each square is reported at
    its centre, so :func:`geo.grid.locate_xy` puts it in the same cell of any square grid
    whose cell size is a multiple of ``size`` (grids are aligned on multiples of their
    size), and its counts can go wherever :func:`store.sites.read_sites` rows go (the
    hot-spot statistics read only locations, ``n`` and ``key``).

    Parameters
    ----------
    engine
        The database.
    chosen
        The period, types, age bands, agencies and districts wanted.
    size
        The square's side in metres.

    Returns
    -------
    pandas.DataFrame
        ``easting``, ``northing`` (the square's centre, EPSG:27700), ``n`` (incidents)
        and ``key`` (the sum of their record keys, ``services.disclosure``).
    """
    if size <= 0:
        raise ValueError(f"The square's side must be a positive number of metres, not {size}.")
    col: ColumnElement[Any]
    row: ColumnElement[Any]
    if engine.dialect.name == "sqlite":  # eastings and northings are positive: truncate
        col = cast(Incident.easting / size, Integer)
        row = cast(Incident.northing / size, Integer)
    else:
        col = func.floor(Incident.easting / size)
        row = func.floor(Incident.northing / size)
    query = chosen.apply(
        select(
            col.label("col"),
            row.label("row"),
            func.count().label("n"),
            func.sum(Incident.record_key).label("key"),
        ).where(Incident.easting.is_not(None), Incident.northing.is_not(None)),
        Incident,
    ).group_by(col, row)
    with engine.connect() as connection:
        frame = pd.read_sql(query, connection)
    half = size / 2
    return pd.DataFrame(
        {
            "easting": frame["col"].astype("float64") * size + half,
            "northing": frame["row"].astype("float64") * size + half,
            "n": frame["n"].astype("int64"),
            "key": frame["key"].fillna(0).astype("int64"),
        }
    )
