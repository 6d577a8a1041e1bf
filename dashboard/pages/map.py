"""Map: hot spots, flagged places and the panel of the place or cell clicked."""

import time
from datetime import date
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import plotly.express as px
import shapely
import streamlit as st
from streamlit_folium import st_folium

from dashboard import analysis, impact_views, loaders, sidebar
from dashboard.layers import (
    HOTSPOT_LABELS,
    STATE_LABELS,
    aggregates_layer,
    density_layer,
    flagged_places_layer,
    hotspot_layer,
    legend_html,
    places_layer,
    points_layer,
)
from dashboard.maps import (
    add_area_labels,
    add_district_outlines,
    add_legend,
    add_ward_outlines,
    fullscreen,
    offline_map,
    view_for_bounds,
)
from dashboard.session import current_viewer, disclosure_threshold
from geo.points import drawable
from store.access import AccessDenied
from store.disclosure import legend as suppression_legend
from store.disclosure import needs_suppression, suppress_count
from store.measures import assessment_state, overdue_actions
from store.sites import sites_in
from store.vocabulary import ASSESSMENT_STATUSES, PLACE_CATEGORIES, label

ASSESSMENTS_PAGE = str(Path(__file__).parent / "assessments.py")
MAP_HEIGHT = 640
LAYERS = {
    "hot": "Hot and cold spots",
    "flags": "Flagged places",
    "density": "Density",
    "counts": "Counts per 1 km square",
    "places": "All places",
    "points": "Incident points",
}
DEFAULT_LAYERS = ("hot", "flags")
WHOLE_PERIOD = "period"
OWN_PARAMS = ("conf", "radius", "min", "layers", "month")
# Streamlit forgets a widget's value while another page runs; these are kept to come back to.
KEPT = "map_kept"
KEPT_WIDGETS = ("map_conf", "map_radius", "map_min", "map_layers", "map_month")

viewer = current_viewer()
seen_as = viewer.for_cache()  # the cached layers are shared by everyone who may see the same
version = loaders.data_version()
filters = sidebar.current()
latest = loaders.latest_date(version)
k = disclosure_threshold(version)
suppress = needs_suppression(viewer)
today = date.today()

st.title("Map")

try:
    scope = viewer.scope(filters.districts)
except AccessDenied as refusal:
    st.warning(f"{refusal} Showing your own districts.", icon=":material/block:")
    scope = viewer.scope()
all_districts = loaders.districts(version)
mine = all_districts.loc[all_districts["code"].isin(viewer.districts)]
chosen = mine.loc[mine["code"].isin(scope)]
if chosen.empty:
    st.warning(
        "No district boundaries are set up yet. A data officer can import them on the Data page."
    )
    st.stop()


# Settings, seeded once from the link and mirrored in it ----------------------------------
if not st.session_state.get("map_seeded"):
    settings, notices = analysis.settings_from_params(st.query_params)
    offered = [key for key in LAYERS if key != "points" or viewer.sees_points]
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
sites = loaders.map_sites("incidents", seen_as, scope, filters.ages, filters.agencies, version)
query = analysis.map_query(filters, scope, latest, sites["month"])
first, last = query.first, query.last
in_period = sites_in(sites, types=query.types, first=first, last=last)
total = int(in_period["n"].sum())
unlocated = int(in_period.loc[in_period["easting"].isna(), "n"].sum())

picture = loaders.map_monthly(seen_as, query, settings.confidence, k, version)
month_options = [WHOLE_PERIOD, *picture.months]
if st.session_state.get("map_month_next") in month_options:
    st.session_state["map_month"] = st.session_state.pop("map_month_next")
elif st.session_state.get("map_month") not in month_options:
    wanted = st.session_state.pop("map_month_wanted", WHOLE_PERIOD)
    st.session_state["map_month"] = wanted if wanted in month_options else WHOLE_PERIOD


def _month_name(value: str) -> str:
    return "Whole period" if value == WHOLE_PERIOD else f"{pd.Period(value, freq='M'):%b %Y}"


# Data layers -------------------------------------------------------------------------------
flags = loaders.map_flags(seen_as, query, settings, k, version)
places = loaders.places(version)
places = places.loc[places["district_code"].isin(scope)]
states = assessment_state(loaders.assessments(version), today=today)
state_by_place = states.set_index("place_id")["state"]
flag_states = flags["id"].map(state_by_place).fillna("none")


def _figure(n: int) -> str:
    shown = suppress_count(n, k=k) if suppress else n
    return shown if isinstance(shown, str) else f"{shown:,}"


c1, c2, c3, c4 = st.columns(4)
c1.metric("Incidents in period", _figure(total))
c2.metric("Without a location (online or unknown)", _figure(unlocated))
c3.metric("Flagged places", f"{len(flags):,}")
c4.metric("Flagged, no assessment", f"{int((flag_states == 'none').sum()):,}")

if total == 0:
    st.info(
        "No incidents match these filters in this period, so there is nothing to draw but "
        "the outlines. Try a longer period or fewer filters.",
        icon=":material/search_off:",
    )

outlines = mine.assign(geometry=mine.geometry.simplify(20)).to_crs(4326)
m = offline_map(bounds=tuple(outlines.total_bounds))
add_district_outlines(
    m, outlines, approximate=bool(mine["source"].str.startswith("approximate").any())
)
wards = loaders.wards(version)
wards = wards.loc[wards["district_code"].isin(viewer.districts)]
if not wards.empty:
    add_ward_outlines(
        m,
        wards.assign(geometry=wards.geometry.simplify(15)).to_crs(4326),
        approximate=bool(wards["source"].str.startswith("approximate").any()),
    )
add_area_labels(m, outlines)
fullscreen(position="topleft").add_to(m)
add_legend(m, legend_html(k=k, points=viewer.sees_points))
center, zoom = view_for_bounds(
    tuple(chosen.to_crs(4326).total_bounds), width=900, height=MAP_HEIGHT
)

map_column, panel_column = st.columns([3, 2], gap="medium")
with map_column:
    offered = {k_: n_ for k_, n_ in LAYERS.items() if k_ != "points" or viewer.sees_points}
    layers = st.pills(
        "Layers",
        list(offered),
        selection_mode="multi",
        format_func=offered.get,
        key="map_layers",
    )

    slider, play = st.columns([6, 1], vertical_alignment="bottom")
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
        if playing and month_options.index(month) == len(month_options) - 1:
            st.session_state["map_month_next"] = month_options[1]
        st.rerun()

    ours = {
        **analysis.settings_to_params(settings),
        "layers": ",".join(layers) if list(layers) != list(DEFAULT_LAYERS) else "",
        "month": month if month != WHOLE_PERIOD else "",
    }
    for key in OWN_PARAMS:
        if ours.get(key):
            if st.query_params.get(key) != ours[key]:
                st.query_params[key] = ours[key]
        elif key in st.query_params:
            del st.query_params[key]
    groups: list[folium.FeatureGroup] = []
    cells = gpd.GeoDataFrame({"cell_id": []}, geometry=[], crs=4326)
    if "density" in layers:
        groups.append(density_layer(loaders.map_density(seen_as, query, k, version)))
    if "counts" in layers:
        groups.append(aggregates_layer(loaders.map_aggregates(seen_as, query, k, version)))
    if "hot" in layers:
        if month == WHOLE_PERIOD:
            cells = loaders.map_hot_cells(seen_as, query, settings.confidence, k, version)
            name = "Hot and cold spots"
        else:
            grid = loaders.map_grid(query.districts, query.cell_size, version)
            rows = picture.cells.loc[picture.cells["month"] == month]
            cells = gpd.GeoDataFrame(
                {
                    "cell": rows["cell"].to_numpy(),
                    "cell_id": grid.cell_ids[rows["cell"].to_numpy(dtype=np.int64)].astype(str),
                    "bin": rows["bin"].to_numpy(),
                    "count": rows["count"].to_numpy(),
                },
                geometry=analysis.cell_geometry(grid, rows["cell"].to_numpy()).array,
                crs=4326,
            )
            name = f"Hot and cold spots, {_month_name(month)}"
        groups.append(hotspot_layer(cells, name=name, trend=picture.category))
    if "places" in layers:
        groups.append(places_layer(places.to_crs(4326), states=state_by_place))
    if "flags" in layers:
        groups.append(flagged_places_layer(flags, states=state_by_place))
    if "points" in layers and viewer.sees_points:
        points, located = loaders.map_points(seen_as, query, version)
        if points is None:
            st.info(
                f"{located:,} located incidents match: too many to draw one by one (the map "
                f"draws at most {analysis.POINTS_LIMIT:,}). Choose a district, a shorter period "
                "or a type, or read the counts per square.",
                icon=":material/scatter_plot:",
            )
        else:
            groups.append(points_layer(points))
    clicked = st_folium(
        m,
        key="map",
        height=MAP_HEIGHT,
        use_container_width=True,
        returned_objects=["last_object_clicked", "last_object_clicked_count"],
        feature_group_to_add=groups,
        layer_control=folium.LayerControl(collapsed=True),
        center=center,
        zoom=zoom,
    )
    st.caption(
        "Incidents are snapped to grid centres or places at import; hot spots are Getis-Ord "
        f"Gi* on {query.cell_size} m squares with false discovery rate control. "
        + (suppression_legend(k) if suppress else "")
    )
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
point = (clicked or {}).get("last_object_clicked")
token = (
    (point or {}).get("lat"),
    (point or {}).get("lng"),
    (clicked or {}).get("last_object_clicked_count"),
)
if point and token != st.session_state.get("map_click_seen"):
    st.session_state["map_click_seen"] = token
    hit = analysis.locate_click(point["lat"], point["lng"], places=flags, cells=cells)
    if hit is None and "places" in layers:
        hit = analysis.locate_click(
            point["lat"], point["lng"], places=places.to_crs(4326), cells=cells
        )
    if hit is None:
        st.toast("Click a flagged place or a coloured cell to see its details.")
    else:
        st.session_state["map_selected"] = hit


# The panel ---------------------------------------------------------------------------------
def _trend_chart(events: pd.DataFrame, key: str) -> None:
    tables = analysis.place_summary(
        events, first=first, viewer=viewer, k=k, months=(_trend_start(), last)
    )
    trend = tables["trend"]
    if trend.empty:
        st.caption("No incidents here in the 12 months to the end of the period.")
    else:
        figure = px.line(
            trend,
            x="month",
            y="count",
            color="type",
            markers=True,
            labels={"month": "", "count": "Incidents", "type": "Type"},
            hover_data={"shown": True, "count": False},
        )
        figure.update_layout(height=260, margin={"l": 0, "r": 0, "t": 10, "b": 0})
        figure.update_layout(legend={"orientation": "h", "y": -0.25, "title": ""})
        st.plotly_chart(figure, width="stretch", key=f"{key}_trend")
        if suppress:
            st.caption(f"Months with fewer than {k} incidents of a type are left blank.")
    ages, sources = st.columns(2)
    ages.dataframe(tables["ages"], hide_index=True, width="stretch")
    sources.dataframe(tables["sources"], hide_index=True, width="stretch")


def _trend_start() -> str:
    return str(min(pd.Period(first, freq="M"), pd.Period(last, freq="M") - 11))


def _place_panel(place_id: int) -> None:
    found = places.loc[places["id"] == place_id]
    if found.empty:
        st.warning("That place is not in your districts or no longer in the register.")
        return
    place = found.iloc[0]
    state = str(state_by_place.get(place_id, "none"))
    st.subheader(str(place["name"]))
    district = dict(zip(all_districts["code"], all_districts["name"], strict=True))
    st.caption(
        f"{label(PLACE_CATEGORIES, place['category'])} · "
        f"{district.get(place['district_code'], place['district_code'])} · "
        f"{STATE_LABELS.get(state, state)}"
    )
    flag = flags.loc[flags["id"] == place_id]
    if not flag.empty:
        st.error(f"**Why it was flagged:** {flag.iloc[0]['reason']}", icon=":material/flag:")
    else:
        st.info("Not flagged in this period with these settings.", icon=":material/flag:")
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
        loaders.impact_for(seen_as, scope, k, version),
        loaders.impact(version),
        place_id,
        key=f"place_{place_id}",
    )
    if viewer.may_edit_assessments and st.button(
        "Start an assessment", icon=":material/assignment_add:", key="map_assess", type="primary"
    ):
        st.session_state["assess_place_id"] = int(place_id)
        st.switch_page(ASSESSMENTS_PAGE)


def _cell_panel(cell_id: str) -> None:
    grid = loaders.map_grid(query.districts, query.cell_size, version)
    index = np.flatnonzero(grid.cell_ids.astype(str) == cell_id)
    if index.size == 0:
        st.warning("That cell is not on the current grid; click the map again.")
        return
    drawn = cells.loc[cells["cell_id"] == cell_id]
    st.subheader(f"{query.cell_size} m square")
    if not drawn.empty:
        row = drawn.iloc[0]
        trend = picture.category.get(int(index[0]), "No pattern detected")
        st.error(
            f"**{HOTSPOT_LABELS[int(row['bin'])]}**: {row['count']} incidents in this square "
            f"in {_month_name(month) if month != WHOLE_PERIOD else 'the period'}; "
            f"trend over 12 months: {trend}.",
            icon=":material/local_fire_department:",
        )
    area = grid.geometry[index[0]]
    events = loaders.map_area_events(seen_as, query, shapely.to_wkb(area), _trend_start(), version)
    st.markdown("**Incidents in this square, by month and type**")
    _trend_chart(events, f"cell_{cell_id}")
    inside = places.loc[places.geometry.within(area)]
    if not inside.empty:
        st.markdown("**Places in this square**")
        for place in inside.itertuples():
            if st.button(
                str(place.name), key=f"map_cell_place_{place.id}", icon=":material/place:"
            ):
                st.session_state["map_selected"] = analysis.Click("place", str(place.id))
                st.rerun()


def _flag_list() -> None:
    st.subheader("Flagged places")
    if flags.empty:
        st.info("No place is flagged in this period with these settings.")
    else:
        st.caption("Click a marker on the map, or a row here, for the place's panel.")
        table = pd.DataFrame(
            {
                "Place": flags["name"],
                "Category": flags["category"].map(lambda c: label(PLACE_CATEGORIES, c)),
                "Assessment": flag_states.map(STATE_LABELS),
                "Why": flags["reason"],
            }
        )
        chosen_rows = st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            height=380,
            on_select="rerun",
            selection_mode="single-row",
            key="map_flag_table",
        )
        rows = chosen_rows.selection.rows if chosen_rows else []
        if rows and st.session_state.get("map_row_seen") != (rows[0], len(flags)):
            st.session_state["map_row_seen"] = (rows[0], len(flags))
            st.session_state["map_selected"] = analysis.Click(
                "place", str(flags["id"].iloc[rows[0]])
            )
            st.rerun()
    unplaced = places.loc[~drawable(places), "name"]
    if not unplaced.empty:
        with st.expander(f"{len(unplaced)} place(s) without a location (not on the map)"):
            st.write(", ".join(map(str, unplaced)))


with panel_column:
    selected = st.session_state.get("map_selected")
    if selected is None:
        _flag_list()
    else:
        if st.button("Back to the flagged places", icon=":material/arrow_back:", key="map_close"):
            st.session_state.pop("map_selected", None)
            st.rerun()
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
            _cell_panel(selected.id)

if playing:
    position = month_options.index(month)
    if position + 1 < len(month_options):
        time.sleep(1.2)
        st.session_state["map_month_next"] = month_options[position + 1]
    else:
        st.session_state["map_playing"] = False
    st.rerun()
