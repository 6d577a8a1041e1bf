"""Assessments: my queue, the assessment form, a lead's review, history and exports."""

from collections.abc import Callable
from datetime import date, timedelta
from functools import partial
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import auth, impact_views, loaders
from dashboard.assessment_form import render_assessment
from dashboard.downloads import audited_download
from dashboard.notification_prefs import notification_preferences
from dashboard.session import current_audience, current_viewer
from geo.measures import assessment_state
from services import assessments as svc
from services import reads
from services.access import AccessDenied
from services.organisations import actions_owned_by
from services.safe_text import csv_bytes, md_text
from store.vocabulary import ACTION_STATUSES, ASSESSMENT_STATUSES, PLACE_CATEGORIES, label

OPEN = "assess_open"
SOON = timedelta(days=30)

version = loaders.data_version()
viewer = current_viewer()
audience = current_audience()
engine = loaders.engine()
today = date.today()
names = loaders.district_names(version)

st.title("Place assessments")


def named(names: dict) -> Callable[[Any], str]:
    """Return a format_func showing the name for each option (the option itself if unknown)."""
    return lambda option: str(names.get(option, option))


def open_assessment(aid: int) -> None:
    st.session_state[OPEN] = aid
    st.session_state.pop("assess_notice", None)
    st.session_state.pop("assess_errors", None)
    st.session_state.pop("assess_mine", None)
    st.session_state.pop(f"af{aid}.version", None)


def start(place_id: int) -> None:
    """Open the place's assessment in progress, or start a draft of it."""
    listed = svc.list_assessments(engine, viewer)
    live = listed.loc[
        (listed["place_id"] == place_id) & listed["status"].isin(["draft", "submitted", "returned"])
    ]
    try:
        if not live.empty:
            open_assessment(int(live["id"].iloc[0]))
        else:
            open_assessment(svc.create_draft(engine, viewer, place_id, today=today))
    except (AccessDenied, svc.IllegalTransition, LookupError) as refusal:
        st.session_state["assess_queue_error"] = str(refusal)


def add_place() -> None:
    state = st.session_state
    try:
        pid = svc.add_place(
            engine, viewer, state["assess_new_name"], state["assess_new_category"],
            state["assess_new_postcode"],
        )  # fmt: skip
    except svc.AssessmentInvalid as problem:
        state["assess_new_errors"] = problem.errors
        return
    except AccessDenied as refusal:
        state["assess_new_errors"] = {"name": str(refusal)}
        return
    state["assess_new_errors"] = {}
    loaders.places.clear()
    start(pid)


place_request = st.session_state.pop("assess_place_id", None)
if place_request is not None:
    start(int(place_request))
linked = st.query_params.get("assessment")  # issue 23: the link in a notification e-mail
if linked is not None:
    del st.query_params["assessment"]
    if str(linked).isdigit():
        open_assessment(int(linked))

if st.session_state.get(OPEN) is not None:
    st.button("Back to my queue", key="assess_back", on_click=lambda: st.session_state.pop(OPEN))
    try:
        render_assessment(
            engine, viewer, int(st.session_state[OPEN]), today=today, district_names=names
        )
    except (AccessDenied, LookupError) as refusal:
        st.error(md_text(refusal), icon=":material/block:")
    st.stop()

# The queue -----------------------------------------------------------------------------------

listed = svc.list_assessments(engine, viewer)
queue_scope = audience.scope()
flags = reads.queue_flags(loaders.assessment_queue_flags(queue_scope, version), audience)
state = assessment_state(listed, today=today).set_index("place_id")["state"]
flags = flags.assign(state=flags["id"].map(state).fillna("none"))
waiting = flags.loc[flags["state"] != "current"]
drafts = listed.loc[listed["status"].isin(["draft", "returned"])]
submitted = listed.loc[listed["status"] == "submitted"]
approved = listed.loc[listed["status"] == "approved"]
reviews = approved.loc[approved["next_review_on"] <= pd.Timestamp(today + SOON)]
# issue 23: the actions the viewer owns, in person or through their organisation
actions = actions_owned_by(engine, viewer, due_by=today + SOON)

scope = "all districts" if len(viewer.districts) == len(names) else ", ".join(
    names.get(c, c) for c in viewer.districts
)  # fmt: skip
st.caption(f"Signed in as {md_text(viewer.display_name or viewer.username)} · {md_text(scope)}")
if not viewer.may_edit_assessments:
    st.info("Your role can read assessments but not record them.", icon=":material/visibility:")
if reads.is_wide(len(queue_scope)):
    st.info(reads.WIDE_QUEUE_FLAGS, icon=":material/info:")
error = st.session_state.pop("assess_queue_error", None)
if error:
    st.error(md_text(error), icon=":material/block:")

c1, c2, c3, c4 = st.columns(4)
c1.metric("Flagged, no current assessment", len(waiting))
c2.metric("Drafts and returned", len(drafts))
c3.metric("Reviews due in 30 days or overdue", len(reviews))
c4.metric("Your actions due in 30 days or overdue", len(actions))

queue, everything, notices = st.tabs(["My queue", "All assessments", "Notifications"])
with queue:
    st.subheader("Flagged places without a current assessment")
    st.caption(
        "Places flagged over the last 3 months of data (hot spot, 10 or more incidents within "
        "200 m, or a new or intensifying trend), most urgent first."
    )
    shown = waiting.assign(
        category=waiting["category"].map(lambda c: label(PLACE_CATEGORIES, c)),
        district=waiting["district_code"].map(names),
        state=waiting["state"].map(
            {"none": "No assessment", "draft": "In progress", "overdue": "Review overdue"}
        ),
    )
    st.dataframe(
        shown[["rank", "name", "category", "district", "state", "reason"]],
        hide_index=True,
        width="stretch",
        height=280,
        key="assess_flags_table",
        column_config={
            "rank": "Rank",
            "name": "Place",
            "category": "Category",
            "district": "District",
            "state": "Assessment",
            "reason": "Why flagged",
        },
    )
    if viewer.may_edit_assessments:
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        choice = c1.selectbox(
            "Place to assess",
            waiting["id"].tolist(),
            format_func=named(
                dict(zip(waiting["id"], waiting["name"] + " · " + shown["state"], strict=True))
            ),
            key="assess_pick_flagged",
            index=None,
            placeholder="Choose a flagged place...",
        )
        c2.button(
            "Start or open its assessment",
            key="assess_start",
            type="primary",
            disabled=choice is None,
            on_click=start,
            args=(choice,),
        )
        with st.expander("Add a place that is not in the register"):
            errors = st.session_state.get("assess_new_errors", {})
            st.text_input("Name of the place", key="assess_new_name")
            if "name" in errors:
                st.error(md_text(errors["name"]))
            st.selectbox(
                "Category",
                list(PLACE_CATEGORIES),
                format_func=partial(label, PLACE_CATEGORIES),
                key="assess_new_category",
            )
            if "category" in errors:
                st.error(errors["category"])
            st.text_input("Postcode of the place", key="assess_new_postcode")
            if "postcode" in errors:
                st.error(md_text(errors["postcode"]))
            st.caption("The place is located at its postcode's grid reference.")
            st.button("Add and start an assessment", key="assess_new_add", on_click=add_place)

    def pick(frame: pd.DataFrame, what: str, key: str, button: str) -> None:
        options = frame["id"].tolist()
        text = {
            row.id: f"{row.place_name} ({label(ASSESSMENT_STATUSES, row.status)}, "
            f"{row.assessed_on:%d %b %Y})"
            for row in frame.itertuples()
        }
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        chosen = c1.selectbox(
            what, options, format_func=named(text), key=key, index=None, placeholder="Choose..."
        )
        c2.button(
            button,
            key=f"{key}_open",
            disabled=chosen is None,
            on_click=open_assessment,
            args=(chosen,),
        )

    columns: dict[str, Any] = {
        "place_name": "Place",
        "status": "Status",
        "assessed_on": st.column_config.DateColumn("Assessed"),
        "created_by": "Started by",
        "updated_by": "Last changed by",
        "review_comment": "Lead's comment",
    }
    st.subheader("Drafts and assessments returned for changes")
    if drafts.empty:
        st.success("No drafts or returned assessments.")
    else:
        st.dataframe(
            drafts[list(columns)].assign(
                status=drafts["status"].map(lambda s: label(ASSESSMENT_STATUSES, s))
            ),
            hide_index=True,
            width="stretch",
            column_config=columns,
            key="assess_drafts_table",
        )
        pick(drafts, "Draft to open", "assess_pick_draft", "Open")
    if viewer.may_approve:
        st.subheader("Submitted, awaiting your review")
        if submitted.empty:
            st.success("Nothing is waiting for review.")
        else:
            st.dataframe(
                submitted[["place_name", "assessing_org", "assessed_on", "overall_risk"]],
                hide_index=True,
                width="stretch",
                key="assess_submitted_table",
                column_config={
                    "place_name": "Place",
                    "assessing_org": "Organisation",
                    "assessed_on": st.column_config.DateColumn("Assessed"),
                    "overall_risk": "Risk",
                },
            )
            pick(submitted, "Assessment to review", "assess_pick_submitted", "Review")
    st.subheader("Reviews due in the next 30 days or overdue")
    if reviews.empty:
        st.success("No reviews are due.")
    else:
        st.dataframe(
            reviews[["place_name", "assessed_on", "overall_risk", "next_review_on"]].sort_values(
                "next_review_on"
            ),
            hide_index=True,
            width="stretch",
            key="assess_reviews_table",
            column_config={
                "place_name": "Place",
                "assessed_on": st.column_config.DateColumn("Assessed"),
                "overall_risk": "Risk",
                "next_review_on": st.column_config.DateColumn("Review due"),
            },
        )
        impact_views.review_evidence(
            loaders.impact_for(audience, audience.districts, version),
            reviews["place_id"].astype(int).tolist(),
        )
        if viewer.may_edit_assessments:
            c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
            due_place = c1.selectbox(
                "Place to review",
                reviews["place_id"].tolist(),
                format_func=named(
                    dict(zip(reviews["place_id"], reviews["place_name"], strict=True))
                ),
                key="assess_pick_review",
                index=None,
                placeholder="Choose...",
            )
            c2.button(
                "Start the review",
                key="assess_review_start",
                disabled=due_place is None,
                on_click=start,
                args=(due_place,),
            )
    owner = f"you or {viewer.organisation}" if viewer.organisation else "you"
    st.subheader(f"Actions {md_text(owner)} own, due in the next 30 days or overdue")
    if actions.empty:
        st.success("No actions of yours are due.")
    else:
        st.dataframe(
            actions[["place_name", "description", "owned", "due_on"]].assign(
                overdue=actions["due_on"] < pd.Timestamp(today)
            ),
            hide_index=True,
            width="stretch",
            key="assess_actions_table",
            column_config={
                "place_name": "Place",
                "description": "Action",
                "owned": "Owned by",
                "due_on": st.column_config.DateColumn("Due"),
                "overdue": st.column_config.CheckboxColumn("Overdue"),
            },
        )
        if viewer.may_edit_assessments:
            c1, c2, c3 = st.columns([3, 1, 1], vertical_alignment="bottom")
            action_id = c1.selectbox(
                "Action",
                actions["id"].tolist(),
                format_func=named(
                    dict(
                        zip(
                            actions["id"],
                            actions["place_name"] + ": " + actions["description"],
                            strict=True,
                        )
                    )
                ),
                key="assess_pick_action",
                index=None,
                placeholder="Choose...",
            )
            status = c2.selectbox(
                "New status",
                ["done", "dropped"],
                format_func=partial(label, ACTION_STATUSES),
                key="assess_action_status",
            )
            if c3.button("Update", key="assess_action_update", disabled=action_id is None):
                svc.update_action(engine, viewer, int(action_id or 0), status=status, today=today)
                loaders.actions.clear()
                st.rerun()

with notices:  # issue 23: the person's own notification preferences
    notification_preferences(engine, viewer)

with everything:
    table = listed.assign(
        status=listed["status"].map(lambda s: label(ASSESSMENT_STATUSES, s)),
        place_category=listed["place_category"].map(lambda c: label(PLACE_CATEGORIES, c)),
        district=listed["district_code"].map(names),
    )[
        [
            "id",
            "place_name",
            "place_category",
            "district",
            "assessing_org",
            "assessed_on",
            "status",
            "overall_risk",
            "next_review_on",
            "findings",
            "actions",
            "version",
        ]
    ]
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        key="assess_all_table",
        column_config={
            "id": "No.",
            "place_name": "Place",
            "place_category": "Category",
            "district": "District",
            "assessing_org": "Organisation",
            "assessed_on": st.column_config.DateColumn("Assessed"),
            "status": "Status",
            "overall_risk": "Risk",
            "next_review_on": st.column_config.DateColumn("Next review"),
            "findings": "Findings",
            "actions": "Actions",
            "version": "Version",
        },
    )
    audited_download(
        "Download the list as CSV",
        lambda: csv_bytes(table),
        engine=engine,
        viewer=viewer,
        entity="assessments",
        file_name="assessments.csv",
        mime="text/csv",
        key="assessments_csv",
        detail={"rows": len(table), "format": "csv"},
        origin=auth.origin(),
    )
    if not listed.empty:
        pick(listed, "Assessment to open", "assess_pick_any", "Open")
