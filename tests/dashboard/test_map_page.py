"""The Map page on the demo, through Streamlit's AppTest, for each role.

AppTest cannot draw the map; it runs the page and records what streamlit-folium would send
to the browser, which is what these tests read. The browser tests click the real map.
"""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest
import streamlit as st
import streamlit_folium
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from data.demo import DEFAULT_AREA
from services.access import Viewer
from services.reads import Click
from store.db import connect, session_scope
from store.models import AuditEvent
from tests.dashboard.conftest import APP

ALL = DEFAULT_AREA
VIEWERS = {
    "lead": Viewer("t.lead", "lead", ALL, "Staffordshire County Council"),
    "officer": Viewer("t.officer", "officer", ("E07000192", "E07000197"), "Stafford BC"),
    "viewer": Viewer("t.viewer", "viewer", ALL, "Steering group"),
}


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The JSON streamlit-folium sends to the browser, one entry per map drawn."""
    calls: list[str] = []
    original = streamlit_folium._component_func

    def component(**kwargs):
        shown = {k: v for k, v in kwargs.items() if k not in ("on_change", "default", "key")}
        calls.append(json.dumps(shown))
        return original(**kwargs)

    monkeypatch.setattr(streamlit_folium, "_component_func", component)
    return calls


# What only the incident points layer writes (flagged places are clustered too, so the
# marker cluster plugin itself is on every map).
POINTS = "new L.LatLng(row[0], row[1])"


def _run(role: str, query: dict[str, str] | None = None, state: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["viewer"] = VIEWERS[role]
    for key, value in (state or {}).items():
        at.session_state[key] = value
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def _incident_pairs(url: str, districts: tuple[str, ...]) -> list[str]:
    """Incident locations in the districts as ``"lat, lon"`` at 5 decimals, as a map writes
    markers, leaving out those that coincide with a place or a cell corner (public shapes)."""
    engine = connect(url)
    codes = ",".join(f"'{c}'" for c in districts)
    incidents = pd.read_sql(
        "SELECT DISTINCT easting, northing FROM incidents WHERE easting IS NOT NULL "
        f"AND district_code IN ({codes})",
        engine,
    )
    places = pd.read_sql("SELECT easting, northing FROM places", engine)
    engine.dispose()
    at_place = incidents.merge(places, how="left", indicator=True)["_merge"] == "both"
    corner = (incidents["easting"] % 250 == 0) & (incidents["northing"] % 250 == 0)
    kept = incidents.loc[~at_place.to_numpy() & ~corner.to_numpy()]
    points = gpd.GeoSeries.from_xy(kept["easting"], kept["northing"], crs=27700).to_crs(4326)
    return [f"{round(p.y, 5)}, {round(p.x, 5)}" for p in points]


@pytest.mark.parametrize("role", list(VIEWERS))
def test_the_map_page_renders_for_each_role(demo_database, sent, role) -> None:
    at = _run(role)
    assert [t.value for t in at.title] == ["Map"]
    labels = [m.label for m in at.metric]
    assert labels[0] == "Incidents in period" and labels[2] == "Flagged places"
    assert int(at.metric[2].value.replace(",", "")) > 0
    payload = sent[-1]
    assert "Hot spot, 99% confidence" in payload  # the hot cells are drawn
    assert "AwesomeMarkers" in payload  # and the flagged places
    offered = str(at.get("button_group")[0].proto)
    assert "Hot and cold spots" in offered
    assert ("Incident points" in offered) == VIEWERS[role].sees_points


@pytest.mark.parametrize("role", ["officer", "viewer"])
def test_roles_without_point_access_get_no_incident_coordinates(demo_database, sent, role):
    every_layer = ["hot", "flags", "density", "counts", "places"]
    at = _run(role, state={"map_seeded": True, "map_layers": every_layer} | _settings())
    payload = sent[-1]
    assert POINTS not in payload
    pairs = _incident_pairs(demo_database, VIEWERS[role].districts)
    assert len(pairs) > 100
    assert [pair for pair in pairs if pair in payload] == []
    assert at.metric[0].value  # the page still shows its figures


def test_a_lead_sees_clustered_points_when_there_are_few_enough(demo_database, sent) -> None:
    at = _run("lead", state={"map_seeded": True, "map_layers": ["points"]} | _settings())
    payload = sent[-1]
    assert POINTS in payload
    pairs = _incident_pairs(demo_database, ALL)
    assert sum(pair in payload for pair in pairs) > 100
    assert not [i for i in at.info if "too many to draw" in i.value]


def test_too_many_points_fall_back_to_aggregates(demo_database, sent) -> None:
    at = _run(
        "lead",
        {"period": "all"},
        state={"map_seeded": True, "map_layers": ["points"]} | _settings(),
    )
    assert any("too many to draw" in i.value for i in at.info)
    assert POINTS not in sent[-1]


def _settings(confidence: int = 95, radius: int = 200, minimum: int = 10) -> dict:
    return {"map_conf": confidence, "map_radius": radius, "map_min": minimum}


def test_settings_change_what_is_flagged(demo_database, sent) -> None:
    loose = _run("lead", state={"map_seeded": True, "map_layers": ["flags"]} | _settings())
    strict = _run(
        "lead",
        state={"map_seeded": True, "map_layers": ["flags"]} | _settings(99, 100, 30),
    )
    assert int(strict.metric[2].value.replace(",", "")) < int(
        loose.metric[2].value.replace(",", "")
    )
    assert len(sent[-1]) < len(sent[0])


def test_a_period_without_incidents_shows_an_empty_map_and_says_why(demo_database, sent):
    at = _run("lead", {"period": "custom", "start": "2001-01-01", "end": "2001-03-31"})
    assert at.metric[0].value == "0"
    assert any("No incidents match these filters" in i.value for i in at.info)
    assert "Districts" in sent[-1]  # the outlines are still drawn


def test_the_panel_shows_why_a_place_was_flagged_and_is_audited(demo_database, sent, monkeypatch):
    place_id = _flagged_ids(_run("lead"), demo_database)[0]
    at = _run("lead", state={"map_selected": Click("place", str(place_id))})
    reasons = [e.value for e in at.error if "Why it was flagged" in e.value]
    assert reasons and "within 200 m" in reasons[0]
    assert at.get("vega_lite_chart"), "the monthly trend chart is missing"
    engine = connect(demo_database)
    with session_scope(engine) as session:
        logged = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "view place panel", AuditEvent.entity_id == str(place_id)
            )
        ).all()
    engine.dispose()
    assert logged and logged[-1].actor == "t.lead"

    # "Start an assessment" hands the place to the Assessments page (not run here: it
    # would start a draft in the shared demo database).
    switched: list[str] = []
    monkeypatch.setattr(st, "switch_page", lambda page: switched.append(str(page)))
    at.button(key="map_assess").click().run()
    assert switched and switched[0].endswith("pages/assessments.py")
    assert at.session_state["assess_place_id"] == place_id


def test_an_officer_panel_hides_small_numbers(demo_database, sent) -> None:
    place_id = _flagged_ids(_run("officer"), demo_database)[-1]
    at = _run("officer", state={"map_selected": Click("place", str(place_id))})
    tables = [d.value for d in at.dataframe]
    counts = pd.concat([t["Incidents"] for t in tables if "Incidents" in t.columns])
    assert not any(isinstance(v, int) and 0 < v < 5 for v in counts)


def test_a_link_restores_the_map_settings_or_explains(demo_database, sent) -> None:
    at = _run("lead", {"conf": "99", "min": "lots", "layers": "hot,density,bogus"})
    assert at.select_slider(key="map_conf").value == 99
    assert at.selectbox(key="map_min").value == 10
    assert at.session_state["map_layers"] == ["hot", "density"]
    notices = " ".join(t.value for t in at.toast)
    assert "threshold 'lots'" in notices and "bogus" in notices
    assert "Density" in json.loads(sent[-1])["layer_control"]
    assert at.query_params["conf"] in ("99", ["99"]) and "min" not in at.query_params


def test_an_officer_cannot_ask_for_points_by_link(demo_database, sent) -> None:
    at = _run("officer", {"layers": "points,hot"})
    assert at.session_state["map_layers"] == ["hot"]
    assert POINTS not in sent[-1]


def _flagged_ids(at: AppTest, url: str) -> list[int]:
    """The ids of the flagged places listed beside the map, best first."""
    listed = next(d.value for d in at.dataframe if "Why" in d.value.columns)
    engine = connect(url)
    ids = pd.read_sql("SELECT id, name FROM places", engine).set_index("name")["id"]
    engine.dispose()
    # each cell is the name, then the place's kind and assessment in brackets
    return [int(ids[cell.rsplit(" (", 1)[0]]) for cell in listed["Place"]]


@pytest.mark.parametrize(
    ("tiles", "key", "expected", "absent"),
    [
        (None, None, "tile.openstreetmap.org", "api.os.uk"),
        ("os", "TESTKEY123", "api.os.uk/maps/raster/v1/zxy/Light_3857", "openstreetmap"),
        ("none", None, "leaflet-offlineBase-pane", "tileLayer"),
    ],
    ids=["osm-by-default", "ordnance-survey", "none"],
)
def test_the_tile_setting_reaches_the_map(
    demo_database, sent, monkeypatch, tiles, key, expected, absent
) -> None:
    for name, value in (("SAFER_SPACES_MAP_TILES", tiles), ("SAFER_SPACES_OS_MAPS_KEY", key)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    _run("lead", state={"map_seeded": True, "map_layers": ["hot"]} | _settings())
    payload = sent[-1]
    assert expected in payload and absent not in payload
    assert "leaflet-offlineBase-pane" in payload  # the offline layer is always under the tiles
    if key:
        assert key in payload


def test_a_wrong_tile_setting_says_why_and_keeps_the_offline_map(demo_database, sent, monkeypatch):
    monkeypatch.setenv("SAFER_SPACES_MAP_TILES", "os")
    monkeypatch.delenv("SAFER_SPACES_OS_MAPS_KEY", raising=False)
    at = _run("lead", state={"map_seeded": True, "map_layers": ["hot"]} | _settings())
    assert any("no OS Maps API key" in w.value for w in at.warning)
    assert "tileLayer" not in sent[-1]


def test_a_link_opens_its_place_and_keeps_its_view(demo_database, sent) -> None:
    engine = connect(demo_database)
    place_id = int(pd.read_sql("SELECT id FROM places ORDER BY id LIMIT 1", engine)["id"][0])
    engine.dispose()
    at = _run("lead", {"place": str(place_id), "view": "52.8,-2.1,14.5"})
    assert at.session_state["map_selected"] == Click("place", str(place_id))
    assert at.query_params["place"] in (str(place_id), [str(place_id)])
    payload = sent[-1]
    assert "map.setView([52.8, -2.1], 14.5, {animate: false})" in payload


def test_sessions_that_see_the_same_base_map_share_one_rendering(demo_database, sent, monkeypatch):
    """Rendering the base map cost every session about 2 s of CPU on its first Map: it is
    made once per process for everyone who sees the same one; another audience (the
    viewer's legend has no incident points) gets its own, the control."""
    from dashboard import loaders, maps

    rendered: list[str] = []
    original = maps.prepare_map

    def counting(base):
        rendered.append(base.get_name())
        return original(base)

    monkeypatch.setattr(maps, "prepare_map", counting)
    loaders.prepared_base_map.clear()
    state = {"map_seeded": True, "map_layers": ["hot"]} | _settings()
    _run("lead", state=state)
    _run("lead", state=state)  # a second session, as the same kind of account
    assert len(rendered) == 1
    assert json.loads(sent[-1])["script"] == json.loads(sent[-2])["script"]
    _run("viewer", state=state)
    assert len(rendered) == 2


@pytest.mark.parametrize("role", ["lead", "viewer"])
def test_a_wide_scope_reads_squares_and_says_where_flags_are(
    demo_database, sent, monkeypatch, role
):
    """More districts than ``WIDE_DISTRICTS`` (lowered to 2 here: the demo has 8): the Map
    reads counts per 250 m square, shows the spot path's headline, lists no flags but says
    why, and sends no incident coordinates to a role without point access."""
    from services import reads

    def fresh() -> None:
        st.cache_data.clear()
        st.cache_resource.clear()

    fresh()
    try:
        spot_headline = _run(role).metric[0].value
        monkeypatch.setattr(reads, "WIDE_DISTRICTS", 2)
        fresh()
        at = _run(role)
    finally:
        fresh()
    assert at.metric[0].value == spot_headline  # the same (perturbed for the viewer) total
    assert int(at.metric[2].value.replace(",", "")) == 0
    assert reads.WIDE_FLAGS in [i.value for i in at.info]
    payload = sent[-1]
    assert "Hot spot" in payload  # hot cells drawn from the squares
    if not VIEWERS[role].sees_points:
        pairs = _incident_pairs(demo_database, VIEWERS[role].districts)
        assert len(pairs) > 100
        assert [pair for pair in pairs if pair in payload] == []
