"""The signed-in viewer for this browser session."""

from __future__ import annotations

import streamlit as st

from dashboard import loaders
from store.access import Viewer

__all__ = ["current_viewer"]


def current_viewer() -> Viewer:
    """Return who is signed in on this session.

    Until sign-in lands, the demo runs as a safeguarding lead over every district.
    """
    viewer = st.session_state.get("viewer")
    if viewer is None:
        codes = tuple(loaders.districts(loaders.data_version())["code"])
        viewer = Viewer("demo.lead", "lead", codes, "Staffordshire County Council", "Demo lead")
    return viewer
