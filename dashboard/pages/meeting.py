"""Meeting: headline figures, trends and district progress for a shared screen."""

from dataclasses import replace
from datetime import date

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboard import loaders, sidebar
from dashboard.session import current_viewer, disclosure_threshold
from store.access import AccessDenied
from store.disclosure import legend, needs_suppression, suppress_count, suppress_table
from store.measures import change, district_progress, monthly_counts
from store.queries import EventFilter
from store.vocabulary import EXPLOITATION_TYPES

viewer = current_viewer()
version = loaders.data_version()
filters = sidebar.current()
latest = loaders.latest_date(version)
today = date.today()
names = loaders.district_names(version)
suppress = needs_suppression(viewer)
k = disclosure_threshold(version)

start, end = filters.window(latest)
period = f"{start:%b %Y} to {end:%b %Y}" if start and end else "all data"
st.title("Steering group summary")
st.caption(f"Period: {period}. Figures compare with the period of the same length before.")

try:
    scope = viewer.scope(filters.districts)
except AccessDenied as refusal:
    st.error(str(refusal), icon=":material/block:")
    st.stop()
chosen = replace(filters, districts=scope)
incidents = loaders.events("incidents", chosen.event_filter(latest), version)
referrals = loaders.events("referrals", chosen.event_filter(latest), version)
previous_window = filters.previous_window(latest)
previous_incidents = previous_referrals = None
if previous_window is not None:
    before = EventFilter(
        start=previous_window[0],
        end=previous_window[1],
        categories=filters.types,
        age_bands=filters.ages,
        agencies=filters.agencies,
        districts=scope,
    )
    previous_incidents = len(loaders.events("incidents", before, version))
    previous_referrals = len(loaders.events("referrals", before, version))

places = loaders.places(version)
places = places.loc[places["district_code"].isin(scope)]
with_incidents = places.loc[places["id"].isin(incidents["place_id"].dropna())]
counts = [
    "places",
    "current",
    "overdue_reviews",
    "in_progress",
    "actions_open",
    "actions_done",
    "actions_overdue",
]
if with_incidents.empty:
    progress = pd.DataFrame(columns=["district_code", "district", *counts, "share_current"])
    progress = progress.astype({c: int for c in counts})
else:
    progress = district_progress(
        with_incidents,
        loaders.assessments(version),
        loaders.actions(version),  # counted only for the districts of these places
        today=today,
        district_names=names,
    )


def figure(n: int) -> str:
    """Return a headline count as shown to this viewer (small counts hidden where needed)."""
    shown = suppress_count(n, k=k) if suppress else n
    return shown if isinstance(shown, str) else f"{shown:,}"


def delta(current: int, previous: int | None) -> str | None:
    """Return the change on the last period, unless it would give a small count away."""
    if suppress and previous is not None and (0 < current < k or 0 < previous < k):
        return None
    return change(current, previous)


c1, c2, c3, c4 = st.columns(4)
c1.metric(
    "Incidents",
    figure(len(incidents)),
    delta(len(incidents), previous_incidents),
    delta_color="inverse",
)
c2.metric(
    "Referrals",
    figure(len(referrals)),
    delta(len(referrals), previous_referrals),
    delta_color="inverse",
)
c3.metric("Places with incidents", figure(int(progress["places"].sum())))
c4.metric("Actions overdue", figure(int(progress["actions_overdue"].sum())))

st.subheader("Incidents by month and type")
if incidents.empty:
    st.info("No incidents in this period for these filters.")
else:
    trend = monthly_counts(incidents, by="category")
    if suppress:
        # Hide small monthly counts (and those that would give them away) as gaps in the lines.
        wide = trend.pivot(index="month", columns="category", values="count")
        shown = suppress_table(wide, list(wide.columns), k=k)
        trend = (
            shown.apply(pd.to_numeric, errors="coerce")
            .reset_index()
            .melt(id_vars="month", var_name="category", value_name="count")
        )
    trend["category"] = trend["category"].map(EXPLOITATION_TYPES)
    chart = px.line(
        trend,
        x="month",
        y="count",
        color="category",
        markers=True,
        labels={"month": "", "count": "Incidents", "category": "Type"},
    )
    chart.update_layout(font_size=16, legend_title_text="", height=420)
    st.plotly_chart(chart, width="stretch", key="meeting_trend")
    if suppress:
        st.caption(f"Months with fewer than {k} incidents of a type are left out of the lines.")

st.subheader("Progress by district")
st.caption("Places with incidents in the period, and the state of their assessments.")
if suppress:
    shown = suppress_table(progress, counts, k=k)
    hidden = shown[["places", "current"]].map(lambda v: isinstance(v, str)).any(axis=1)
    shown["share_current"] = progress["share_current"].mask(hidden)
    progress = shown.astype({c: str for c in counts})
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
if suppress:
    st.caption(legend(k))
