"""Data > Settings: every setting of the deployment, and the database ones an admin changes.

The deployment settings (environment and ``.streamlit/secrets.toml``) are listed with
whether each is set, never their values (a database URL holds a password, the pseudonym
key is a secret). The database settings are changed here (``services.settings_admin``).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from config import settings
from services.access import AccessDenied, Viewer
from services.safe_text import md_text
from services.settings_admin import SettingsError, current, save
from store.db import Engine

__all__ = ["settings_tab"]


def settings_tab(engine: Engine, viewer: Viewer) -> list[str]:
    """Draw the Settings tab; return the names of the settings just changed (if any)."""
    st.caption(
        "Deployment settings are set by whoever runs the app (environment or "
        ".streamlit/secrets.toml; see the README). Values are not shown here."
    )
    st.dataframe(
        pd.DataFrame(
            {
                "setting": [s.name for s in settings.SETTINGS],
                "environment variable": [s.env for s in settings.SETTINGS],
                "secrets key": [s.secret or "" for s in settings.SETTINGS],
                "set": ["yes" if settings.raw(s.name) else "default" for s in settings.SETTINGS],
                "what it does": [s.help for s in settings.SETTINGS],
            }
        ),
        hide_index=True,
        width="stretch",
        key="settings_deployment",
    )
    st.subheader("Held in the database")
    now = current(engine)
    helps = {s.name: s.help for s in settings.DATABASE_SETTINGS}
    with st.form("settings_form"):
        k = st.number_input(
            "disclosure threshold k", 2, 50, int(now["k"]), help=helps["k"], key="settings_k"
        )
        precision = st.selectbox(
            "date precision",
            ["day", "week", "month"],
            index=["day", "week", "month"].index(str(now["date_precision"])),
            help=helps["date_precision"],
            key="settings_date_precision",
        )
        metres = {
            name: st.number_input(
                name.replace("_", " ") + " (metres)",
                0.0,
                5000.0,
                float(now[name]),
                step=10.0,
                help=helps[name],
                key=f"settings_{name}",
            )
            for name in ("cell_size", "place_radius", "snap_to_place", "link_radius")
        }
        submitted = st.form_submit_button("Save settings")
    if not submitted:
        return []
    try:
        changed = save(engine, viewer, {"k": int(k), "date_precision": precision, **metres})
    except (SettingsError, AccessDenied) as error:
        st.error(md_text(error), icon=":material/error:")
        return []
    if changed:
        st.success("Saved: " + ", ".join(changed) + ". The change is in the audit log.")
    else:
        st.info("Nothing changed.")
    return changed
