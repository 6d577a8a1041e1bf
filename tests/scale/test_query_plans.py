"""Query plans: the pages' reads of one district and one quarter use an index, never a scan.

A modest table (60,000 incidents and 30,000 referrals in random order, 9 districts,
36 months) is analysed, the real readers run (their SQL is captured as it goes to the
database), and each statement is explained: ``EXPLAIN (FORMAT JSON)`` on PostgreSQL,
``EXPLAIN QUERY PLAN`` on SQLite. A sequential scan of incidents or referrals for one
district and one quarter fails the test; so a reader that stops filtering in SQL, or a
migration that loses the indexes, is caught. The last test drops the indexes inside a
transaction to show that the check does see a scan.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import numpy as np
import pytest
import shapely
from sqlalchemy import Connection, Engine, event, insert, text

from services.access import Viewer
from services.audience import Audience
from services.reads import MapQuery, events_near, incident_points
from store.models import District, Incident, Referral
from store.queries import EventFilter, load_events

DISTRICTS = tuple(f"E0700{n:04d}" for n in range(9))
ONE = DISTRICTS[3]
QUARTER = (date(2026, 7, 1), date(2026, 9, 30))
CATEGORIES = ("cce", "cse", "county_lines", "missing", "syv", "online_exploitation")
INDEXES = (
    "ix_incidents_date",
    "ix_incidents_district_date",
    "ix_incidents_location",
    "ix_incidents_place_id",
    "ix_referrals_date",
    "ix_referrals_district_date",
)


def _fill(engine: Engine, model: type[Incident] | type[Referral], n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 36 * 30, n)
    start = np.datetime64("2023-11-01")
    rows = []
    for i in range(n):
        row = {
            "source_ref": f"{model.__tablename__[:1]}{i:07d}",
            "source_agency": "police",
            "category": CATEGORIES[int(rng.integers(0, 6))],
            "occurred_on": (start + days[i]).astype(object),
            "age_band": "13-15",
            "easting": float(380_000 + 100 * rng.integers(0, 600)),
            "northing": float(290_000 + 100 * rng.integers(0, 600)),
            "district_code": DISTRICTS[int(rng.integers(0, 9))],
        }
        if model is Referral:
            row["route"] = "RFM"
        rows.append(row)
    with engine.begin() as connection:
        for first in range(0, n, 10_000):
            connection.execute(insert(model), rows[first : first + 10_000])


@pytest.fixture
def filled(engine: Engine) -> Engine:
    """The modest table, analysed as autovacuum (PostgreSQL) or ANALYZE (SQLite) would."""
    square = shapely.to_wkb(shapely.box(0, 0, 1, 1))
    with engine.begin() as connection:
        connection.execute(
            insert(District),
            [{"code": c, "name": c, "source": "test", "geometry_wkb": square} for c in DISTRICTS],
        )
    _fill(engine, Incident, 60_000, seed=1)
    _fill(engine, Referral, 30_000, seed=2)
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    return engine


@contextmanager
def captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Record every statement sent to the database (SQL and parameters) in the block."""
    seen: list[tuple[str, Any]] = []

    def hook(conn, cursor, statement, parameters, context, executemany):
        if "FROM incidents" in statement or "FROM referrals" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", hook)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", hook)


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _table_of(relation: str | None) -> str | None:
    """Return the table a relation belongs to: incidents' partitions (0009) are incidents_*."""
    if relation and relation.startswith("incidents_"):
        return "incidents"
    return relation


def _parent_index(connection: Connection, name: str | None) -> str | None:
    """Return the index on the partitioned table that a partition's index belongs to."""
    while name:
        parent = connection.exec_driver_sql(
            "SELECT p.inhparent::regclass::text FROM pg_inherits p "
            "WHERE p.inhrelid = to_regclass(%(name)s)",
            {"name": name},
        ).scalar()
        if parent is None:
            return name
        name = parent
    return name


def table_reads(connection: Connection, statement: str, parameters: Any) -> list[str]:
    """Return how each read of incidents or referrals is done, e.g. ``"index ix_..."``."""
    if connection.dialect.name == "postgresql":
        result = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
        plan = result.scalar_one()[0]["Plan"]
        reads = []
        for node in _nodes(plan):
            if _table_of(node.get("Relation Name")) in ("incidents", "referrals"):
                kind = node["Node Type"]
                index = _parent_index(connection, node.get("Index Name"))
                reads.append("scan" if kind == "Seq Scan" else f"index {index}")
            if node["Node Type"] == "Bitmap Index Scan":
                reads.append(f"index {_parent_index(connection, node['Index Name'])}")
        return reads
    rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    reads = []
    for row in rows:
        detail = row[-1]
        words = detail.split()
        if len(words) > 1 and words[1] in ("incidents", "referrals"):
            reads.append(
                "scan" if words[0] == "SCAN" else f"index {detail.split('INDEX ')[1].split()[0]}"
            )
    return reads


def district_and_quarter_statements(engine: Engine) -> list[tuple[str, Any]]:
    """Run the pages' readers for one district and one quarter; return their SQL."""
    lead = Audience.of(Viewer("lead", "lead", DISTRICTS), k=5)
    query = MapQuery(districts=(ONE,), first="2026-07", last="2026-09")
    chosen = EventFilter(start=QUARTER[0], end=QUARTER[1], districts=(ONE,))
    one_type = EventFilter(start=QUARTER[0], end=QUARTER[1], districts=(ONE,), categories=("cce",))
    with captured(engine) as seen:
        for kind in ("incidents", "referrals"):  # Meeting and Places pages
            load_events(engine, chosen, kind=kind)
            load_events(engine, one_type, kind=kind)
        incident_points(engine, lead, query)  # the lead's points on the Map page
        area = shapely.Point(420_050, 320_050).buffer(200)  # a place panel's radius
        events_near(engine, lead, query, area=area, first="2026-07")
    assert len(seen) >= 6
    return seen


def test_one_district_and_one_quarter_is_read_through_an_index(filled):
    statements = district_and_quarter_statements(filled)
    with filled.connect() as connection:
        for statement, parameters in statements:
            reads = table_reads(connection, statement, parameters)
            assert reads, statement
            assert "scan" not in reads, f"a whole-table scan for one district:\n{statement}"


def test_a_place_panel_reads_only_the_square_around_the_place(filled):
    with captured(filled) as seen:
        events_near(
            filled,
            Audience.of(Viewer("lead", "lead", DISTRICTS), k=5),
            MapQuery(districts=DISTRICTS, last="2026-10"),
            area=shapely.Point(420_050, 320_050).buffer(200),
            first="2025-11",
        )
    with filled.connect() as connection:
        (statement, parameters) = seen[-1]
        assert "index ix_incidents_location" in table_reads(connection, statement, parameters)


def test_the_check_sees_a_scan_when_the_indexes_are_gone(filled):
    statements = district_and_quarter_statements(filled)
    with filled.connect() as connection, connection.begin() as transaction:
        for name in INDEXES:
            connection.execute(text(f"DROP INDEX {name}"))
        reads = [table_reads(connection, s, p) for s, p in statements]
        transaction.rollback()
    assert all("scan" in r for r in reads), reads
