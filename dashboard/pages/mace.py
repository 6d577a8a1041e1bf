"""MACE: clusters of places linked by the young people and persons of concern they share."""

from __future__ import annotations

from datetime import date
from functools import partial
from html import escape  # plotly reads <b>, <a> and <br> in its text: names are shown as text

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import loaders
from dashboard.session import current_audience, current_viewer
from geo.links import cluster_sentence
from services.access import AccessDenied
from services.panels import (
    PanelError,
    add_panel_action,
    list_panels,
    panel_actions,
    record_panel,
    set_panel_action_status,
)
from store.audit import log_event
from store.vocabulary import ACTION_KINDS, ACTION_STATUSES, PLACE_CATEGORIES, label

viewer = current_viewer()
version = loaders.data_version()
latest = loaders.latest_date(version)
names = loaders.district_names(version)
audience = current_audience()
k = audience.k

WINDOWS = {"12": "Last 12 months", "6": "Last 6 months", "3": "Last 3 months", "all": "All data"}


def _month(d: date, back: int) -> str:
    index = d.year * 12 + d.month - 1 - back
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def panel_record(clusters: pd.DataFrame, sentences: dict[int, str]) -> None:
    """The MACE panel's record: meetings, agenda, decisions and disruption actions."""
    st.divider()
    st.subheader("Panel record")
    engine = loaders.engine()
    if viewer.may_edit_assessments:
        with (
            st.expander("Record a panel meeting", icon=":material/groups:"),
            st.form("mace_panel_form", clear_on_submit=False),
        ):
            held_on = st.date_input("Date of the panel", value=date.today(), key="mace_held")
            organisations = st.text_area(
                "Organisations present (one a line)", key="mace_orgs", height=100
            )
            agenda = st.multiselect(
                "Clusters on the agenda",
                clusters["cluster"].tolist(),
                format_func=lambda c: f"Cluster {c}: {sentences.get(c, '')}",
                key="mace_agenda",
            )
            decisions = st.text_area(
                "Decisions (about places and disruption, never about a child)",
                key="mace_decisions",
            )
            if st.form_submit_button("Save the panel", icon=":material/save:"):
                chosen = clusters.loc[clusters["cluster"].isin(agenda)]
                items = [
                    (str(row["place_keys"]).split(";"), sentences.get(int(row["cluster"]), ""))
                    for _, row in chosen.iterrows()
                ]
                try:
                    record_panel(
                        engine,
                        viewer,
                        held_on=held_on,
                        organisations=organisations.splitlines(),
                        agenda=items,
                        decisions=decisions,
                    )
                    st.success("The panel was saved.", icon=":material/check:")
                except (PanelError, AccessDenied) as problem:
                    st.error(str(problem), icon=":material/error:")
    panels = list_panels(engine)
    if panels.empty:
        st.info("No MACE panel has been recorded yet.", icon=":material/info:")
        return
    choice = st.selectbox(
        "Panel",
        panels["id"].tolist(),
        format_func=lambda i: f"{pd.Timestamp(panels.set_index('id').loc[i, 'held_on']):%d %B %Y}",
        key="mace_panel",
    )
    row = panels.set_index("id").loc[choice]
    st.text("Present: " + ", ".join(str(row["organisations"]).splitlines()))
    if row["agenda"]:
        st.text("Agenda:\n" + str(row["agenda"]))
    if row["decisions"]:
        st.text("Decisions: " + str(row["decisions"]))
    actions = panel_actions(engine, int(choice))
    if actions.empty:
        st.caption("No disruption action yet.")
    else:
        st.dataframe(
            pd.DataFrame(
                {
                    "Kind": actions["kind"].map(lambda k: label(ACTION_KINDS, k)),
                    "Action": actions["description"],
                    "Owner": actions["owner_org"],
                    "Due": actions["due_on"],
                    "Outcome": actions["status"].map(lambda s: label(ACTION_STATUSES, s)),
                }
            ),
            hide_index=True,
            width="stretch",
            key="mace_panel_actions",
        )
    if not viewer.may_edit_assessments:
        return
    with (
        st.expander("Add a disruption action", icon=":material/add_task:"),
        st.form("mace_action_form"),
    ):
        kind = st.selectbox(
            "Kind", list(ACTION_KINDS), format_func=partial(label, ACTION_KINDS), key="mace_kind"
        )
        description = st.text_input("Action", key="mace_action_text")
        owner = st.text_input("Owning organisation", key="mace_action_owner")
        due = st.date_input("Due", key="mace_action_due")
        if st.form_submit_button("Add the action", icon=":material/add:"):
            try:
                add_panel_action(
                    engine,
                    viewer,
                    int(choice),
                    kind=kind,
                    description=description,
                    owner_org=owner,
                    due_on=due,
                )
                st.rerun()
            except (PanelError, AccessDenied) as problem:
                st.error(str(problem), icon=":material/error:")
    if not actions.empty:
        with (
            st.expander("Record an outcome", icon=":material/task_alt:"),
            st.form("mace_outcome_form"),
        ):
            which = st.selectbox(
                "Action",
                actions["id"].tolist(),
                format_func=lambda i: str(actions.set_index("id").loc[i, "description"]),
                key="mace_outcome_action",
            )
            status = st.selectbox(
                "Outcome",
                list(ACTION_STATUSES),
                format_func=partial(label, ACTION_STATUSES),
                key="mace_outcome_status",
            )
            if st.form_submit_button("Save the outcome"):
                try:
                    set_panel_action_status(engine, viewer, int(which), status=status)
                    st.rerun()
                except (PanelError, AccessDenied) as problem:
                    st.error(str(problem), icon=":material/error:")


st.title("MACE: links between places")
st.caption(
    "Places linked by the young people (and persons of concern) they share, from referrals "
    "and incidents that name a place or fall at it. Clusters are ranked by the people linked, "
    "then growth (young people first seen there in the last 3 months), districts crossed, and "
    "places not assessed. A cluster across districts may be a county line."
)
window = st.segmented_control(
    "Period", list(WINDOWS), format_func=partial(label, WINDOWS), default="12", key="mace_window"
)
window = window or "12"
until = _month(latest, 0)
since = None if window == "all" else _month(latest, int(window) - 1)
recent = _month(latest, 2)
view = loaders.mace_links(audience, since, until, recent, version)

opened = ("mace", since, until)
if st.session_state.get("mace_logged") != opened:
    log_event(
        loaders.engine(),
        actor=viewer.username,
        action="view MACE links",
        entity="links",
        detail={"since": since, "until": until, "links_shown": len(view.links)},
    )
    st.session_state["mace_logged"] = opened

if view.protected:
    st.info(
        f"You see links shared by at least {view.min_young_people} young people between "
        "places in your districts; smaller counts show as "
        f"<{k}. Leads see every link.",
        icon=":material/shield:",
    )

clusters = view.clusters
left, middle, right, far = st.columns(4)
left.metric("Clusters", f"{len(clusters):,}")
middle.metric("Linked places", f"{len(view.places):,}")
right.metric("Links", f"{len(view.links):,}")
far.metric(
    "Across districts", f"{int(clusters['crosses_districts'].sum()) if len(clusters) else 0:,}"
)

if clusters.empty:
    st.info(
        "No links between places in this period"
        + (f" shared by {view.min_young_people} or more young people." if view.protected else ".")
    )
    panel_record(clusters, {})
    st.stop()


def sentence(row: pd.Series) -> str:
    """Return the cluster's summary, from the protected figures."""
    return cluster_sentence(
        places=int(row["places"]),
        districts=int(row["districts"]),
        young_people=row["young_people"],
        persons_of_concern=row["persons_of_concern"],
        first_month=row["first_month"],
        unassessed=int(row["unassessed_places"]),
    )


ranked = pd.DataFrame(
    {
        "Rank": clusters["rank"],
        "Cluster": clusters["cluster"],
        "Summary": [sentence(row) for _, row in clusters.iterrows()],
        "Places": clusters["places"],
        "Districts": clusters["districts"],
        "Young people": clusters["young_people"].astype(str),
        "Persons of concern": clusters["persons_of_concern"].astype(str),
        "New (3 months)": clusters["new_young_people"].astype(str),
        "Not assessed": clusters["unassessed_places"],
        "Possible county line": clusters["crosses_districts"].map({True: "yes", False: ""}),
    }
)
st.subheader("Clusters, ranked")
st.dataframe(ranked, hide_index=True, width="stretch", key="mace_clusters")

choice = st.selectbox(
    "Open a cluster",
    clusters["cluster"].tolist(),
    format_func=lambda c: (
        f"Cluster {c}: " + sentence(clusters.loc[clusters["cluster"] == c].iloc[0])
    ),
    key="mace_cluster",
)
row = clusters.loc[clusters["cluster"] == choice].iloc[0]
places = view.places.loc[view.places["cluster"] == choice]
links = view.links.loc[view.links["cluster"] == choice]
st.subheader(f"Cluster {choice}")
st.text(sentence(row))
if row["crosses_districts"]:
    st.warning(
        "These places lie in "
        + ", ".join(names.get(c, c) for c in str(row["district_codes"]).split(";"))
        + ": a possible county line.",
        icon=":material/alt_route:",
    )

figure = go.Figure()
for link in links.itertuples():
    a = places.loc[places["place"] == link.place_a]
    b = places.loc[places["place"] == link.place_b]
    if a.empty or b.empty:
        continue
    shared = link.young_people
    width = 1.5 + min(float(shared) if isinstance(shared, int | float) else k - 1, 30.0) / 3
    figure.add_trace(
        go.Scatter(
            x=[a["easting"].iloc[0], b["easting"].iloc[0]],
            y=[a["northing"].iloc[0], b["northing"].iloc[0]],
            mode="lines",
            line={"width": width, "color": "#b5483b"},
            hoverinfo="text",
            text=escape(f"{link.name_a} – {link.name_b}: {shared} young people"),
            showlegend=False,
        )
    )
figure.add_trace(
    go.Scatter(
        x=places["easting"],
        y=places["northing"],
        mode="markers+text",
        marker={"size": 14, "color": places["assessed"].map({True: "#2c7a7b", False: "#c05621"})},
        text=[escape(str(n)) for n in places["name"]],
        textposition="top center",
        hovertext=[
            escape(f"{n}: linked to {d} places")
            for n, d in zip(places["name"], places["linked_places"], strict=True)
        ],
        hoverinfo="text",
        showlegend=False,
    )
)
figure.update_layout(
    height=420,
    margin={"l": 10, "r": 10, "t": 10, "b": 10},
    xaxis={"visible": False},
    yaxis={"visible": False, "scaleanchor": "x"},
    plot_bgcolor="white",
)
st.plotly_chart(figure, width="stretch", key="mace_figure")
st.caption(
    "Lines join linked places, thicker for more young people shared; orange places have no "
    "assessment. Positions are the places' register points (British National Grid)."
)

table = pd.DataFrame(
    {
        "Place": places["name"],
        "Category": places["category"].map(lambda c: label(PLACE_CATEGORIES, c)),
        "District": places["district"].map(names),
        "Linked places": places["linked_places"],
        "Young people": places["young_people"].astype(str),
        "Persons of concern": places["persons_of_concern"].astype(str),
        "Assessed": places["assessed"].map({True: "yes", False: "no"}),
    }
)
st.dataframe(table, hide_index=True, width="stretch", key="mace_places")
pairs = pd.DataFrame(
    {
        "Place": links["name_a"],
        "Linked to": links["name_b"],
        "Young people": links["young_people"].astype(str),
        "Persons of concern": links["persons_of_concern"].astype(str),
        "First month": links["first_month"],
        "Last month": links["last_month"],
    }
)
st.dataframe(pairs, hide_index=True, width="stretch", key="mace_links")

panel_record(clusters, {int(r["cluster"]): sentence(r) for _, r in clusters.iterrows()})
