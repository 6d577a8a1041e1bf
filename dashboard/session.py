"""The signed-in viewer for this browser session, and the disclosure threshold for them."""

from __future__ import annotations

from urllib.parse import urlsplit

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from dashboard import auth, loaders
from services.access import Viewer
from services.audience import Audience, threshold

__all__ = [
    "WANTED",
    "current_audience",
    "current_viewer",
    "destination",
    "disclosure_threshold",
    "remember_destination",
]

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
    remember_destination()
    st.switch_page("app.py")


def remember_destination() -> None:
    """Keep the page and query parameters asked for, to open them after sign-in."""
    if WANTED in st.session_state:
        return
    try:
        url = st.context.url
    except (AttributeError, RuntimeError):
        url = None
    path = urlsplit(url).path if isinstance(url, str) else ""
    st.session_state[WANTED] = (path.rstrip("/").rsplit("/", 1)[-1], st.query_params.to_dict())


def destination(pages: list, current: object) -> tuple | None:  # type: ignore[type-arg]
    """Return the ``st.switch_page`` arguments for the page remembered at sign-in, if any.

    ``pages`` are the router's pages and ``current`` the one it chose; the
    remembered page is forgotten once returned.
    """
    remembered = st.session_state.pop(WANTED, None)
    if not remembered:
        return None
    name, params = remembered
    target = next((p for p in pages if p.url_path and p.url_path == name), pages[0])
    if target is current and params == st.query_params.to_dict():
        return None
    return target, params


@st.cache_data(ttl=60, show_spinner=False)
def disclosure_threshold(version: str) -> int:
    """Return the deployment's disclosure threshold k (see ``services.audience.threshold``)."""
    return threshold(loaders.engine())


def current_audience() -> Audience:
    """Return what the signed-in person may be sent (built here, the one place, per run).

    Every read a page makes takes it: the districts, point access, k and exact-or-perturbed.
    """
    return Audience.of(current_viewer(), disclosure_threshold(loaders.data_version()))
