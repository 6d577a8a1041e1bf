"""Map: hot spots, flagged places and the panel of the place or cell clicked."""

import time
from datetime import date
from functools import partial
from pathlib import Path

import altair as alt
import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import streamlit as st

from dashboard import auth, impact_views, loaders, sidebar
from dashboard.basemap import offline_base, prepared_base, tiles_from_settings
from dashboard.downloads import audited_download
from dashboard.filters import map_query
from dashboard.flag_table import HEIGHT_PX as FLAG_TABLE_HEIGHT_PX
from dashboard.flag_table import ROW_PX as FLAG_ROW_PX
from dashboard.flag_table import SHORT_STATES as FLAG_TABLE_STATES
from dashboard.flag_table import flag_table
from dashboard.layers import (
    HOTSPOT_LABELS,
    STATE_LABELS,
    aggregates_layer,
    context_layer,
    density_layer,
    flagged_places_layer,
    hotspot_layer,
    places_layer,
    points_layer,
)
from dashboard.mappng import map_png
from dashboard.maps import (
    bounds_for_view,
    draw_prepared,
    emphasise_small_cells,
    legend_key,
    pixel_size,
    view_target,
)
from dashboard.session import current_audience, current_viewer
from geo.flags import period_label
from geo.measures import assessment_state, overdue_actions
from geo.points import drawable
from geo.postcodes import lookup_postcodes
from services import reads as analysis
from services.access import AccessDenied
from services.safe_text import md_text
from store.sites import sites_in
from store.vocabulary import (
    ASSESSMENT_STATUSES,
    CONTEXT_LABEL,
    CONTEXT_TYPES,
    PLACE_CATEGORIES,
    label,
)

ASSESSMENTS_PAGE = str(Path(__file__).parent / "assessments.py")
MAP_HEIGHT = 640
LAYERS = {
    "hot": "Hot and cold spots",
    "flags": "Flagged places",
    "density": "Density",
    "counts": "Counts per 1 km square",
    "places": "All places",
    "points": "Incident points",
    "context": "Crime, all ages (police.uk)",  # the layer's own label says it in full
    "links": "Links between places",  # issue 19
}
DEFAULT_LAYERS = ("hot", "flags")
WHOLE_PERIOD = "period"
OWN_PARAMS = ("conf", "radius", "min", "layers", "month")
LINK_PARAMS = ("place", "view")  # the open place and the map's view, mirrored in the link
PLACE_ZOOM = 16
# Streamlit forgets a widget's value while another page runs; these are kept to come back to.
KEPT = "map_kept"
KEPT_WIDGETS = (
    "map_conf",
    "map_radius",
    "map_min",
    "map_layers",
    "map_month",
    "map_context_types",
)

viewer = current_viewer()
seen_as = current_audience()  # the cached layers are shared by everyone who may see the same
version = loaders.data_version()
filters = sidebar.current()
latest = loaders.latest_date(version)
k = seen_as.k
suppress = not seen_as.exact
today = date.today()

st.title("Map")

try:
    scope = seen_as.scope(filters.districts)
except AccessDenied as refusal:
    st.warning(f"{md_text(refusal)} Showing your own districts.", icon=":material/block:")
    scope = seen_as.scope()
all_districts = loaders.districts(version)
mine = loaders.districts_for(seen_as, version)
chosen = loaders.districts_for(seen_as, version, scope)
if chosen.empty:
    st.warning(
        "No district boundaries are set up yet. A data officer can import them on the Data page."
    )
    st.stop()


# Where the map looks -----------------------------------------------------------------------
def _parse_view(text: str) -> tuple[float, float, float] | None:
    """``"lat,lon,zoom"`` from a link, or None when it is not a view in Great Britain."""
    try:
        lat, lon, zoom = (float(part) for part in text.split(","))
    except ValueError:
        return None
    if 49 <= lat <= 61 and -9 <= lon <= 3 and 5 <= zoom <= 18:
        return lat, lon, zoom
    return None


def _aim(*, center: tuple[float, float], zoom: float, scope: tuple[str, ...]) -> None:
    """Ask the map to look at a point (a place found, a row clicked, a view from a link)."""
    count = int(st.session_state.get("map_aim_count", 0)) + 1
    st.session_state.pop("map_user_view", None)  # the map goes where it was asked
    st.session_state["map_aim_count"] = count
    st.session_state["map_aim"] = {
        "key": f"aim-{count}",
        "center": (float(center[0]), float(center[1])),
        "zoom": float(zoom),
        "scope": scope,
    }


# Settings, seeded once from the link and mirrored in it ----------------------------------
if not st.session_state.get("map_seeded"):
    settings, notices = analysis.settings_from_params(st.query_params)
    offered = [key for key in LAYERS if key != "points" or seen_as.points]
    wanted = [v for v in st.query_params.get("layers", "").split(",") if v]
    unknown = [v for v in wanted if v not in offered]
    if unknown:
        notices.append(f"The link named layers we cannot show ({', '.join(unknown)}).")
    for notice in notices:
        st.toast(notice, icon=":material/info:")
    st.session_state["map_conf"] = settings.confidence
    st.session_state["map_radius"] = settings.radius
    st.session_state["map_min"] = settings.min_incidents
    st.session_state["map_layers"] = [v for v in wanted if v in offered] or list(DEFAULT_LAYERS)
    st.session_state["map_month_wanted"] = st.query_params.get("month", WHOLE_PERIOD)
    # the open place and the map's view from the link
    place_param = st.query_params.get("place", "")
    if place_param.isdigit():
        st.session_state["map_selected"] = analysis.Click("place", place_param)
    view_param = _parse_view(st.query_params.get("view", ""))
    if view_param is not None:
        _aim(center=view_param[:2], zoom=view_param[2], scope=tuple(sorted(scope)))
    elif place_param.isdigit():
        st.session_state["map_aim_place"] = int(place_param)
    st.session_state["map_seeded"] = True
for key, value in st.session_state.get(KEPT, {}).items():
    st.session_state.setdefault(key, value)  # back from another page: as the person left it
st.session_state[KEPT] = {
    key: st.session_state[key] for key in KEPT_WIDGETS if key in st.session_state
}

settings = analysis.MapSettings(
    confidence=st.session_state["map_conf"],
    radius=st.session_state["map_radius"],
    min_incidents=st.session_state["map_min"],
)

# The period and the query ------------------------------------------------------------------
_square = loaders.scope_square(seen_as, scope, filters.cell_size)  # a wide scope: per square
sites = loaders.map_sites(
    "incidents",
    seen_as,
    scope,
    filters.ages,
    filters.agencies,
    version,
    _square,
    # "all data" at a wide scope is the last 12 months (Filters.months): the query made
    # from these months then reads from the same month (loaders.map_since)
    analysis.wide_since(*filters.months(latest)) if _square else "",
)
query = map_query(filters, scope, latest, sites["month"], audience=seen_as)
first, last = query.first, query.last
in_period = sites_in(sites, types=query.types, first=first, last=last)
total = int(in_period["n"].sum())
headline = analysis.period_totals(in_period, audience=seen_as)  # perturbed for non-leads

picture = loaders.map_monthly(seen_as, query, settings.confidence, version)
month_options = [WHOLE_PERIOD, *picture.months]
if st.session_state.get("map_month_next") in month_options:
    st.session_state["map_month"] = st.session_state.pop("map_month_next")
elif st.session_state.get("map_month") not in month_options:
    wanted = st.session_state.pop("map_month_wanted", WHOLE_PERIOD)
    st.session_state["map_month"] = wanted if wanted in month_options else WHOLE_PERIOD


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _month_name(value: str) -> str:
    """``"2026-10"`` -> ``"Oct 2026"`` (pandas' Period formatting took 25 ms a call here)."""
    if value == WHOLE_PERIOD:
        return "Whole period"
    year, month = str(value)[:7].split("-")
    return f"{_MONTHS[int(month) - 1]} {year}"


# Data layers -------------------------------------------------------------------------------
flags = loaders.map_flags(seen_as, query, settings, version)
places = loaders.places_for(seen_as, version, scope)
states = assessment_state(loaders.assessments(version), today=today)
state_by_place = states.set_index("place_id")["state"]
flag_states = flags["id"].map(state_by_place).fillna("none")
if "map_aim_place" in st.session_state:  # a link named a place and no view: go to it
    _wanted_place = int(st.session_state.pop("map_aim_place"))
    _found = places.loc[places["id"] == _wanted_place]
    if not _found.empty and np.asarray(drawable(_found))[0]:
        _point = _found.to_crs(4326).geometry.iloc[0]
        _aim(center=(_point.y, _point.x), zoom=PLACE_ZOOM, scope=tuple(sorted(scope)))


def _figure(shown: int | str) -> str:
    return shown if isinstance(shown, str) else f"{shown:,}"


def _context_counts(picture) -> None:
    """Show the context counts apart from the incident figures, labelled with source and ages."""
    if picture.empty:
        first_stored, last_stored = picture.stored
        where = (
            f" It is stored for {first_stored:%B %Y} to {last_stored:%B %Y}: choose a period "
            "that covers those months (Custom range)."
            if first_stored is not None and last_stored is not None
            else " A data officer imports police.uk street-level files on the Data page."
        )
        st.info(
            f"No {CONTEXT_LABEL[0].lower() + CONTEXT_LABEL[1:]} in this period for these "
            f"districts.{where}",
            icon=":material/info:",
        )
        return
    shown = picture.total if isinstance(picture.total, str) else f"{picture.total:,}"
    st.metric(f"{picture.label}, in the period", shown)
    st.dataframe(
        picture.by_type.rename(columns={"crime_type": "Crime type", "events": "Crimes"}).astype(
            {"Crimes": str}
        ),
        hide_index=True,
        width="stretch",
        key="map_context_table",
    )
    st.caption(
        "Context: crime recorded by the police about people of all ages. It says nothing about "
        "children and is not counted in the incidents, hot spots or flags above."
        + (" " + analysis.legend(seen_as) if suppress else "")
    )


figures = st.container(horizontal=True, gap="medium")
for heading, value in (
    ("Incidents in period", _figure(headline["total"])),
    ("Without a location (online or unknown)", _figure(headline["unlocated"])),
    ("Flagged places", f"{len(flags):,}"),
    ("Flagged, no assessment", f"{int((flag_states == 'none').sum()):,}"),
):
    figures.metric(heading, value, width="content")

if total == 0:
    st.info(
        "No incidents match these filters in this period, so there is nothing to draw but "
        "the outlines. Try a longer period or fewer filters.",
        icon=":material/search_off:",
    )

# The map itself stays the same while filters, layers and the panel change (its data layers
# are swapped in the browser), so nothing here may depend on them.
tiles, tile_problem = tiles_from_settings()
if tile_problem:
    st.warning(tile_problem, icon=":material/map:")
outlines = loaders.map_outlines(seen_as, version)[0]  # projected once, shared
built_up, towns = offline_base(  # for the PNG download; the base map has its own
    tuple(sorted(seen_as.districts)), dict(zip(mine["code"], mine["name"], strict=True))
)
_west, _south, _east, _north = loaders.bounds_wgs84(seen_as, version, scope)
chosen_bounds = (_west, _south, _east, _north)


# The panel ---------------------------------------------------------------------------------
def _trend_chart(events: pd.DataFrame, key: str) -> None:
    tables = analysis.place_summary(
        events, first=first, audience=seen_as, months=(_trend_start(), last)
    )
    trend = tables["trend"]
    if trend.empty:
        st.caption("No incidents here in the 12 months to the end of the period.")
    else:
        st.altair_chart(_trend_figure(trend), width="stretch", key=f"{key}_trend")
        if suppress:
            st.caption(f"Months with fewer than {k} incidents of a type are left blank.")
    ages, sources = st.columns(2)
    ages.dataframe(tables["ages"], hide_index=True, width="stretch")
    sources.dataframe(tables["sources"], hide_index=True, width="stretch")


def _trend_figure(trend: pd.DataFrame) -> alt.Chart:
    """One line per type, the figure shown on hover.

    A Vega-Lite chart: the browser drew the same chart with plotly in about 5 s of CPU
    the first time a panel opened (plotly's bundle), most of a click on a pin.
    """
    data = trend.assign(
        month=pd.to_datetime(trend["month"].astype(str)),
        type=trend["type"].astype(str),
        shown=trend["shown"].astype(str),
    )[["month", "count", "type", "shown"]]
    return (
        alt.Chart(data, height=240)
        .mark_line(point=True)
        .encode(
            x=alt.X("month:T", title=None, axis=alt.Axis(format="%b %Y")),
            y=alt.Y("count:Q", title="Incidents"),
            color=alt.Color(
                "type:N", title=None, legend=alt.Legend(orient="bottom", columns=2, labelLimit=170)
            ),
            tooltip=[
                alt.Tooltip("type:N", title="Type"),
                alt.Tooltip("month:T", title="Month", format="%b %Y"),
                alt.Tooltip("shown:N", title="Incidents"),
            ],
        )
    )


def _trend_start() -> str:
    return str(min(pd.Period(first, freq="M"), pd.Period(last, freq="M") - 11))


def _place_panel(place_id: int) -> None:
    found = places.loc[places["id"] == place_id]
    if found.empty:
        st.warning("That place is not in your districts or no longer in the register.")
        return
    place = found.iloc[0]
    state = str(state_by_place.get(place_id, "none"))
    st.subheader(md_text(place["name"]))
    district = dict(zip(all_districts["code"], all_districts["name"], strict=True))
    st.caption(
        f"{label(PLACE_CATEGORIES, place['category'])} · "
        f"{district.get(place['district_code'], place['district_code'])} · "
        f"{STATE_LABELS.get(state, state)}"
    )
    flag = flags.loc[flags["id"] == place_id]
    if not flag.empty:
        st.error(
            f"**Why it was flagged:** {md_text(flag.iloc[0]['reason'])}", icon=":material/flag:"
        )
    else:
        st.info("Not flagged in this period with these settings.", icon=":material/flag:")
        if st.button("Why not flagged?", key=f"why_not_{place_id}", icon=":material/help:"):
            reason = loaders.map_why_not(seen_as, query, settings, version, int(place_id))
            st.text(reason)
    if place.geometry is None or place.geometry.is_empty:
        st.caption("This place has no location, so it is not on the map.")
    else:
        area = place.geometry.buffer(settings.radius)
        events = loaders.map_area_events(
            seen_as, query, shapely.to_wkb(area), _trend_start(), version
        )
        st.markdown(f"**Incidents within {settings.radius} m, by month and type**")
        _trend_chart(events, f"place_{place_id}")
    assessments = loaders.assessments(version)
    assessments = assessments.loc[assessments["place_id"] == place_id]
    st.markdown("**Assessments**")
    if assessments.empty:
        st.caption("None yet.")
    else:
        st.dataframe(
            assessments[["assessed_on", "status", "overall_risk", "next_review_on"]].assign(
                status=lambda f: f["status"].map(lambda s: label(ASSESSMENT_STATUSES, s))
            ),
            hide_index=True,
            width="stretch",
            column_config={
                "assessed_on": st.column_config.DateColumn("Assessed"),
                "status": "Status",
                "overall_risk": "Risk",
                "next_review_on": st.column_config.DateColumn("Next review"),
            },
        )
    actions = loaders.actions(version)
    actions = actions.loc[
        actions["assessment_id"].isin(assessments["id"]) & (actions["status"] == "open")
    ]
    st.markdown("**Open actions**")
    if actions.empty:
        st.caption("None open.")
    else:
        st.dataframe(
            actions[["description", "owner_org", "due_on"]].assign(
                overdue=overdue_actions(actions, today=today)
            ),
            hide_index=True,
            width="stretch",
            column_config={
                "description": "Action",
                "owner_org": "Owner",
                "due_on": st.column_config.DateColumn("Due"),
                "overdue": st.column_config.CheckboxColumn("Overdue"),
            },
        )
    impact_views.place_section(
        loaders.impact_for(seen_as, scope, version),
        loaders.impact(version),
        place_id,
        key=f"place_{place_id}",
    )
    if viewer.may_edit_assessments and st.button(
        "Start an assessment", icon=":material/assignment_add:", key="map_assess", type="primary"
    ):
        st.session_state["assess_place_id"] = int(place_id)
        st.switch_page(ASSESSMENTS_PAGE)


def _cell_panel(cell_id: str, *, cells: gpd.GeoDataFrame, month: str) -> None:
    grid = loaders.hot_spot_grid(query, seen_as, version)
    index = grid.find(cell_id)
    if index < 0:
        st.warning("That cell is not on the current grid; click the map again.")
        return
    drawn = cells.loc[cells["cell_id"] == cell_id]
    st.subheader(f"{query.cell_size} m square")
    if not drawn.empty:
        row = drawn.iloc[0]
        trend = picture.category.get(index, "No pattern detected")
        st.error(
            f"**{HOTSPOT_LABELS[int(row['bin'])]}**: {row['count']} incidents in this square "
            f"in {_month_name(month) if month != WHOLE_PERIOD else 'the period'}; "
            f"trend over 12 months: {trend}.",
            icon=":material/local_fire_department:",
        )
    area = grid.polygons([index])[0]
    events = loaders.map_area_events(seen_as, query, shapely.to_wkb(area), _trend_start(), version)
    st.markdown("**Incidents in this square, by month and type**")
    _trend_chart(events, f"cell_{cell_id}")
    inside = places.loc[places.geometry.within(area)]
    if not inside.empty:
        st.markdown("**Places in this square**")
        for place in inside.itertuples():
            if st.button(
                md_text(place.name), key=f"map_cell_place_{place.id}", icon=":material/place:"
            ):
                _open_place(int(place.id))
                st.rerun(scope="fragment")


def _place_named(hit: analysis.Click | None, tooltip: str | None) -> analysis.Click | None:
    """Several flagged places can share a spot: the clicked pin's tooltip names the one."""
    if hit is None or hit.kind != "place" or not tooltip:
        return hit
    spot = flags.loc[flags["id"].astype(str) == hit.id]
    if spot.empty:
        return hit
    drawn = flags.loc[drawable(flags)]
    same = drawn.loc[drawn.geometry.distance(spot.geometry.iloc[0]) < 1e-7]
    text = tooltip.strip()
    named = [row for row in same.itertuples() if text.startswith(str(row.name))]
    if not named:
        return hit
    return analysis.Click("place", str(max(named, key=lambda row: len(str(row.name))).id))


def _open_place(place_id: int) -> None:
    """Open a place's panel and bring the map to it."""
    st.session_state["map_selected"] = analysis.Click("place", str(place_id))
    found = places.loc[places["id"] == place_id]
    if not found.empty and np.asarray(drawable(found))[0]:
        point = found.to_crs(4326).geometry.iloc[0]
        _aim(center=(point.y, point.x), zoom=PLACE_ZOOM, scope=tuple(sorted(scope)))


def _flag_list() -> None:
    st.subheader("Flagged places")
    if flags.empty and loaders.map_square(seen_as, query):
        st.info(analysis.WIDE_FLAGS)
    elif flags.empty:
        st.info("No place is flagged in this period with these settings.")
    else:
        period = period_label(pd.Period(first, freq="M"), pd.Period(last, freq="M"))
        st.caption(
            f"Incidents counted in {period}; each place with its kind and assessment. Click "
            "a marker on the map, or a row here, to go to the place and see why."
        )
        table, columns = flag_table(flags, flag_states, FLAG_TABLE_STATES)
        chosen_rows = st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            height=FLAG_TABLE_HEIGHT_PX,
            row_height=FLAG_ROW_PX,
            on_select="rerun",
            selection_mode="single-row",
            key="map_flag_table",
            column_config=columns,
        )
        rows = chosen_rows.selection.rows if chosen_rows else []
        if rows and st.session_state.get("map_row_seen") != (rows[0], len(flags)):
            st.session_state["map_row_seen"] = (rows[0], len(flags))
            _open_place(int(flags["id"].iloc[rows[0]]))
            st.rerun(scope="fragment")
    unplaced = places.loc[~drawable(places), "name"]
    if not unplaced.empty:
        with st.expander(f"{len(unplaced)} place(s) without a location (not on the map)"):
            st.text(", ".join(map(str, unplaced)))


def _row_clicked() -> None:
    """Open the place of a row just clicked in the flagged table (read from its state).

    Read before the map is drawn: reading it from the table, drawn after the map, took a
    second run of the whole map to move it.
    """
    state = st.session_state.get("map_flag_table")
    try:
        rows = list(state["selection"]["rows"]) if state is not None else []
    except (KeyError, TypeError):
        return
    seen = (rows[0], len(flags)) if rows else None
    if seen is not None and rows[0] < len(flags) and st.session_state.get("map_row_seen") != seen:
        st.session_state["map_row_seen"] = seen
        _open_place(int(flags["id"].iloc[rows[0]]))


def _find() -> None:
    """Find a place by name, or go to a postcode."""
    flagged_names = flags["name"].astype(str).tolist()
    seen = set(flagged_names)
    names = flagged_names + [n for n in places["name"].astype(str) if n not in seen]
    wanted = st.selectbox(
        "Find a place or postcode",
        names,
        index=None,
        key="map_find",
        placeholder="Type a place's name or a postcode",
        accept_new_options=True,
        label_visibility="collapsed",
    )
    if not wanted or wanted == st.session_state.get("map_find_seen"):
        return
    st.session_state["map_find_seen"] = wanted
    match = places.loc[places["name"].astype(str) == wanted]
    if not match.empty:
        _open_place(int(match["id"].iloc[0]))
        return
    found = lookup_postcodes([wanted]).iloc[0]
    if found["postcode"] is None:  # not shaped like a postcode: part of a place's name
        part = [n for n in names if wanted.strip().casefold() in n.casefold()]
        if part:
            _open_place(int(places.loc[places["name"].astype(str) == part[0], "id"].iloc[0]))
            return
    if found["postcode"] is None or pd.isna(found["easting"]):
        st.warning(
            f"“{wanted}” is neither a place in your districts nor a postcode in the ONS "
            "Postcode Directory. Try part of a place's name, or a full postcode such as "
            "ST1 1AA.",
            icon=":material/search_off:",
        )
        return
    point = gpd.GeoSeries.from_xy([found["easting"]], [found["northing"]], crs=27700)
    point = point.to_crs(4326).iloc[0]
    _aim(center=(point.y, point.x), zoom=PLACE_ZOOM, scope=tuple(sorted(scope)))
    st.session_state["map_find_postcode"] = (str(found["postcode"]), point.y, point.x)
    if found["district_code"] not in set(seen_as.districts):
        st.info(f"{found['postcode']} is outside your districts.", icon=":material/info:")


def _aim_layer() -> folium.FeatureGroup:
    """The layer that moves the map: to a place or postcode asked for, else the districts."""
    aim = st.session_state.get("map_aim")
    here = tuple(sorted(scope))
    if aim is not None and aim["scope"] != here:  # other districts chosen since: fit them
        st.session_state.pop("map_aim", None)
        st.session_state.pop("map_user_view", None)
        aim = None
    if aim is None:
        group = view_target("fit:" + ",".join(here), bounds=chosen_bounds)
    else:
        group = view_target(aim["key"], center=aim["center"], zoom=aim["zoom"])
    postcode = st.session_state.get("map_find_postcode")
    if postcode is not None and aim is not None:
        folium.CircleMarker(
            (postcode[1], postcode[2]),
            radius=7,
            color="#1b1f24",
            weight=2,
            fill=True,
            fill_color="#ffffff",
            fill_opacity=0.9,
            tooltip=str(postcode[0]),
        ).add_to(group)
    return group


def _note_reported_view(returned: dict | None, base: folium.Map) -> None:
    """Keep the view the map reported when the person moved it (not its first view).

    The map reports a view when it first loads (the base map's own, before it is fitted)
    and when the person pans or zooms; the moves the server asks for (``_aim``) are not
    reported (see ``maps.view_target``), so the server keeps those itself.
    """
    centre = (returned or {}).get("center")
    zoom = (returned or {}).get("zoom")
    if not centre or zoom is None:
        return
    bounds = (returned or {}).get("bounds") or {}
    south_west, north_east = bounds.get("_southWest") or {}, bounds.get("_northEast") or {}
    box = None
    if south_west.get("lat") is not None and north_east.get("lat") is not None:
        box = (south_west["lng"], south_west["lat"], north_east["lng"], north_east["lat"])
        st.session_state["map_size_px"] = pixel_size(box, float(zoom))
    token = (round(centre["lat"], 6), round(centre["lng"], 6), float(zoom))
    if token == st.session_state.get("map_view_token"):
        return  # nothing moved since the last report
    st.session_state["map_view_token"] = token
    first_lat, first_lon = base.location
    if (
        abs(centre["lat"] - first_lat) < 1e-3
        and abs(centre["lng"] - first_lon) < 1e-3
        and float(zoom) == float(str(base.options["zoom"]))
    ):
        # the base map's own first view, before it is fitted: a map drawn afresh (first
        # load, or back from another page) goes where it was asked, not where it was moved
        st.session_state.pop("map_user_view", None)
        return
    st.session_state["map_user_view"] = {
        "center": (float(centre["lat"]), float(centre["lng"])),
        "zoom": float(zoom),
        "bounds": box,
    }


def _current_view() -> dict | None:
    """The view now: the person's last move, else a place or view asked for, else None.

    None means the map is fitted to the chosen districts.
    """
    user = st.session_state.get("map_user_view")
    if user is not None:
        return user
    aim = st.session_state.get("map_aim")
    if aim is not None and aim["scope"] == tuple(sorted(scope)):
        width, height = st.session_state.get("map_size_px", (900, MAP_HEIGHT))
        box = bounds_for_view(aim["center"], aim["zoom"], width=width, height=height)
        return {"center": aim["center"], "zoom": aim["zoom"], "bounds": box}
    return None


def _mirror_link(layers: list[str], month: str) -> None:
    """Keep the map's settings, the open place and the view in the address bar."""
    selected = st.session_state.get("map_selected")
    view = None
    current = _current_view()
    if current is not None:
        lat, lon = current["center"]
        view = f"{lat:.5f},{lon:.5f},{float(current['zoom']):g}"
    ours = {
        **analysis.settings_to_params(settings),
        "layers": ",".join(layers) if list(layers) != list(DEFAULT_LAYERS) else "",
        "month": month if month != WHOLE_PERIOD else "",
        "place": selected.id if selected is not None and selected.kind == "place" else "",
        "view": view or "",
    }
    for key in (*OWN_PARAMS, *LINK_PARAMS):
        if ours.get(key):
            if st.query_params.get(key) != ours[key]:
                st.query_params[key] = ours[key]
        elif key in st.query_params:
            del st.query_params[key]


def _close_panel() -> None:
    """Back to the list; the search box is emptied so it does not open the place again."""
    st.session_state.pop("map_selected", None)
    st.session_state["map_find"] = None
    st.session_state.pop("map_find_seen", None)


@st.fragment
def _explorer() -> None:
    """The map and its panel: a click, a layer, a month or a row reruns only this."""
    auth.active(loaders.engine())  # a click here is activity, as a whole-page run is
    if st.session_state.get("map_month_next") in month_options:  # playback's next step
        st.session_state["map_month"] = st.session_state.pop("map_month_next")
    _row_clicked()  # before the map is drawn, so the map goes to the place in this run
    map_column, panel_column = st.columns([3, 2], gap="medium")
    with map_column:
        _find()
        map_slot = st.container()  # the map, drawn once the layer controls below are read
        offered = {k_: n_ for k_, n_ in LAYERS.items() if k_ != "points" or seen_as.points}
        layers = st.pills(
            "Layers",
            list(offered),
            selection_mode="multi",
            format_func=partial(label, offered),
            key="map_layers",
            wrap=True,
        )
        slider, play = st.columns([5, 1.4], vertical_alignment="bottom")
        month = slider.select_slider(
            "Hot spots month by month (the 12 months to the end of the period)",
            month_options,
            format_func=_month_name,
            key="map_month",
        )
        playing = st.session_state.get("map_playing", False)
        if play.button(
            "Stop" if playing else "Play",
            icon=":material/stop:" if playing else ":material/play_arrow:",
            key="map_play",
            width="stretch",
        ):
            playing = not playing
            st.session_state["map_playing"] = playing
            if playing and len(month_options) > 1:  # the next month at once (after the
                # last, the first again), not after showing the same month once more
                position = month_options.index(month) + 1
                st.session_state["map_month_next"] = month_options[
                    position if position < len(month_options) else 1
                ]
            st.rerun(scope="fragment")

        groups: list[folium.FeatureGroup] = [_aim_layer()]
        context = None
        cells = gpd.GeoDataFrame({"cell_id": []}, geometry=[], crs=4326)
        if "density" in layers:
            group = density_layer(loaders.map_density(seen_as, query, version))
            legend_key(group, "density")
            groups.append(group)
        if "counts" in layers:
            group = aggregates_layer(loaders.map_aggregates(seen_as, query, version))
            legend_key(group, "counts")
            groups.append(group)
        if "hot" in layers:
            if month == WHOLE_PERIOD:
                cells = loaders.map_hot_cells(seen_as, query, settings.confidence, version)
                name = "Hot and cold spots"
            else:
                grid = loaders.hot_spot_grid(query, seen_as, version)
                rows = picture.cells.loc[picture.cells["month"] == month]
                cells = gpd.GeoDataFrame(
                    {
                        "cell": rows["cell"].to_numpy(),
                        "cell_id": grid.cell_ids(rows["cell"].to_numpy(dtype=np.int64)).astype(str),
                        "bin": rows["bin"].to_numpy(),
                        "count": rows["count"].to_numpy(),
                    },
                    geometry=analysis.cell_geometry(grid, rows["cell"].to_numpy()).array,
                    crs=4326,
                )
                name = f"Hot and cold spots, {_month_name(month)}"
            group = emphasise_small_cells(hotspot_layer(cells, name=name, trend=picture.category))
            legend_key(group, "hot")
            groups.append(group)
        if "places" in layers:
            in_wgs84 = loaders.places_wgs84(seen_as, version, scope)
            group = places_layer(in_wgs84, states=state_by_place)
            legend_key(group, "places")
            groups.append(group)
        if "flags" in layers:
            group = flagged_places_layer(flags, states=state_by_place)
            legend_key(group, "flags")
            groups.append(group)
        if "context" in layers:  # public crime of all ages: its own layer, filter and counts
            context_types = st.multiselect(
                f"Crime types ({CONTEXT_LABEL})",
                CONTEXT_TYPES,
                key="map_context_types",
                placeholder="All crime types",
            )
            context, context_squares = loaders.context_picture(
                seen_as, query.districts, query.first, query.last, tuple(context_types), version
            )
            group = context_layer(context_squares, name=context.label)
            legend_key(group, "context")
            groups.append(group)
        if "links" in layers:  # issue 19: the clicked place's cluster drawn strong
            from dashboard.link_layer import links_layer

            clicked_place = st.session_state.get("map_selected")
            groups.append(
                links_layer(
                    loaders.mace_links(seen_as, first or None, last or None, None, version),
                    highlight_place_id=int(clicked_place.id)
                    if clicked_place is not None and clicked_place.kind == "place"
                    else None,
                )
            )
        if "points" in layers and seen_as.points:
            points, located = loaders.map_points(seen_as, query, version)
            if points is None:
                st.info(
                    f"{located:,} located incidents match: too many to draw one by one (the "
                    f"map draws at most {analysis.POINTS_LIMIT:,}). Choose a district, a "
                    "shorter period or a type, or read the counts per square.",
                    icon=":material/scatter_plot:",
                )
            else:
                group = points_layer(points)
                legend_key(group, "points")
                groups.append(group)
        with map_slot:
            prepared = prepared_base(seen_as, version, tiles)
            base = prepared.map
            clicked = draw_prepared(
                prepared,
                key="map",
                height=MAP_HEIGHT,
                returned_objects=[
                    "last_object_clicked",
                    "last_object_clicked_count",
                    "last_object_clicked_tooltip",
                    "center",
                    "zoom",
                    "bounds",
                ],
                feature_group_to_add=groups,
                layer_control=folium.LayerControl(collapsed=True),
            )
        _note_reported_view(clicked, base)
        st.caption(
            "Incidents are snapped to grid centres or places at import; hot spots are "
            f"Getis-Ord Gi* on {query.cell_size} m squares with false discovery rate control. "
            + analysis.legend(seen_as)
        )
        if "hot" in layers and total:
            note = loaders.map_cell_note(seen_as, query, version)
            if note:
                st.info(note, icon=":material/grid_on:")
        if context is not None:
            _context_counts(context)
        _download_png(layers=layers, month=month, cells=cells)

    point = (clicked or {}).get("last_object_clicked")
    token = (
        (point or {}).get("lat"),
        (point or {}).get("lng"),
        (clicked or {}).get("last_object_clicked_count"),
    )
    if point and token != st.session_state.get("map_click_seen"):
        st.session_state["map_click_seen"] = token
        hit = analysis.locate_click(point["lat"], point["lng"], places=flags, cells=cells)
        hit = _place_named(hit, (clicked or {}).get("last_object_clicked_tooltip"))
        if hit is None and "places" in layers:
            hit = analysis.locate_click(
                point["lat"],
                point["lng"],
                places=loaders.places_wgs84(seen_as, version, scope),
                cells=cells,
            )
        if hit is None:
            st.toast("Click a flagged place or a coloured cell to see its details.")
        else:
            st.session_state["map_selected"] = hit

    with panel_column:
        selected = st.session_state.get("map_selected")
        if selected is None:
            _flag_list()
        else:
            st.button(
                "Back to the flagged places",
                icon=":material/arrow_back:",
                key="map_close",
                on_click=_close_panel,
            )
            if st.session_state.get("map_audited") != selected:
                st.session_state["map_audited"] = selected
                analysis.record_panel_view(
                    loaders.engine(),
                    viewer,
                    selected,
                    detail={"first": first, "last": last, "types": list(query.types)},
                )
            if selected.kind == "place":
                _place_panel(int(selected.id))
            else:
                _cell_panel(selected.id, cells=cells, month=month)
    _mirror_link(list(layers), month)

    if playing:
        position = month_options.index(month)
        if position + 1 < len(month_options):
            time.sleep(1.2)
            st.session_state["map_month_next"] = month_options[position + 1]
        else:
            st.session_state["map_playing"] = False
        st.rerun(scope="fragment")


def _download_png(*, layers: list[str], month: str, cells) -> None:
    """Offer the current view as a PNG with legend, title, period and attribution."""
    current = _current_view()
    view = current["bounds"] if current is not None and current["bounds"] else chosen_bounds
    period = f"{pd.Period(first, freq='M'):%b %Y} to {pd.Period(last, freq='M'):%b %Y}"
    if month != WHOLE_PERIOD:
        period = _month_name(month)

    def render() -> bytes:
        return map_png(
            view=view,
            title="Safer Spaces: " + ", ".join(sorted(chosen["name"].astype(str))),
            subtitle=f"{period} · {filters.describe({})}",
            districts=outlines,
            built_up=built_up,
            towns=towns,
            cells=cells if "hot" in layers else None,
            flags=flags if "flags" in layers else None,
            states=state_by_place,
            attribution="Contains OS data © Crown copyright and database right; ONS Postcode "
            "Directory, OGL v3.0. Base: built-up areas from postcode density.",
        )

    audited_download(
        "Download map as PNG",
        render,
        engine=loaders.engine(),
        viewer=viewer,
        entity="map picture",
        file_name="safer-spaces-map.png",
        mime="image/png",
        key="map_png",
        detail={"districts": sorted(chosen["code"].astype(str)), "period": period},
        origin=auth.origin(),
        icon=":material/download:",
    )


_explorer()

with st.expander("Map settings: hot spot confidence and when a place is flagged"):
    c1, c2, c3 = st.columns(3)
    c1.select_slider(
        "Hot spot confidence",
        options=list(analysis.CONFIDENCE_LEVELS),
        format_func=lambda v: f"{v}%",
        key="map_conf",
        help="Cells less significant than this (after false discovery rate control) are "
        "not drawn; a place's cell must reach it to flag the place.",
    )
    c2.selectbox(
        "Count incidents within",
        analysis.RADII,
        format_func=lambda v: f"{v} m of a place",
        key="map_radius",
    )
    c3.selectbox(
        "Flag a place with at least",
        analysis.MIN_INCIDENTS,
        format_func=lambda v: f"{v} incidents",
        key="map_min",
    )
