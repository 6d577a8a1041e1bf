"""Places: the register of places and spaces, with activity in the chosen period."""

from datetime import date

import pandas as pd
import streamlit as st

from dashboard import loaders, sidebar
from store.measures import assessment_state
from store.vocabulary import PLACE_CATEGORIES, label

version = loaders.data_version()
filters = sidebar.current()
latest = loaders.latest_date(version)

st.title("Places")
st.caption(
    "The register of places and spaces of concern, with incidents linked to each place "
    "in the chosen period and the state of its assessment."
)

places = loaders.places(version)
names = dict(
    zip(loaders.districts(version)["code"], loaders.districts(version)["name"], strict=True)
)
if filters.districts:
    places = places.loc[places["district_code"].isin(filters.districts)]
incidents = loaders.events("incidents", filters.event_filter(latest), version)
linked = incidents.groupby("place_id").size().rename("incidents")
state = assessment_state(loaders.assessments(version), today=date.today()).set_index("place_id")

table = pd.DataFrame(
    {
        "Place": places["name"],
        "Category": places["category"].map(lambda c: label(PLACE_CATEGORIES, c)),
        "District": places["district_code"].map(names),
        "Postcode": places["postcode"],
        "Incidents in period": places["id"].map(linked).fillna(0).astype(int),
        "Assessment": places["id"].map(state["state"]).fillna("none"),
        "Responsible": places["responsible_org"],
    }
).sort_values("Incidents in period", ascending=False)

categories = st.multiselect(
    "Category",
    list(PLACE_CATEGORIES),
    format_func=PLACE_CATEGORIES.get,
    key="places_category",
    placeholder="All categories",
)
if categories:
    table = table.loc[places.loc[table.index, "category"].isin(categories)]
st.metric("Places", f"{len(table):,}")
if table.empty:
    st.info("No places match these filters.")
else:
    st.dataframe(table, hide_index=True, width="stretch")
    st.download_button(
        "Download as CSV", table.to_csv(index=False), "places.csv", "text/csv", key="places_csv"
    )
