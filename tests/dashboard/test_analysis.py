"""The Map page's analysis on small hand-made data: what each role gets back."""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from sqlalchemy import func, insert, select

from geo.grid import build_grid
from services import reads as analysis
from services.access import AccessDenied, Viewer
from services.audience import Audience
from store.db import session_scope
from store.models import AuditEvent, District, Incident
from store.sites import sites_in

A, B = "E07000197", "E07000192"
LEAD = Audience.of(Viewer("lead", "lead", (A, B)), k=5)
OFFICER = Audience.of(Viewer("officer", "officer", (A,)), k=5)
# A 4 km x 4 km district of 250 m cells, with a cluster of incidents in one corner.
AREA = shapely.box(390_000, 320_000, 394_000, 324_000)
CLUSTER = (390_125.0, 320_125.0)
NEXT_DOOR = ((250.0, 0.0), (0.0, 250.0), (250.0, 250.0))


def _sites(rows: list[tuple[float | None, float | None, str, str, int]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["easting", "northing", "month", "category", "n"])
    return frame.assign(key=np.arange(len(frame), dtype=np.int64) * 97)  # record key sums


@pytest.fixture
def grid():
    return build_grid(gpd.GeoSeries([AREA], crs=27700), cell_size=250)


@pytest.fixture
def sites() -> pd.DataFrame:
    """30 incidents at the cluster in Oct 2026 (24 next door), a few spread out, two online."""
    rng = np.random.default_rng(1)
    spread = [
        (float(x), float(y), "2026-10", "cce", 1)
        for x, y in zip(
            rng.uniform(391_000, 394_000, 20), rng.uniform(321_000, 324_000, 20), strict=True
        )
    ]
    return _sites(
        [
            (*CLUSTER, "2026-10", "cce", 30),
            # its neighbouring squares (250 m away, outside a 200 m radius) are busy too: a
            # cluster, not one busy square (exact p-values do not call a lone square hot)
            *[(CLUSTER[0] + dx, CLUSTER[1] + dy, "2026-10", "cce", 8) for dx, dy in NEXT_DOOR],
            (*CLUSTER, "2026-09", "cse", 2),
            (None, None, "2026-10", "online_exploitation", 2),
            *spread,
        ]
    )


def test_settings_round_trip_through_the_link() -> None:
    settings = analysis.MapSettings(confidence=99, radius=300, min_incidents=5)
    params = analysis.settings_to_params(settings)
    assert params == {"conf": "99", "radius": "300", "min": "5"}
    assert analysis.settings_from_params(params) == (settings, [])
    assert analysis.settings_to_params(analysis.MapSettings()) == {}


@pytest.mark.parametrize(
    ("params", "word"),
    [({"conf": "97"}, "confidence"), ({"radius": "-3"}, "radius"), ({"min": "x"}, "threshold")],
)
def test_a_hand_edited_setting_falls_back_with_a_notice(params, word) -> None:
    settings, notices = analysis.settings_from_params(params)
    assert settings == analysis.MapSettings()
    assert len(notices) == 1 and word in notices[0]


def test_sites_are_chosen_by_type_and_month(sites) -> None:
    assert sites_in(sites, types=("cse",))["n"].sum() == 2
    assert sites_in(sites, first="2026-10")["n"].sum() == 30 + 24 + 2 + 20
    assert sites_in(sites, last="2026-09")["n"].sum() == 2


def test_hot_cells_find_the_cluster_and_hide_small_counts_from_officers(sites, grid) -> None:
    october = sites_in(sites, first="2026-10")
    lead = analysis.hot_cells(october, grid, confidence=95, audience=LEAD)
    corner = lead.loc[lead["cell_id"] == "BNG250m_390000_320000"]
    assert corner["bin"].iloc[0] == 3 and corner["count"].iloc[0] == 30
    assert lead.crs.to_epsg() == 4326
    officer = analysis.hot_cells(october, grid, confidence=90, audience=OFFICER)
    shown = set(map(str, officer["count"]))
    assert "1" not in shown and "2" not in shown
    stricter = analysis.hot_cells(october, grid, confidence=99, audience=LEAD)
    assert len(stricter) <= len(lead) and set(stricter["bin"].abs()) == {3}


def test_no_incidents_give_no_cells(grid) -> None:
    empty = analysis.hot_cells(_sites([]), grid, confidence=95, audience=LEAD)
    assert empty.empty


def test_the_month_by_month_picture_shows_the_cluster_in_its_month(sites, grid) -> None:
    picture = analysis.monthly_picture(sites, grid, last="2026-10", confidence=95, audience=LEAD)
    assert picture.months[-1] == "2026-10" and len(picture.months) == 12
    october = picture.cells.loc[picture.cells["month"] == "2026-10"]
    corner = grid.find("BNG250m_390000_320000")
    assert corner in set(october["cell"])
    assert picture.category[corner].endswith("Hot Spot")


def test_the_month_by_month_picture_draws_every_significant_month_and_cell(sites, grid) -> None:
    """The shared exact statistics keep only months and cells with a bin: what is drawn for
    each confidence and audience is what the full Gi* of the points gives."""
    import warnings

    from geo.emerging import emerging_hotspots
    from geo.grid import contiguity
    from geo.hotspots import confidence_bins
    from geo.points import HotspotWarning
    from store.sites import as_points

    weaker = (392_125.0, 322_125.0)
    sites = pd.concat(
        [
            sites,
            _sites(
                [(*weaker, "2026-08", "cce", 5)]
                + [(weaker[0] + dx, weaker[1] + dy, "2026-08", "cce", 2) for dx, dy in NEXT_DOOR]
                + [(391_500.0 + 300 * i, 323_500.0, "2026-08", "cce", 1) for i in range(8)]
            ),
        ],
        ignore_index=True,
    )
    window = pd.period_range("2025-11", "2026-10", freq="M")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HotspotWarning)
        full = emerging_hotspots(as_points(sites), grid, window=window, weight_column="n")
    bins = confidence_bins(full.z, full.q)
    around = (contiguity(grid) @ full.counts.T).T
    drawn = {}
    strict = Audience.of(Viewer("officer", "officer", (A,)), k=40)
    for confidence, audience in ((90, LEAD), (95, LEAD), (90, strict)):
        picture = analysis.monthly_picture(
            sites, grid, last="2026-10", confidence=confidence, audience=audience
        )
        wanted = np.abs(bins) >= analysis.CONFIDENCE_LEVELS[confidence][0]
        if not audience.exact:
            wanted &= around >= audience.k
        t, c = np.nonzero(wanted)
        assert picture.cells["month"].tolist() == [picture.months[i] for i in t]
        assert picture.cells["cell"].tolist() == c.tolist()
        assert picture.cells["bin"].tolist() == bins[t, c].tolist()
        assert picture.category == {int(i): str(full.category[i]) for i in np.unique(c)}
        drawn[(confidence, audience.exact)] = len(c)
    # control: the strict audience is shown fewer, so a picture drawing them all would fail
    assert drawn[(90, True)] > drawn[(90, False)] > 0


def _places() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": [1, 2, 3], "name": ["Bus station", "Quiet park", "Nowhere"]}
        | {"category": ["transport_hub", "park", "park"]},
        geometry=[shapely.Point(CLUSTER), shapely.Point(393_800, 323_800), shapely.Point()],
        crs=27700,
    )


def test_flagged_places_carry_the_engines_reason(sites, grid) -> None:
    settings = analysis.MapSettings(radius=200, min_incidents=10)
    flags = analysis.flagged_places(
        _places(), sites, grid, first="2026-10", last="2026-10", settings=settings, audience=LEAD
    )
    assert flags["id"].tolist()[0] == 1
    assert flags["reason"].iloc[0].startswith("30 incidents within 200 m in Oct 2026 (up from 2)")
    assert 3 not in flags["id"].tolist()  # no location: never flagged, never drawn


def test_flag_reasons_hide_small_counts_from_officers(sites, grid) -> None:
    settings = analysis.MapSettings(radius=100, min_incidents=2)
    kwargs = {"first": "2026-09", "last": "2026-09", "settings": settings}
    lead = analysis.flagged_places(_places(), sites, grid, audience=LEAD, **kwargs)
    officer = analysis.flagged_places(_places(), sites, grid, audience=OFFICER, **kwargs)
    assert lead["reason"].iloc[0].startswith("2 incidents")
    assert officer.empty  # an officer's flags need k incidents: "flagged" says nothing of 2
    october = {**kwargs, "first": "2026-10", "last": "2026-10"}
    lead = analysis.flagged_places(_places(), sites, grid, audience=LEAD, **october)
    officer = analysis.flagged_places(_places(), sites, grid, audience=OFFICER, **october)
    assert lead["reason"].iloc[0].startswith("30 incidents within 100 m in Oct 2026 (up from 2)")
    shown = officer["incidents"].iloc[0]
    assert abs(shown - 30) <= 4  # perturbed, numbers first
    reason = officer["reason"].iloc[0]
    assert reason.startswith(f"{shown} incidents within 100 m in Oct 2026")
    assert "from 2)" not in reason  # the previous month's 2 is shown as <5, or 5 and more


@pytest.mark.parametrize("audience", [LEAD, OFFICER], ids=["lead", "officer"])
def test_the_short_reason_is_the_reason_without_its_period(sites, grid, audience) -> None:
    settings = analysis.MapSettings(radius=100, min_incidents=2)
    flags = analysis.flagged_places(
        _places(), sites, grid, first="2026-10", last="2026-10", settings=settings,
        audience=audience,
    )  # fmt: skip
    assert not flags.empty
    for full, short in zip(flags["reason"], flags["reason_short"], strict=True):
        assert " in Oct 2026" in full and "Oct 2026" not in short
        assert short == full.replace(" in Oct 2026", "", 1)  # every other word kept
    if audience is OFFICER:  # the control: rendered from the counts as shown, not the true 30, 2
        shown = flags["incidents"].iloc[0]
        assert flags["reason_short"].iloc[0].startswith(f"{shown} incidents within 100 m (")
        assert "from 2)" not in flags["reason_short"].iloc[0]


def test_why_not_flagged_gives_the_figures_and_hides_small_counts(sites, grid) -> None:
    settings = analysis.MapSettings(radius=200, min_incidents=10)
    kwargs = {"first": "2026-09", "last": "2026-09", "settings": settings}
    lead = analysis.why_not_flagged(_places(), sites, grid, 1, audience=LEAD, **kwargs)
    assert lead.startswith("2 incidents within 200 m in Sep 2026, the threshold is 10")
    officer = analysis.why_not_flagged(_places(), sites, grid, 1, audience=OFFICER, **kwargs)
    assert officer.startswith("<5 incidents within 200 m in Sep 2026, the threshold is 10")
    assert "2 incidents" not in officer  # the control above shows the true count would leak
    quiet = analysis.why_not_flagged(_places(), sites, grid, 2, audience=LEAD, **kwargs)
    assert quiet.startswith("0 incidents within 200 m")
    flagged = analysis.why_not_flagged(
        _places(), sites, grid, 1, audience=LEAD, first="2026-10", last="2026-10", settings=settings
    )
    assert flagged == ""  # 30 incidents: it is flagged


def test_cell_size_note_names_an_offered_size_and_no_count(sites, grid) -> None:
    october = sites_in(sites, first="2026-10")
    note = analysis.cell_size_note(october, grid, sizes=(100, 250, 500, 1000))
    assert note.startswith("Few incidents for 250 m squares") and "Try 500 m squares" in note
    assert not any(str(n) in note.split("Try")[0] for n in (74, 76, 54))  # no count in it
    many = _sites([(390_000.0 + 250 * i + 125, 320_125.0, "2026-10", "cce", 50) for i in range(16)])
    lots = pd.concat([many.assign(northing=320_125.0 + 250 * j) for j in range(16)])
    assert analysis.cell_size_note(lots, grid, sizes=(250, 500)) == ""  # the control
    assert analysis.cell_size_note(_sites([]), grid, sizes=(250, 500)) == ""


def test_density_for_officers_never_draws_around_fewer_than_k_incidents(sites) -> None:
    few = _sites([(391_000.0, 321_000.0, "2026-10", "cce", 1), (*CLUSTER, "2026-10", "cce", 3)])
    assert not analysis.density_layer(few, audience=LEAD).empty
    assert analysis.density_layer(few, audience=OFFICER).empty
    many = analysis.density_layer(sites, audience=OFFICER)
    assert not many.empty and many.crs.to_epsg() == 4326


def test_square_counts_are_suppressed_for_officers(sites) -> None:
    referrals = _sites([(*CLUSTER, "2026-10", "cce", 3)])
    lead = analysis.aggregate_squares(sites, referrals, audience=LEAD)
    officer = analysis.aggregate_squares(sites, referrals, audience=OFFICER)
    assert lead["incidents"].sum() == 32 + 24 + 20
    assert "<5" in set(officer["incidents"]) and "<5" in set(officer["referrals"])
    assert not any(isinstance(v, int | np.integer) and 0 < v < 5 for v in officer["incidents"])


def test_a_click_finds_the_place_then_the_cell(sites, grid) -> None:
    places = _places().to_crs(4326)
    cells = analysis.hot_cells(sites, grid, confidence=95, audience=LEAD)
    bus = places.geometry.iloc[0]
    assert analysis.locate_click(bus.y, bus.x, places=places, cells=cells) == analysis.Click(
        "place", "1"
    )
    # 40 m from the bus station: not the place, but the hot cell it stands in.
    shifted = gpd.GeoSeries([shapely.Point(CLUSTER[0] + 40, CLUSTER[1])], crs=27700).to_crs(4326)
    hit = analysis.locate_click(shifted.y[0], shifted.x[0], places=places, cells=cells)
    assert hit == analysis.Click("cell", "BNG250m_390000_320000")
    assert analysis.locate_click(53.5, -1.0, places=places, cells=cells) is None


def test_place_tables_are_suppressed_for_officers() -> None:
    events = pd.DataFrame(
        {
            "category": ["cce"] * 12 + ["cse"] * 2,
            "occurred_on": pd.to_datetime(["2026-10-05"] * 14),
            "age_band": ["13-15"] * 10 + ["16-17"] * 4,
            "source_agency": ["police"] * 14,
        }
    )
    events["record_key"] = np.arange(14) * 41
    lead = analysis.place_summary(events, first="2026-10", audience=LEAD)
    officer = analysis.place_summary(events, first="2026-10", audience=OFFICER)
    assert lead["ages"]["Incidents"].tolist() == [10, 4]
    ten, four = officer["ages"]["Incidents"].tolist()
    assert abs(int(ten) - 10) <= 4 and (four == "<5" or 5 <= int(four) <= 8)
    cse = officer["trend"].loc[officer["trend"]["type"] == "Child sexual exploitation"]
    assert all(v == "<5" or int(v) >= 5 for v in cse["shown"])  # 2 is never shown as 2
    assert cse["count"].isna().all() == (set(cse["shown"]) == {"<5"})
    assert lead["trend"]["count"].sum() == 14
    year = analysis.place_summary(
        events, first="2026-10", audience=LEAD, months=("2025-11", "2026-10")
    )
    assert year["trend"]["month"].nunique() == 12 and year["trend"]["count"].sum() == 14


def _fill(engine) -> None:
    with session_scope(engine) as session:
        for code in (A, B):
            session.add(District(code=code, name=code, source="test", geometry_wkb=AREA.wkb))
        session.flush()
        rows = [
            {
                "source_agency": "police",
                "source_ref": f"r{i}",
                "category": "cce" if i < 8 else "cse",
                "occurred_on": date(2026, 10, 1 + i),
                "age_band": "13-15" if i % 2 else "16-17",
                "online": False,
                "easting": CLUSTER[0] if i < 10 else None,
                "northing": CLUSTER[1] if i < 10 else None,
                "district_code": A if i < 11 else B,
            }
            for i in range(12)
        ]
        session.execute(insert(Incident), rows)


def test_sites_are_read_as_counts_within_the_viewers_districts(engine) -> None:
    _fill(engine)
    lead = analysis.read_sites(engine, LEAD)
    assert lead["n"].sum() == 12
    assert lead.loc[lead["easting"].notna() & (lead["category"] == "cce"), "n"].tolist() == [8]
    assert set(lead["month"]) == {"2026-10"}
    officer = analysis.read_sites(engine, OFFICER)
    assert officer["n"].sum() == 11  # the incident in district B is not read
    older = analysis.read_sites(engine, LEAD, ages=("13-15",))
    assert older["n"].sum() == 6
    with pytest.raises(AccessDenied):
        analysis.read_sites(engine, OFFICER, districts=(B,))


def test_points_only_for_leads_and_only_when_few_enough(engine) -> None:
    _fill(engine)
    query = analysis.MapQuery(districts=(A, B), first="2026-10", last="2026-10")
    points, total = analysis.incident_points(engine, LEAD, query)
    assert total == 10 and len(points) == 10
    assert points["lat"].round(5).equals(points["lat"])
    assert analysis.incident_points(engine, LEAD, query, limit=5) == (None, 10)
    with pytest.raises(AccessDenied):
        analysis.incident_points(engine, OFFICER, analysis.MapQuery(districts=(A,)))


def test_events_near_a_place_have_no_coordinates(engine) -> None:
    _fill(engine)
    query = analysis.MapQuery(districts=(A,), last="2026-10")
    area = shapely.Point(CLUSTER).buffer(200)
    events = analysis.events_near(engine, OFFICER, query, area=area, first="2026-01")
    assert len(events) == 10
    assert "easting" not in events.columns and "northing" not in events.columns
    far = shapely.Point(393_000, 323_000).buffer(200)
    assert analysis.events_near(engine, OFFICER, query, area=far, first="2026-01").empty


def test_opening_a_panel_is_audited(engine) -> None:
    _fill(engine)
    analysis.record_panel_view(
        engine,
        Viewer("officer", "officer", (A,)),
        analysis.Click("place", "7"),
        detail={"first": "2026-10"},
    )
    with session_scope(engine) as session:
        event = session.scalars(select(AuditEvent)).one()
        assert (event.actor, event.action, event.entity, event.entity_id) == (
            "officer",
            "view place panel",
            "place",
            "7",
        )
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 1
