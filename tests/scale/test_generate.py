"""``benchmarks/generate.py``: the counts asked for, the same rows for the same seed."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from data.load import demo_info
from store.db import connect
from store.models import Assessment, District, Incident, Place, Referral, User
from tests.scale.conftest import GENERATE, REPO, SMALL, run_generator, url_of


def digest(engine: Engine, model: type[Incident] | type[Referral]) -> str:
    """Return a hash of every event's stored values (not the time it was written)."""
    query = (
        select(
            model.source_ref,
            model.source_agency,
            model.category,
            model.occurred_on,
            model.age_band,
            model.sex,
            model.online,
            model.easting,
            model.northing,
            model.district_code,
            Place.place_key,
        )
        .outerjoin(Place, Place.id == model.place_id)
        .order_by(model.source_ref)
    )
    hashed = hashlib.sha256()
    with engine.connect() as connection:
        for row in connection.execute(query):
            hashed.update(repr(tuple(row)).encode())
    return hashed.hexdigest()


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory, boundary_cache: Path) -> dict[str, str]:
    """The digests of one small run into a fresh SQLite file."""
    url = f"sqlite:///{tmp_path_factory.mktemp('reference') / 'reference.db'}"
    run_generator(url, boundary_cache)
    engine = connect(url, create=False)
    try:
        return {"incidents": digest(engine, Incident), "referrals": digest(engine, Referral)}
    finally:
        engine.dispose()


def test_the_generator_fills_what_was_asked_and_repeats_itself(engine, boundary_cache, reference):
    done = run_generator(url_of(engine), boundary_cache)
    assert "build and store" in done.stdout
    with engine.connect() as connection:
        count = {
            model.__tablename__: connection.scalar(select(func.count()).select_from(model))
            for model in (District, Place, Incident, Referral, Assessment, User)
        }
        first, last = connection.execute(
            select(func.min(Incident.occurred_on), func.max(Incident.occurred_on))
        ).one()
        per_district = connection.execute(
            select(Incident.district_code, func.count()).group_by(Incident.district_code)
        ).all()
    assert count["incidents"] == 5_000
    assert count["referrals"] == 500
    assert count["districts"] == 9
    assert count["places"] == 480
    assert count["assessments"] > 20
    assert count["users"] == 4  # the demo accounts, to sign in to the load benchmark
    assert len(per_district) == 9
    assert str(first) >= "2025-11-01"
    assert str(last) <= "2026-10-31"
    assert demo_info(engine)["months"] == 12  # the app says the data are synthetic
    # The same seed gives the same rows, on SQLite again and on PostgreSQL.
    assert digest(engine, Incident) == reference["incidents"]
    assert digest(engine, Referral) == reference["referrals"]


def test_another_seed_gives_other_rows(tmp_path, boundary_cache, reference):
    url = f"sqlite:///{tmp_path / 'other.db'}"
    run_generator(url, boundary_cache, "--seed", "7")
    engine = connect(url, create=False)
    try:
        assert digest(engine, Incident) != reference["incidents"]
    finally:
        engine.dispose()


def test_a_database_with_data_is_refused(tmp_path, boundary_cache):
    url = f"sqlite:///{tmp_path / 'twice.db'}"
    run_generator(url, boundary_cache)
    again = subprocess.run(
        [sys.executable, str(GENERATE), url, *SMALL, "--cache-dir", str(boundary_cache)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 2
    assert "already holds data" in again.stderr
