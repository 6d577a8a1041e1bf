"""The signed-in person's notification preferences (Assessments > Notifications, issue 23)."""

from __future__ import annotations

import streamlit as st

from dashboard import auth
from services import notifications as notes
from services.access import AccessDenied, Viewer
from services.safe_text import md_text
from store.db import Engine

__all__ = ["notification_preferences"]

SAVED = "notify_saved"


def notification_preferences(engine: Engine, viewer: Viewer) -> None:
    """Show where the person's e-mails go, the kinds they receive, and the last ones sent."""
    try:
        prefs = notes.preferences(engine, viewer)
    except AccessDenied as refusal:
        st.info(md_text(refusal))
        return
    try:
        enabled = notes.smtp_settings().enabled
    except notes.NotificationError as problem:
        st.error(md_text(problem), icon=":material/error:")
        enabled = False
    if not enabled:
        st.info(
            "E-mail notifications are not set up on this deployment (no SMTP server), so "
            "none are sent. Your choices below are kept for when they are.",
            icon=":material/mail_off:",
        )
    st.subheader("E-mails you receive")
    if st.session_state.pop(SAVED, False):
        st.success("Saved your choices.", icon=":material/check_circle:")
    if prefs.address:
        st.caption(f"They go to {md_text(prefs.address)}.")
    else:
        st.warning(
            "You have no e-mail address here, so nothing can be sent to you: enter one below.",
            icon=":material/mail:",
        )
    with st.form("notify_prefs", border=True):
        email = st.text_input(
            "Send them to (leave empty for the address you sign in with)",
            value=prefs.email or "",
            key="notify_email",
            placeholder="name@council.gov.uk",
        )
        wanted = {
            kind: st.checkbox(text, value=kind not in prefs.kinds_off, key=f"notify_kind_{kind}")
            for kind, text in prefs.kinds.items()
        }
        st.caption(
            "Messages name the place, its status and a link, never a child. Actions due and "
            "overdue are sent once each; the digest once a week."
        )
        if st.form_submit_button("Save my choices", type="primary"):
            off = [kind for kind, on in wanted.items() if not on]
            off += [kind for kind in prefs.kinds_off if kind not in prefs.kinds]
            try:
                notes.set_preferences(
                    engine, viewer, email=email, kinds_off=off, origin=auth.origin()
                )
            except notes.NotificationError as problem:
                st.error(md_text(problem), icon=":material/error:")
            else:
                st.session_state[SAVED] = True
                st.rerun()  # the address and choices above, as saved
    sent = notes.recent_for(engine, viewer)
    if not sent.empty:
        st.subheader("The last e-mails to you")
        st.dataframe(
            sent,
            hide_index=True,
            width="stretch",
            key="notify_recent",
            column_config={
                "created_at": st.column_config.DatetimeColumn("Queued", format="D MMM YYYY HH:mm"),
                "subject": "Subject",
                "status": "Status",
            },
        )
