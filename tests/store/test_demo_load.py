import shutil
from datetime import date

import pytest
from sqlalchemy import func, select

from data.load import DemoError, demo_info, load_demo
from geo.measures import assessment_state
from store.db import connect
from store.models import Assessment, District, Incident, Place
from store.queries import (
    EventFilter,
    data_version,
    latest_event_date,
    load_actions,
    load_assessments,
    load_districts,
    load_events,
    load_places,
)
from tests.conftest import _empty


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def demo_engine(request, tmp_path_factory):
    """The small demo, loaded once a module on each database (SQLite, then PostgreSQL).

    The tests read it; the last one renames a place, which no other test looks at.
    """
    if request.param == "sqlite":
        folder = tmp_path_factory.mktemp("demo-load")
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), folder / "test.db")
        engine = connect(f"sqlite:///{folder / 'test.db'}")
    else:
        engine = request.getfixturevalue("pg_engine")
        _empty(engine)
    load_demo(
        engine,
        today=date(2026, 11, 22),
        n_incidents=3_000,
        n_referrals=500,
        cache_dir=request.getfixturevalue("area_cache"),
    )
    yield engine
    if request.param == "sqlite":
        engine.dispose()


def test_the_demo_fills_every_table_once(demo_engine, tmp_path):
    with demo_engine.connect() as connection:
        counts = {
            m.__tablename__: connection.scalar(select(func.count()).select_from(m))
            for m in (District, Place, Incident, Assessment)
        }
    assert counts["districts"] == 9
    assert counts["incidents"] == 3_000
    assert counts["places"] > 100
    assert demo_info(demo_engine)["end"] == "2026-10-31"
    with pytest.raises(DemoError, match="already holds data"):
        load_demo(demo_engine, n_incidents=3_000, n_referrals=500, cache_dir=tmp_path / "cache")
    with demo_engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Incident)) == 3_000


def test_queries_read_back_what_the_demo_stored(demo_engine):
    districts = load_districts(demo_engine)
    assert districts.crs.to_epsg() == 27700
    assert districts.geometry.is_valid.all()
    assert set(districts["source"]) == {"approximate"}
    places = load_places(demo_engine)
    located = places.loc[places["easting"].notna()]
    assert located.geometry.within(districts.union_all().buffer(1)).all()
    assert latest_event_date(demo_engine) <= date(2026, 10, 31)
    state = assessment_state(load_assessments(demo_engine), today=date(2026, 11, 22))
    assert set(state["state"]) == {"current", "overdue", "draft"}
    assert len(load_actions(demo_engine)) > 0


def test_event_filters_select_the_matching_rows(demo_engine):
    everything = load_events(demo_engine)
    chosen = EventFilter(
        start=date(2026, 1, 1),
        end=date(2026, 6, 30),
        categories=("cce", "cse"),
        districts=("E07000197",),
    )
    subset = load_events(demo_engine, chosen)
    expected = everything.loc[
        everything["occurred_on"].between("2026-01-01", "2026-06-30")
        & everything["category"].isin(["cce", "cse"])
        & (everything["district_code"] == "E07000197")
    ]
    assert 0 < len(subset) < len(everything)
    assert sorted(subset["id"]) == sorted(expected["id"])


def test_the_data_version_changes_when_data_change(demo_engine):
    before = data_version(demo_engine)
    with demo_engine.begin() as connection:
        connection.execute(Place.__table__.update().where(Place.id == 1).values(name="Renamed"))
    assert data_version(demo_engine) != before
