"""Fixtures for the import tests: a database with the default area, an admin, a key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest
from sqlalchemy import Engine, select, text

from data.demo import DEFAULT_AREA
from geo.boundaries import district_boundaries
from services.access import Viewer
from services.boundaries import save_boundaries
from services.imports import import_file
from store.models import Base

KEY = "test-deployment-key-0123456789"


@pytest.fixture(scope="session")
def area(area_cache: Path) -> gpd.GeoDataFrame:
    """The approximate outlines of the 9 districts (built once a run, see ``area_cache``)."""
    return district_boundaries(DEFAULT_AREA, cache_dir=area_cache)


@pytest.fixture
def db(engine: Engine, area: gpd.GeoDataFrame) -> Iterator[Engine]:
    """An empty database (SQLite, then PostgreSQL) with the default area stored."""
    save_boundaries(engine, area, kind="district", actor="test")
    yield engine


@pytest.fixture
def admin() -> Viewer:
    return Viewer("data.officer", "admin", DEFAULT_AREA)


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SAFER_SPACES_PSEUDONYM_KEY", KEY)
    return KEY


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SAFER_SPACES_PSEUDONYM_KEY", raising=False)
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml here


def snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every table, as text, to check that nothing changed.

    The tables are the models' (every table but ``alembic_version``); a partitioned table's
    rows are read through it (reflecting PostgreSQL's hundreds of partitions took seconds).
    The database's own log of writes (``data_changes``, the caches' key) is left out: a
    rollback puts the data back as they were, but is a write itself.
    """
    out = {}
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if table.name == "data_changes":
                continue
            rows = connection.execute(select(table)).all()
            out[table.name] = sorted(tuple(str(v) for v in row) for row in rows)
    return out


def dump(engine: Engine) -> str:
    """The whole database as text: SQLite's iterdump, or every column of every table."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            return "\n".join(raw.driver_connection.iterdump())
        finally:
            raw.close()
    lines = []
    with engine.connect() as connection:
        tables = connection.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ).all()
        for table in tables:
            for row in connection.execute(text(f'SELECT t::text FROM "{table}" t')):
                lines.append(f"{table}: {row[0]}")
    return "\n".join(lines)


def count(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return connection.scalar(text(f"SELECT count(*) FROM {table}"))


def write(path: Path, content: str | bytes, encoding: str = "utf-8") -> Path:
    if isinstance(content, str):
        content = content.encode(encoding)
    path.write_bytes(content)
    return path


def run(engine: Engine, path: Path, viewer: Viewer, kind: str = "incidents", **kwargs):
    return import_file(engine, path, kind=kind, viewer=viewer, **kwargs)
