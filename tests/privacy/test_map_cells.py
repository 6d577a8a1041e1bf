"""Fine cells for non-leads: a minimum cell size, and no hot cell around fewer than k incidents."""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from dashboard.filters import Filters, map_query
from geo.grid import build_grid
from services import reads as analysis
from services.access import Viewer
from services.audience import Audience

A = "E07000197"
LEAD = Audience.of(Viewer("lead", "lead", (A,)), k=5)
OFFICER = Audience.of(Viewer("officer", "officer", (A,)), k=5)
VIEWER = Audience.of(Viewer("viewer", "viewer", (A,)), k=5)
AREA = shapely.box(390_000, 320_000, 394_000, 324_000)


def _sites(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["easting", "northing", "month", "category", "n"])
    return frame.assign(key=np.arange(len(frame), dtype=np.int64) * 131)


def _grid():
    return build_grid(gpd.GeoSeries([AREA], crs=27700), cell_size=250)


def test_non_leads_get_cells_of_at_least_250_m():
    fine = Filters(cell_size=100)
    months = pd.Series(["2026-10"])
    assert map_query(fine, (A,), date(2026, 10, 5), months, audience=LEAD).cell_size == 100
    for reader in (OFFICER, VIEWER):
        query = map_query(fine, (A,), date(2026, 10, 5), months, audience=reader)
        assert query.cell_size == analysis.MIN_CELL_SIZE == 250
    coarse = Filters(cell_size=500)
    assert (
        map_query(coarse, (A,), date(2026, 10, 5), months, audience=OFFICER).cell_size == 500
    )


def test_no_hot_cell_is_drawn_for_non_leads_around_fewer_than_k_incidents(monkeypatch):
    # Three incidents at one spot in an empty district: a hot spot for the lead under the
    # normal approximation (exact p-values do not call it; the rule must hold either way).
    from functools import partial

    from geo.emerging import emerging_from_counts
    from geo.hotspots import gi_star_test

    monkeypatch.setattr(analysis, "gi_star_test", partial(gi_star_test, p_values="normal"))
    monkeypatch.setattr(
        analysis, "emerging_from_counts", partial(emerging_from_counts, p_values="normal")
    )
    lone = _sites([(392_125.0, 322_125.0, "2026-10", "cce", 3)])
    grid = _grid()
    lead = analysis.hot_cells(lone, grid, confidence=90, audience=LEAD)
    assert not lead.empty and (lead["bin"] > 0).any()  # the control: it is there to hide
    for reader in (OFFICER, VIEWER):
        assert analysis.hot_cells(lone, grid, confidence=90, audience=reader).empty
    picture = analysis.monthly_picture(lone, grid, last="2026-10", confidence=90, audience=OFFICER)
    assert picture.cells.empty
    lead_picture = analysis.monthly_picture(
        lone, grid, last="2026-10", confidence=90, audience=LEAD
    )
    assert not lead_picture.cells.empty


def test_a_hot_cell_with_k_in_its_neighbourhood_is_drawn_with_a_perturbed_count():
    # 3 in the cell and 2 in a neighbour: 5 in the 3x3 neighbourhood.
    rows = [
        (392_125.0, 322_125.0, "2026-10", "cce", 3),
        (392_375.0, 322_125.0, "2026-10", "cce", 2),
    ]
    grid = _grid()
    officer = analysis.hot_cells(_sites(rows), grid, confidence=90, audience=OFFICER)
    assert not officer.empty
    neighbourhood = analysis._thin_neighbourhoods(grid, analysis._counts(grid, _sites(rows)), 5)
    assert not neighbourhood[officer["cell"].to_numpy()].any()
    assert all(v == "<5" or v >= 5 for v in officer["count"])
