"""Data > Organisations: the list of organisations that own actions (admins, issue 23)."""

from __future__ import annotations

import streamlit as st

from dashboard import auth
from services.access import AccessDenied, Viewer
from services.organisations import (
    OrganisationError,
    add_organisation,
    list_organisations,
    update_organisation,
)
from services.safe_text import md_text
from store.db import Engine

__all__ = ["organisations_admin"]

NOTICE = "orgs_notice"


def organisations_admin(engine: Engine, viewer: Viewer) -> None:
    """Show the list; add, rename, retire or restore an organisation and set its contact."""
    frame = list_organisations(engine)
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        st.success(md_text(notice), icon=":material/check_circle:")
    st.caption(
        "An action's owner is an organisation from this list or a person with an account. "
        "The contact address receives the reminders of the organisation's actions (due "
        "within 7 days, overdue). A retired organisation keeps its actions but takes no new "
        "ones. Every change is in the audit log."
    )
    st.dataframe(
        frame.drop(columns=["id"]),
        hide_index=True,
        width="stretch",
        key="orgs_table",
        column_config={
            "name": "Organisation",
            "contact_email": "Contact for reminders",
            "active": st.column_config.CheckboxColumn("Active"),
            "actions": "Actions owned",
            "updated_by": "Last changed by",
            "updated_at": st.column_config.DatetimeColumn("Last changed", format="D MMM YYYY"),
        },
    )
    add, change = st.columns(2)
    with add.form("org_add", clear_on_submit=True):
        st.subheader("Add an organisation")
        name = st.text_input(
            "Name", key="org_add_name", placeholder="e.g. Stafford Borough Council"
        )
        contact = st.text_input(
            "Contact address for reminders (optional)",
            key="org_add_contact",
            placeholder="licensing@council.gov.uk",
        )
        if st.form_submit_button("Add organisation", type="primary"):
            try:
                add_organisation(engine, viewer, name, contact_email=contact, origin=auth.origin())
            except (OrganisationError, AccessDenied) as error:
                st.error(md_text(error), icon=":material/error:")
            else:
                st.session_state[NOTICE] = f"Added {' '.join(name.split())}."
                st.rerun()  # the table above, with it
    with change:
        st.subheader("Change an organisation")
        names = dict(zip(frame["id"], frame["name"], strict=True))
        chosen = st.selectbox(
            "Organisation",
            list(names),
            format_func=lambda i: names[i],
            index=None,
            placeholder="Choose...",
            key="org_change_id",
        )
        if chosen is None:
            return
        row = frame.set_index("id").loc[chosen]
        with st.form(f"org_change_{chosen}"):
            new_name = st.text_input("Name", value=row["name"], key=f"org_change_name_{chosen}")
            new_contact = st.text_input(
                "Contact address for reminders",
                value=row["contact_email"] or "",
                key=f"org_change_contact_{chosen}",
            )
            active = st.checkbox(
                "Active (uncheck to retire it)",
                value=bool(row["active"]),
                key=f"org_change_active_{chosen}",
            )
            if st.form_submit_button("Save changes", type="primary"):
                try:
                    update_organisation(
                        engine,
                        viewer,
                        int(chosen),
                        name=new_name,
                        contact_email=new_contact,
                        active=active,
                        origin=auth.origin(),
                    )
                except (OrganisationError, AccessDenied) as error:
                    st.error(md_text(error), icon=":material/error:")
                else:
                    st.session_state[NOTICE] = f"Saved the changes to {' '.join(new_name.split())}."
                    st.rerun()
