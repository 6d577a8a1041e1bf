"""The signed-in viewer for this browser session, and the disclosure threshold for them."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dashboard import auth, loaders
from store.access import Viewer
from store.disclosure import disclosure_k

__all__ = ["WANTED", "current_viewer", "disclosure_threshold"]

WANTED = "router_wanted_page"


def current_viewer() -> Viewer:
    """Return who is signed in on this session, or stop the page with the sign-in form.

    The router (``dashboard/app.py``) signs people in before any page runs,
    so the fallback only guards a page run on its own. Tests set
    ``at.session_state["viewer"]`` to run a page as a given role.
    """
    viewer = st.session_state.get("viewer")
    if isinstance(viewer, Viewer):
        return viewer
    _through_the_router()
    auth.sign_in_page(loaders.engine(), demo=loaders.demo(loaders.data_version()) is not None)
    st.stop()
    raise AssertionError("st.stop() returned")  # pragma: no cover - st.stop raises


def _through_the_router() -> None:
    """Send someone not signed in from a page opened by its address to the router.

    Until the router first calls ``st.navigation`` in a server process,
    Streamlit runs ``pages/x.py`` on its own for the address ``/x`` (its
    older multipage mode), without the router's sign-in, sidebar and page
    list. The page is remembered and the router (``app.py``) opens it after
    sign-in; from then on every run goes through the router. (AppTest runs
    pages this way on every ``switch_page``; tests set the viewer first.)
    """
    if not getattr(PagesManager, "uses_pages_directory", False):
        return
    ctx = get_script_run_ctx()
    wanted = ctx.page_script_hash if ctx is not None else None
    st.session_state[WANTED] = _page_name(wanted)
    st.switch_page("app.py", query_params=st.query_params.to_dict())


def _page_name(page_script_hash: str | None) -> str | None:
    ctx = get_script_run_ctx()
    if ctx is None or not page_script_hash:
        return None
    page = ctx.pages_manager.get_pages().get(page_script_hash)
    return Path(page["script_path"]).stem if page and page.get("script_path") else None


@st.cache_data(ttl=60, show_spinner=False)
def disclosure_threshold(version: str) -> int:
    """Return the deployment's disclosure threshold k (see ``store.disclosure``)."""
    return disclosure_k(loaders.engine())
