"""Safer Spaces: the router. Page setup, the shared sidebar, then the chosen page."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


from dashboard import (  # noqa: E402
    auth,
    loaders,
    resilience,
    session,
    sidebar,
    timings,
    uploads,
    warm,
)
from services.access import AccessDenied  # noqa: E402
from services.safe_text import md_text  # noqa: E402
from services.users import demo_accounts_enabled  # noqa: E402
from store.db import DatabaseError, Engine, is_unavailable, ping  # noqa: E402

PAGES = Path(__file__).parent / "pages"

st.set_page_config(page_title="Safer Spaces", page_icon="🛡️", layout="wide")


def _drop_connections() -> None:
    """Close the pooled connections after a connection broke (the next try opens new ones)."""
    loaders.engine().dispose()


def _open() -> Engine:
    """Return the engine; a database that cannot be opened for good stops the app here."""
    try:
        return loaders.engine()
    except DatabaseError as error:
        if is_unavailable(error):
            raise  # the server is away: database_guard says so and tries again
        st.error(f"**The database cannot be opened.** {error}", icon=":material/error:")
        st.stop()
        raise


def run() -> None:
    """Sign in, then run the chosen page (the whole script, inside the database guard)."""
    engine = _open()
    ping(engine)  # every run: a database that went away is noticed at once, not half-way
    resilience.reached()
    warm.start()  # once per process: the opening views computed before they are asked for
    uploads.sweep_once()  # once per process: uploads a killed process left behind
    version = loaders.data_version()
    demo = loaders.demo(version)
    try:
        viewer = auth.signed_in_viewer(engine)
    except AccessDenied as refusal:
        st.error(md_text(refusal), icon=":material/block:")
        st.stop()
        return

    if viewer is None:
        # The sign-in page whatever the address; the page and filters asked for are kept
        # for after sign-in, and no page list is shown.
        session.remember_destination()

        def signing_in() -> None:
            """Show the sign-in page (under every page's address)."""
            auth.sign_in_page(engine, demo=demo is not None)

        st.navigation(
            [
                st.Page(signing_in, title="Sign in", url_path=name, default=name == "sign-in")
                for name in ("sign-in", "places", "assessments", "meeting", "mace", "data")
            ],
            position="hidden",
        ).run()
        st.stop()
    pages = [
        st.Page(PAGES / "map.py", title="Map", icon=":material/map:", default=True),
        st.Page(PAGES / "places.py", title="Places", icon=":material/place:"),
        st.Page(PAGES / "assessments.py", title="Assessments", icon=":material/assignment:"),
        st.Page(PAGES / "meeting.py", title="Meeting", icon=":material/co_present:"),
        st.Page(PAGES / "mace.py", title="MACE", icon=":material/hub:", url_path="mace"),
    ]
    if viewer.role in ("lead", "admin"):
        pages.append(st.Page(PAGES / "data.py", title="Data", icon=":material/database:"))
    page = st.navigation(pages)
    timings.label(page.title)
    destination = session.destination(pages, page)
    if destination is not None:
        st.switch_page(destination[0], query_params=destination[1])
    presenting = st.session_state.get("presenting") and page.title == "Meeting"
    if demo is not None and not presenting:
        accounts = (
            " **Demo accounts are switched on**: anyone can sign in as lead, officer, viewer "
            "or admin (switch them off with SAFER_SPACES_DEMO_ACCOUNTS=0)."
            if demo_accounts_enabled()
            else ""
        )
        st.warning(
            "**Demonstration data.** Every incident, referral, place name and assessment here "
            f"is synthetic (seed {demo['seed']}, data to {demo['end']}); district outlines "
            f"are approximate, built from the ONS Postcode Directory.{accounts}",
            icon=":material/science:",
        )

    auth.render_session(engine, viewer)
    sidebar.render(version, viewer)

    try:
        page.run()
    finally:
        auth.drawn()


with timings.timed(), resilience.database_guard(on_outage=_drop_connections):
    run()
