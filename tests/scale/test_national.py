"""The national generator (``benchmarks/national.py``), run small on PostgreSQL.

It drops the indexes and foreign keys of incidents and referrals for the load and makes
them again afterwards: the test checks that the database ends with exactly the indexes
and constraints a migrated database has (so a forgotten one would fail it), and that
the rows went through ``COPY`` as meant (NULL locations for online incidents, empty
text kept empty, every row counted).
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from ..conftest import _empty

pytestmark = pytest.mark.postgres

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

DISTRICTS = ("E07000192", "E07000197", "E07000199")  # Cannock Chase, Stafford, Tamworth
# Every index of incidents, referrals and their partitions (a leaf left without its index
# reads a whole partition), whether PostgreSQL may use it, and the constraints.
SCHEMA = text(
    "SELECT 'index ' || i.relname || ' on ' || t.relname || CASE WHEN x.indisvalid "
    "THEN '' ELSE ' (invalid)' END FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
    "JOIN pg_class t ON t.oid = x.indrelid WHERE t.relname LIKE 'incidents%' "
    "OR t.relname LIKE 'referrals%' "
    "UNION ALL SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) "
    "FROM pg_constraint WHERE conrelid IN ('incidents'::regclass, 'referrals'::regclass)"
)


def _schema(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.scalars(SCHEMA))


def test_the_national_load_stores_every_row_and_remakes_indexes_and_keys(
    pg_engine, tmp_path, monkeypatch
):
    from national import generate_national

    monkeypatch.setenv("SAFER_SPACES_HOME", str(tmp_path))
    _empty(pg_engine)
    before = _schema(pg_engine)
    assert any(s.startswith("constraint fk_incidents_district_code") for s in before)
    assert "index ix_incidents_district_date on incidents" in before
    leaves = [s for s in before if s.startswith("index ") and " on incidents_" in s]
    assert len(leaves) > 100  # control: each partition's own indexes are listed
    timings = generate_national(
        pg_engine,
        incidents=5_000,
        referrals=700,
        places=40,
        months=12,
        end=date(2026, 10, 31),
        seed=3,
        chunk=1_500,  # several chunks, the last one short
        say=lambda line: None,
        districts=DISTRICTS,
    )
    assert _schema(pg_engine) == before
    with pg_engine.connect() as connection:
        counts = connection.execute(
            text(
                "SELECT count(*), count(*) FILTER (WHERE online), "
                "count(*) FILTER (WHERE online AND easting IS NULL), "
                "count(*) FILTER (WHERE sex = ''), count(*) FILTER (WHERE sex IS NULL), "
                "count(DISTINCT district_code), count(place_id) FROM incidents"
            )
        ).one()
        referrals = connection.scalar(text("SELECT count(*) FROM referrals"))
    total, online, online_unlocated, unknown_sex, null_sex, districts, at_places = counts
    assert (total, referrals, districts) == (5_000, 700, 3)
    assert online == online_unlocated > 0
    assert unknown_sex > 0 and null_sex == 0
    assert 0 < at_places < total
    assert [stage for stage, _ in timings][-1] == "ANALYZE"
