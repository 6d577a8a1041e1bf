"""The Map's wide-scope path: counts per 250 m square read in SQL give the spot path's figures.

A wide scope (all England) reads incidents counted per grid square, month and type in the
database (``store.sites.read_squares``) instead of per snapped spot. On a stored demo
(SQLite, then PostgreSQL), for a safeguarding lead (exact counts) and an officer (counts
perturbed by the cell key method, small ones suppressed), the headline, the hot cells and
the month-by-month picture made from the square rows are those made from the spot rows:
the same cells, bins and shown counts, so the wide path never shows a count the spot path
would suppress. The control reads squares of 1 km, which do not nest in 250 m cells: the
hot cells then differ, so the comparison can fail.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from data.load import load_demo
from geo.grid import build_grid, build_sparse_grid, locate_xy
from services import reads as analysis
from services.access import Viewer
from services.audience import Audience
from store import queries
from store.db import connect, upgrade
from store.sites import located, read_sites, read_squares, sites_in
from tests.conftest import _empty

TODAY = date(2026, 11, 22)
FIRST, LAST = "2026-08", "2026-10"


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def demo(request, tmp_path_factory):
    if request.param == "sqlite":
        engine = connect(f"sqlite:///{tmp_path_factory.mktemp('wide') / 'demo.db'}")
        upgrade(engine)
    else:
        engine = request.getfixturevalue("pg_engine")
        _empty(engine)
    load_demo(
        engine,
        today=TODAY,
        n_incidents=4_000,
        n_referrals=600,
        months=15,
        cache_dir=tmp_path_factory.mktemp("boundaries"),
    )
    codes = tuple(queries.load_districts(engine)["code"])
    yield engine, codes
    if request.param == "sqlite":
        engine.dispose()


def _audiences(codes: tuple[str, ...]) -> dict[str, Audience]:
    return {
        "lead": Audience.of(Viewer("lead", "lead", codes), k=5),
        "officer": Audience.of(Viewer("officer", "officer", codes), k=5),
    }


def _hot(frame: pd.DataFrame) -> pd.DataFrame:
    columns = [c for c in frame.columns if c != "geometry"]
    return pd.DataFrame(frame[columns]).sort_values("cell_id").reset_index(drop=True)


def test_square_rows_keep_every_total_and_key_and_are_fewer(demo):
    engine, codes = demo
    for kind in ("incidents", "referrals"):
        spots = read_sites(engine, codes, kind=kind)
        squares = read_squares(engine, codes, size=250, kind=kind)
        for frame in (spots, squares):
            frame["where"] = frame["easting"].notna()
        by = ["month", "category", "where"]
        pd.testing.assert_frame_equal(
            spots.groupby(by)[["n", "key"]].sum(), squares.groupby(by)[["n", "key"]].sum()
        )
        assert len(squares) < len(spots)  # aggregated: fewer rows than spots
        assert squares["n"].sum() > 100


@pytest.mark.parametrize("reader", ["lead", "officer"])
@pytest.mark.parametrize("cell_size", [250, 500])
def test_wide_path_gives_the_spot_paths_headline_hot_cells_and_months(demo, reader, cell_size):
    engine, codes = demo
    audience = _audiences(codes)[reader]
    grid = build_grid(queries.load_districts(engine, codes), cell_size=cell_size)
    spots = analysis.read_sites(engine, audience)
    squares = analysis.read_sites(engine, audience, square=250)
    period = {"first": FIRST, "last": LAST}
    assert analysis.period_totals(
        sites_in(squares, **period), audience=audience
    ) == analysis.period_totals(sites_in(spots, **period), audience=audience)
    spot_hot = analysis.hot_cells(sites_in(spots, **period), grid, confidence=90, audience=audience)
    square_hot = analysis.hot_cells(
        sites_in(squares, **period), grid, confidence=90, audience=audience
    )
    assert len(spot_hot) > 0
    pd.testing.assert_frame_equal(_hot(square_hot), _hot(spot_hot))
    spot_months = analysis.monthly_picture(spots, grid, last=LAST, confidence=90, audience=audience)
    square_months = analysis.monthly_picture(
        squares, grid, last=LAST, confidence=90, audience=audience
    )
    assert len(spot_months.cells) > 0
    pd.testing.assert_frame_equal(square_months.cells, spot_months.cells)
    assert square_months.category == spot_months.category


def test_control_squares_that_do_not_nest_in_the_cells_move_counts(demo):
    engine, codes = demo
    audience = _audiences(codes)["lead"]
    grid = build_grid(queries.load_districts(engine, codes), cell_size=250)
    period = {"first": FIRST, "last": LAST}
    spot_hot = analysis.hot_cells(
        sites_in(analysis.read_sites(engine, audience), **period),
        grid,
        confidence=90,
        audience=audience,
    )
    coarse = analysis.read_sites(engine, audience, square=1000)  # not nested in 250 m cells
    moved_hot = analysis.hot_cells(
        sites_in(coarse, **period), grid, confidence=90, audience=audience
    )
    assert not _hot(moved_hot).equals(_hot(spot_hot))


def test_wide_grid_covers_every_located_square_of_the_scope(demo):
    engine, codes = demo
    squares = located(read_squares(engine, codes, size=250))
    area = queries.load_districts(engine, codes)
    sparse = build_sparse_grid(
        area, squares["easting"].to_numpy(), squares["northing"].to_numpy(), cell_size=250
    )
    full = build_grid(area, cell_size=250)
    x, y = squares["easting"].to_numpy(), squares["northing"].to_numpy()
    got, want = locate_xy(sparse, x, y), locate_xy(full, x, y)
    assert (want >= 0).sum() > 100
    assert list(sparse.cell_ids(got[got >= 0])) == list(full.cell_ids(want[want >= 0]))
    assert sparse.n_cells < full.n_cells


def test_wide_scope_switch_follows_the_number_of_districts():
    assert analysis.wide_square(analysis.WIDE_DISTRICTS, 250) == 0
    assert analysis.wide_square(analysis.WIDE_DISTRICTS + 1, 250) == analysis.WIDE_SQUARE
    assert analysis.wide_square(296, 500) == 250
    assert analysis.wide_square(296, 100) == 100  # 250 m squares do not nest in 100 m cells


def test_a_wide_read_from_a_month_keeps_that_months_totals_only(demo):
    engine, codes = demo
    since = analysis.wide_since(FIRST, LAST)
    every = read_squares(engine, codes, size=250)
    recent = read_squares(engine, codes, size=250, since=since)
    assert recent["month"].min() == since > every["month"].min()  # the control: older exist
    kept = every.loc[every["month"] >= since]
    assert recent["n"].sum() == kept["n"].sum() > 0
    assert recent["key"].sum() == kept["key"].sum()
