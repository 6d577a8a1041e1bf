"""Assessments: the work queue, every assessment, and actions due."""

from datetime import date

import streamlit as st

from dashboard import loaders, sidebar
from store.measures import assessment_state, overdue_actions
from store.vocabulary import ASSESSMENT_STATUSES, PLACE_CATEGORIES, label

version = loaders.data_version()
filters = sidebar.current()
today = date.today()

st.title("Place assessments")
names = dict(
    zip(loaders.districts(version)["code"], loaders.districts(version)["name"], strict=True)
)
assessments = loaders.assessments(version)
actions = loaders.actions(version)
if filters.districts:
    assessments = assessments.loc[assessments["district_code"].isin(filters.districts)]
    actions = actions.loc[actions["district_code"].isin(filters.districts)]

state = assessment_state(assessments, today=today)
late = overdue_actions(actions, today=today)
drafts = assessments["status"].isin(["draft", "returned"])
awaiting = assessments["status"] == "submitted"

c1, c2, c3, c4 = st.columns(4)
c1.metric("Current assessments", int((state["state"] == "current").sum()))
c2.metric("Reviews overdue", int((state["state"] == "overdue").sum()))
c3.metric("Awaiting approval", int(awaiting.sum()))
c4.metric("Actions overdue", int(late.sum()))

queue, everything, due = st.tabs(["Queue", "All assessments", "Actions"])
with queue:
    st.subheader("Reviews overdue")
    overdue = assessments.loc[
        assessments["id"].isin(state.loc[state["state"] == "overdue", "assessment_id"])
    ]
    if overdue.empty:
        st.success("No reviews are overdue.")
    else:
        st.dataframe(
            overdue[
                ["place_name", "district_code", "assessed_on", "next_review_on", "overall_risk"]
            ]
            .assign(district_code=lambda f: f["district_code"].map(names))
            .sort_values("next_review_on"),
            hide_index=True,
            width="stretch",
            column_config={
                "place_name": "Place",
                "district_code": "District",
                "assessed_on": st.column_config.DateColumn("Assessed"),
                "next_review_on": st.column_config.DateColumn("Review was due"),
                "overall_risk": "Risk",
            },
        )
    st.subheader("Drafts and returned assessments")
    st.dataframe(
        assessments.loc[drafts, ["place_name", "status", "assessing_org", "assessed_on"]].assign(
            status=lambda f: f["status"].map(lambda s: label(ASSESSMENT_STATUSES, s))
        ),
        hide_index=True,
        width="stretch",
        column_config={
            "place_name": "Place",
            "status": "Status",
            "assessing_org": "Organisation",
            "assessed_on": st.column_config.DateColumn("Date"),
        },
    )
    st.subheader("Submitted, awaiting a lead's approval")
    st.dataframe(
        assessments.loc[awaiting, ["place_name", "assessing_org", "assessed_on", "overall_risk"]],
        hide_index=True,
        width="stretch",
        column_config={
            "place_name": "Place",
            "assessing_org": "Organisation",
            "assessed_on": st.column_config.DateColumn("Date"),
            "overall_risk": "Risk",
        },
    )
with everything:
    shown = assessments.assign(
        status=assessments["status"].map(lambda s: label(ASSESSMENT_STATUSES, s)),
        place_category=assessments["place_category"].map(lambda c: label(PLACE_CATEGORIES, c)),
        district_code=assessments["district_code"].map(names),
    )[
        [
            "place_name",
            "place_category",
            "district_code",
            "assessing_org",
            "assessed_on",
            "status",
            "overall_risk",
            "next_review_on",
        ]
    ]
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        column_config={
            "place_name": "Place",
            "place_category": "Category",
            "district_code": "District",
            "assessing_org": "Organisation",
            "assessed_on": st.column_config.DateColumn("Assessed"),
            "status": "Status",
            "overall_risk": "Risk",
            "next_review_on": st.column_config.DateColumn("Next review"),
        },
    )
    st.download_button(
        "Download as CSV",
        shown.to_csv(index=False),
        "assessments.csv",
        "text/csv",
        key="assessments_csv",
    )
with due:
    open_actions = actions.loc[actions["status"] == "open"].assign(overdue=late)
    st.dataframe(
        open_actions[["place_name", "description", "owner_org", "due_on", "overdue"]].sort_values(
            "due_on"
        ),
        hide_index=True,
        width="stretch",
        column_config={
            "place_name": "Place",
            "description": "Action",
            "owner_org": "Owner",
            "due_on": st.column_config.DateColumn("Due"),
            "overdue": st.column_config.CheckboxColumn("Overdue"),
        },
    )
