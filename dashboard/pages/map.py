"""Map: district outlines, places coloured by assessment state, and the period's activity."""

from datetime import date

import folium
import streamlit as st
from streamlit_folium import st_folium

from dashboard import loaders, sidebar
from dashboard.layers import STATE_COLOURS, STATE_LABELS, add_places
from dashboard.maps import add_district_outlines, fullscreen, offline_map
from store.measures import assessment_state

version = loaders.data_version()
filters = sidebar.current()
latest = loaders.latest_date(version)

st.title("Map")
districts = loaders.districts(version)
if filters.districts:
    districts = districts.loc[districts["code"].isin(filters.districts)]
if districts.empty:
    st.warning(
        "No district boundaries are set up yet. A data officer can import them on the Data page."
    )
    st.stop()

incidents = loaders.events("incidents", filters.event_filter(latest), version)
places = loaders.places(version)
places = places.loc[places["district_code"].isin(districts["code"])]
states = assessment_state(loaders.assessments(version), today=date.today())
state_by_place = states.set_index("place_id")["state"]

c1, c2, c3 = st.columns(3)
c1.metric("Incidents in period", f"{len(incidents):,}")
c2.metric("Without a location (online or unknown)", f"{int(incidents['easting'].isna().sum()):,}")
c3.metric("Places in the register", f"{len(places):,}")
if incidents.empty:
    st.info(
        "No incidents match these filters in this period. Try a longer period or fewer filters."
    )

districts_wgs84 = districts.to_crs(4326)
m = offline_map(bounds=tuple(districts_wgs84.total_bounds))
add_district_outlines(
    m, districts_wgs84, approximate=bool(districts["source"].str.startswith("approximate").any())
)
add_places(m, places.to_crs(4326), states=state_by_place)
fullscreen(position="topleft").add_to(m)
folium.LayerControl(collapsed=False).add_to(m)

st_folium(m, key="map", height=620, use_container_width=True, returned_objects=[])
st.caption(
    "Places: "
    + " · ".join(
        f"<span style='color:{STATE_COLOURS[s]}'>●</span> {STATE_LABELS[s]}" for s in STATE_COLOURS
    ),
    unsafe_allow_html=True,
)
