"""Safer Spaces: the router. Page setup, the shared sidebar, then the chosen page."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dashboard import loaders, sidebar  # noqa: E402
from store.db import DatabaseError  # noqa: E402

PAGES = Path(__file__).parent / "pages"

st.set_page_config(page_title="Safer Spaces", page_icon="🛡️", layout="wide")

try:
    loaders.engine()
    version = loaders.data_version()
except DatabaseError as error:
    st.error(f"**The database cannot be opened.** {error}", icon=":material/error:")
    st.stop()

page = st.navigation(
    [
        st.Page(PAGES / "map.py", title="Map", icon=":material/map:", default=True),
        st.Page(PAGES / "places.py", title="Places", icon=":material/place:"),
        st.Page(PAGES / "assessments.py", title="Assessments", icon=":material/assignment:"),
        st.Page(PAGES / "meeting.py", title="Meeting", icon=":material/co_present:"),
        st.Page(PAGES / "data.py", title="Data", icon=":material/database:"),
    ]
)
demo = loaders.demo(version)
if demo is not None:
    st.warning(
        "**Demonstration data.** Every incident, referral, place name and assessment here is "
        f"synthetic (seed {demo['seed']}, data to {demo['end']}); district outlines are "
        "approximate, built from the ONS Postcode Directory.",
        icon=":material/science:",
    )

sidebar.render(version)

page.run()
