"""Counts per grid square aggregated in the database (``store.queries.square_counts``).

A wide view (all England) must not read ten million rows into pandas: the database
counts them per square. The counts must be exactly those pandas gets from the rows
themselves (SQLite and PostgreSQL), land in the same hot-spot cells, and on PostgreSQL
a read of one district and one quarter must touch only that district's leaf partition.
"""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from sqlalchemy import Engine, insert, text

from geo.grid import build_grid, locate_xy
from store.models import District, Incident
from store.queries import EventFilter, load_events, square_counts
from store.sites import read_sites, read_squares

from .test_partitions import filled, incident_relations, leaf_of  # noqa: F401 (fixture)
from .test_query_plans import DISTRICTS, ONE, QUARTER, _fill, captured


@pytest.fixture
def small(engine: Engine) -> Engine:
    """3,000 incidents over 9 districts and 36 months, one of them online."""
    square = shapely.to_wkb(shapely.box(0, 0, 1, 1))
    with engine.begin() as connection:
        connection.execute(
            insert(District),
            [{"code": c, "name": c, "source": "test", "geometry_wkb": square} for c in DISTRICTS],
        )
    _fill(engine, Incident, 3_000, seed=5)
    with engine.begin() as connection:  # an online incident has no location
        connection.execute(
            text("UPDATE incidents SET easting = NULL, northing = NULL WHERE id = 1")
        )
    return engine


def _by_pandas(engine: Engine, chosen: EventFilter, size: int) -> pd.DataFrame:
    rows = load_events(engine, chosen).dropna(subset=["easting", "northing"])
    rows = rows.assign(
        col=np.floor(rows["easting"] / size).astype(int),
        row=np.floor(rows["northing"] / size).astype(int),
    )
    return rows.groupby(["col", "row"]).agg(n=("id", "size"), key=("record_key", "sum"))


@pytest.mark.parametrize("size", [250, 1000])
def test_square_counts_equal_the_rows_counted_in_pandas(small, size):
    chosen = EventFilter(start=date(2025, 1, 1), end=date(2025, 12, 31), districts=DISTRICTS[:5])
    got = square_counts(small, chosen, size=size)
    expected = _by_pandas(small, chosen, size)
    got_indexed = got.assign(
        col=((got["easting"] - size / 2) / size).astype(int),
        row=((got["northing"] - size / 2) / size).astype(int),
    ).set_index(["col", "row"])[["n", "key"]]
    pd.testing.assert_frame_equal(
        got_indexed.sort_index(), expected.sort_index(), check_dtype=False
    )
    assert got["n"].sum() == expected["n"].sum() > 100  # something was counted
    # the control: the whole of the data counts more, so the filter is applied in SQL
    assert square_counts(small, EventFilter(), size=size)["n"].sum() > got["n"].sum()


def test_squares_land_in_the_same_hot_spot_cells_as_their_incidents(small):
    area = gpd.GeoSeries([shapely.box(380_000, 290_000, 440_000, 350_000)], crs=27700)
    grid = build_grid(area, cell_size=500)
    rows = load_events(small).dropna(subset=["easting", "northing"])
    by_row = np.bincount(
        locate_xy(grid, rows["easting"].to_numpy(), rows["northing"].to_numpy()) + 1,
        minlength=grid.n_cells + 1,
    )[1:]
    squares = square_counts(small, EventFilter(), size=250)
    cells = locate_xy(grid, squares["easting"].to_numpy(), squares["northing"].to_numpy())
    by_square = np.bincount(cells + 1, weights=squares["n"], minlength=grid.n_cells + 1)[1:]
    np.testing.assert_array_equal(by_square, by_row)
    assert by_row.sum() > 2_000


def test_a_bad_square_size_is_refused(small):
    with pytest.raises(ValueError, match="positive number of metres"):
        square_counts(small, EventFilter(), size=0)


@pytest.mark.postgres
def test_one_district_and_one_quarter_counts_read_one_leaf(filled):  # noqa: F811
    one = EventFilter(start=QUARTER[0], end=QUARTER[1], districts=(ONE,))
    wide = EventFilter(start=date(2024, 1, 1), end=date(2026, 12, 31), districts=DISTRICTS)
    with filled.connect() as connection, connection.begin() as transaction:
        leaf = leaf_of(connection, ONE, QUARTER[0])
        transaction.rollback()
    relations = {}
    for name, chosen in (("one", one), ("wide", wide)):
        with captured(filled) as seen:
            square_counts(filled, chosen, size=250)
        assert len(seen) == 1
        with filled.connect() as connection:
            relations[name] = incident_relations(connection, *seen[0])
    assert relations["one"] == {leaf}
    assert len(relations["wide"]) > 8  # the control: an unpruned read is seen as such


def _squares_from_spots(engine: Engine, size: int) -> pd.DataFrame:
    """Per spot in SQL (``read_sites``), then per square in pandas: the reference."""
    spots = read_sites(engine, DISTRICTS)
    spots = spots.assign(
        col=np.floor(spots["easting"] / size), row=np.floor(spots["northing"] / size)
    )
    by = ["col", "row", "month", "category"]
    summed = spots.astype({"month": str, "category": str}).groupby(by, dropna=False)
    return summed[["n", "key"]].sum().sort_index()


def _indexed(squares: pd.DataFrame, size: int) -> pd.DataFrame:
    squares = squares.assign(
        col=np.floor(squares["easting"] / size), row=np.floor(squares["northing"] / size)
    )
    by = ["col", "row", "month", "category"]
    return squares.astype({"month": str, "category": str}).set_index(by)[["n", "key"]].sort_index()


def test_wide_reads_give_every_square_month_and_type_as_the_spots_do(small):
    """``read_squares`` (on PostgreSQL packed into CSV texts by the database) gives each
    square, month and type the count and key sum of its spots, an event with no location
    and a type with a comma and quotes included; the control changes one key."""
    with small.begin() as connection:
        connection.execute(
            text("UPDATE incidents SET category = 'odd, \"quoted\" type' WHERE id <= 3")
        )
    got = _indexed(read_squares(small, DISTRICTS, size=250), 250)
    expected = _squares_from_spots(small, 250)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert got.index.get_level_values("category").str.contains('"quoted"').any()
    assert got.index.get_level_values("col").isna().any()  # the online incident
    assert got["n"].sum() == 3_000
    changed = got.copy()
    changed.iloc[len(changed) // 2, 1] += 1  # the control: one key sum off by one
    with pytest.raises(AssertionError):
        pd.testing.assert_frame_equal(changed, expected, check_dtype=False)
