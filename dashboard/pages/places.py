"""Places: the register of places and spaces, with activity in the chosen period."""

from dataclasses import replace
from datetime import date
from functools import partial

import pandas as pd
import streamlit as st

from dashboard import auth, loaders, sidebar
from dashboard.downloads import audited_download
from dashboard.session import current_audience, current_viewer
from geo.measures import assessment_state
from services import reads
from services.access import AccessDenied
from services.safe_text import csv_bytes, md_text
from store.vocabulary import PLACE_CATEGORIES, label

viewer = current_viewer()
audience = current_audience()
version = loaders.data_version()
filters = sidebar.current()
latest = loaders.latest_date(version)

st.title("Places")
st.caption(
    "The register of places and spaces of concern, with incidents linked to each place "
    "in the chosen period and the state of its assessment."
)

try:
    scope = audience.scope(filters.districts)
except AccessDenied as refusal:
    st.error(md_text(refusal), icon=":material/block:")
    st.stop()
places = loaders.places_for(audience, version, scope)
names = loaders.district_names(version)
incidents = loaders.events(
    "incidents", replace(filters, districts=scope).event_filter(latest), version
)
linked = incidents.groupby("place_id").size().rename("incidents")
linked_keys = incidents.groupby("place_id")["record_key"].sum()  # for the cell key method
state = assessment_state(loaders.assessments(version), today=date.today()).set_index("place_id")

table = pd.DataFrame(
    {
        "Place": places["name"],
        "Category": places["category"].map(lambda c: label(PLACE_CATEGORIES, c)),
        "District": places["district_code"].map(names),
        "Postcode": places["postcode"],
        "Incidents in period": places["id"].map(linked).fillna(0).astype(int),
        "key": places["id"].map(linked_keys).fillna(0).astype(int),
        "Assessment": places["id"].map(state["state"]).fillna("none"),
        "Responsible": places["responsible_org"],
    }
).sort_values("Incidents in period", ascending=False)

categories = st.multiselect(
    "Category",
    list(PLACE_CATEGORIES),
    format_func=partial(label, PLACE_CATEGORIES),
    key="places_category",
    placeholder="All categories",
)
if categories:
    table = table.loc[places.loc[table.index, "category"].isin(categories)]
suppress = not audience.exact
table = reads.protect(table, ["Incidents in period"], ["key"], audience)
if suppress:
    shown = pd.to_numeric(table["Incidents in period"], errors="coerce").fillna(-1)
    table = (  # in the order shown (then by name), never in the order of the true counts
        table.assign(order=shown)
        .sort_values(["order", "Place"], ascending=[False, True])
        .drop(columns="order")
    )
    table["Incidents in period"] = table["Incidents in period"].astype(str)
st.metric("Places", f"{len(table):,}")
if table.empty:
    st.info("No places match these filters.")
else:
    st.dataframe(table, hide_index=True, width="stretch")
    if suppress:
        st.caption(reads.legend(audience))
    audited_download(
        "Download as CSV",
        lambda: csv_bytes(table),
        engine=loaders.engine(),
        viewer=viewer,
        entity="places",
        file_name="places.csv",
        mime="text/csv",
        key="places_csv",
        detail={"rows": len(table), "districts": list(scope), "format": "csv"},
        origin=auth.origin(),
    )
