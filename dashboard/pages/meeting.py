"""Meeting: headline figures, trends and district progress for a shared screen."""

from datetime import date

import plotly.express as px
import streamlit as st

from dashboard import loaders, sidebar
from store.measures import change, district_progress, monthly_counts
from store.queries import EventFilter
from store.vocabulary import EXPLOITATION_TYPES

version = loaders.data_version()
filters = sidebar.current()
latest = loaders.latest_date(version)
today = date.today()
names = dict(
    zip(loaders.districts(version)["code"], loaders.districts(version)["name"], strict=True)
)

start, end = filters.window(latest)
period = f"{start:%b %Y} to {end:%b %Y}" if start and end else "all data"
st.title("Steering group summary")
st.caption(f"Period: {period}. Figures compare with the period of the same length before.")

incidents = loaders.events("incidents", filters.event_filter(latest), version)
referrals = loaders.events("referrals", filters.event_filter(latest), version)
previous_window = filters.previous_window(latest)
previous_incidents = previous_referrals = None
if previous_window is not None:
    before = EventFilter(
        start=previous_window[0],
        end=previous_window[1],
        categories=filters.types,
        age_bands=filters.ages,
        agencies=filters.agencies,
        districts=filters.districts,
    )
    previous_incidents = len(loaders.events("incidents", before, version))
    previous_referrals = len(loaders.events("referrals", before, version))

places = loaders.places(version)
if filters.districts:
    places = places.loc[places["district_code"].isin(filters.districts)]
progress = district_progress(
    places.loc[places["id"].isin(incidents["place_id"].dropna())],
    loaders.assessments(version),
    loaders.actions(version),
    today=today,
    district_names=names,
)

c1, c2, c3, c4 = st.columns(4)
c1.metric(
    "Incidents",
    f"{len(incidents):,}",
    change(len(incidents), previous_incidents),
    delta_color="inverse",
)
c2.metric(
    "Referrals",
    f"{len(referrals):,}",
    change(len(referrals), previous_referrals),
    delta_color="inverse",
)
c3.metric("Places with incidents", f"{int(progress['places'].sum()):,}")
c4.metric("Actions overdue", f"{int(progress['actions_overdue'].sum()):,}")

st.subheader("Incidents by month and type")
if incidents.empty:
    st.info("No incidents in this period for these filters.")
else:
    trend = monthly_counts(incidents, by="category")
    trend["category"] = trend["category"].map(EXPLOITATION_TYPES)
    figure = px.line(
        trend,
        x="month",
        y="count",
        color="category",
        markers=True,
        labels={"month": "", "count": "Incidents", "category": "Type"},
    )
    figure.update_layout(font_size=16, legend_title_text="", height=420)
    st.plotly_chart(figure, width="stretch", key="meeting_trend")

st.subheader("Progress by district")
st.caption("Places with incidents in the period, and the state of their assessments.")
st.dataframe(
    progress.drop(columns=["district_code"]),
    hide_index=True,
    width="stretch",
    column_config={
        "district": "District",
        "places": "Places",
        "current": "Current assessment",
        "overdue_reviews": "Review overdue",
        "in_progress": "In progress",
        "actions_open": "Actions open",
        "actions_done": "Actions done",
        "actions_overdue": "Actions overdue",
        "share_current": st.column_config.ProgressColumn(
            "Share assessed", format="percent", min_value=0, max_value=1
        ),
    },
)
