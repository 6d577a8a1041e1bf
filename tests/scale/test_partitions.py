"""Partitions (migration 0009): a read of one district and one quarter touches one leaf.

On PostgreSQL ``incidents`` is partitioned by year and, inside each year, by a hash
of the district. The pages' own readers run for one district and one quarter (their
SQL captured as it goes to the database) and each statement is explained: every
incidents partition in the plan must be the one leaf holding that district in that
year. The control explains the same reader over all districts and three years and
sees many leaves, so the check does see a plan that is not pruned. SQLite keeps one
plain table.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import shapely
from sqlalchemy import Connection, Engine, insert, text

from store.models import District, Incident
from store.queries import EventFilter, load_events

from ..conftest import _empty
from .test_query_plans import DISTRICTS, ONE, QUARTER, _fill, captured

pytestmark = pytest.mark.postgres


@pytest.fixture
def filled(pg_engine: Engine) -> Engine:
    """60,000 incidents over 9 districts and 36 months on PostgreSQL, analysed."""
    _empty(pg_engine)
    square = shapely.to_wkb(shapely.box(0, 0, 1, 1))
    with pg_engine.begin() as connection:
        connection.execute(
            insert(District),
            [{"code": c, "name": c, "source": "test", "geometry_wkb": square} for c in DISTRICTS],
        )
    _fill(pg_engine, Incident, 60_000, seed=1)
    with pg_engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    return pg_engine


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def incident_relations(connection: Connection, statement: str, parameters: Any) -> set[str]:
    """Return the incidents relations (partitions) a statement's plan reads."""
    result = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
    plan = result.scalar_one()[0]["Plan"]
    return {
        node["Relation Name"]
        for node in _nodes(plan)
        if str(node.get("Relation Name", "")).startswith("incidents")
    }


def leaf_of(connection: Connection, district: str, day: date) -> str:
    """Return the leaf partition that holds a row of this district and day."""
    return connection.exec_driver_sql(
        "WITH r AS (INSERT INTO incidents (source_agency, source_ref, category, occurred_on, "
        "date_precision, online, district_code, created_at, updated_at, created_by, "
        "updated_by, record_key) VALUES ('t', 'probe', 'cce', %(day)s, 'day', false, "
        "%(district)s, now(), now(), 't', 't', 0) RETURNING tableoid::regclass::text) "
        "SELECT * FROM r",
        {"day": day, "district": district},
    ).scalar_one()


def _reads(engine: Engine, chosen: EventFilter) -> list[tuple[str, Any]]:
    with captured(engine) as seen:
        load_events(engine, chosen, kind="incidents")
    statements = [(s, p) for s, p in seen if "FROM incidents" in s]
    assert statements
    return statements


def test_one_district_and_one_quarter_reads_one_leaf(filled):
    statements = _reads(filled, EventFilter(start=QUARTER[0], end=QUARTER[1], districts=(ONE,)))
    with filled.connect() as connection, connection.begin() as transaction:
        leaf = leaf_of(connection, ONE, QUARTER[0])
        transaction.rollback()
    assert leaf.startswith("incidents_2026_h"), leaf
    with filled.connect() as connection:
        for statement, parameters in statements:
            assert incident_relations(connection, statement, parameters) == {leaf}, statement


def test_the_check_sees_a_read_that_is_not_pruned(filled):
    wide = EventFilter(start=date(2024, 1, 1), end=date(2026, 12, 31), districts=DISTRICTS)
    statements = _reads(filled, wide)
    with filled.connect() as connection:
        partitions = connection.execute(
            text("SELECT count(*) FROM pg_inherits WHERE inhparent = 'incidents_2025'::regclass")
        ).scalar_one()
        relations = set().union(*(incident_relations(connection, s, p) for s, p in statements))
    assert partitions == 8
    assert len(relations) > 8, relations
