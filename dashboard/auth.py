"""Signing in and out: the organisation's sign-in (OpenID Connect) or the local form.

When ``.streamlit/secrets.toml`` has an ``[auth]`` section, people sign in with
their organisation's account through Streamlit (``st.login``; Microsoft Entra
ID for most councils) and are matched to a Safer Spaces user by e-mail
address. Otherwise the local form asks for a username and password, checked
by ``services.users.authenticate``.

The signed-in ``Viewer`` lives in ``st.session_state["viewer"]`` with the time
of the last activity and the person's session epoch at sign-in. A session idle for
longer than the configured time (30 minutes by default) is ended and the sign-in
page says why: a timer fragment checks every few seconds, so the screen clears by
itself, not only at the next click. Signing out moves the person's epoch on in the
database (``services.users.end_sessions``), which ends every other session of theirs,
in any browser or app process, at its next run or timer check.

A reload keeps a local sign-in (issue 23): the app keeps a signed, expiring cookie
(``dashboard.session_cookie``) that names the person and their session epoch, refreshed
as they work; a reload within the idle limit and with no sign-out since resumes the
session. With the organisation's sign-in, Streamlit's own identity cookie does this.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import streamlit as st

from dashboard import loaders, session_cookie
from services.access import ROLES, AccessDenied, Viewer
from services.safe_text import md_text
from services.users import (
    DEMO_ACCOUNTS,
    DEMO_PASSWORD,
    SignInError,
    authenticate,
    demo_accounts_enabled,
    end_sessions,
    ensure_demo_users,
    session_epoch,
    sign_in_policy,
    viewer_for,
    viewer_for_identity,
)
from store.audit import chosen_sign_outs, log_event
from store.db import Engine

__all__ = [
    "VIEWER_KEY",
    "active",
    "drawn",
    "idle_phrase",
    "is_expired",
    "oidc_configured",
    "origin",
    "render_session",
    "sign_in_page",
    "sign_out",
    "signed_in_viewer",
]

VIEWER_KEY = "viewer"
ACTIVITY_KEY = "auth_last_activity"
NOTICE_KEY = "auth_notice"
EPOCH_KEY = "auth_epoch"
SIGN_OUT_KEY = "sign_out"
COOKIE_ISSUED = "auth_cookie_issued"
ENDED_ELSEWHERE = "You signed out in another window, so this one has ended too. Sign in again."


def origin() -> str | None:
    """Return where this browser session comes from (its IP address), for the audit log."""
    try:
        address = st.context.ip_address
    except (AttributeError, RuntimeError):
        return None
    return address[:100] if isinstance(address, str) else None


def oidc_configured() -> bool:
    """Return True when ``.streamlit/secrets.toml`` has an ``[auth]`` section."""
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, KeyError, RuntimeError, st.errors.StreamlitAPIException):
        return False


def is_expired(last_activity: float | None, now: float, idle_minutes: float) -> bool:
    """Return True when a session has been idle for longer than ``idle_minutes``.

    Examples
    --------
    >>> is_expired(0.0, 29 * 60, 30), is_expired(0.0, 31 * 60, 30), is_expired(None, 1e9, 30)
    (False, True, False)
    """
    return last_activity is not None and now - last_activity > idle_minutes * 60


def _forget(notice: str | None = None) -> None:
    """Drop everything this session knew, keeping only a notice for the sign-in page."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if notice:
        st.session_state[NOTICE_KEY] = notice


def sign_out(engine: Engine, viewer: Viewer, *, reason: str = "signed out") -> None:
    """End the session: audit it, forget the viewer and the filters, end the OIDC login.

    Signing out (not a time-out) ends every other session of the same person too. With
    the organisation's sign-in, both end this browser's identity cookie (``st.logout``).
    """
    if reason == "signed out":
        end_sessions(engine, viewer.username)
    log_event(
        engine,
        actor=viewer.username,
        action="sign out",
        detail={"reason": reason},
        origin=origin(),
    )
    notice = (
        "You have signed out."
        if reason == "signed out"
        else (
            f"Your session ended after {idle_phrase(sign_in_policy().idle_minutes)} without "
            "activity. Sign in again to carry on."
        )
    )
    _forget(notice)
    if oidc_configured():
        # Streamlit's identity cookie would sign a timed-out person straight back in at
        # the next run or reload: it goes too, so the organisation's sign-in is asked again
        st.logout()


def _oidc_viewer(engine: Engine) -> Viewer | None:
    """Return the viewer for the organisation's signed-in user, or None if not signed in."""
    if not st.user.get("is_logged_in", False):
        return None
    claims: Mapping[str, Any] = st.user.to_dict()
    if _signed_out_since(engine, claims):
        st.session_state[NOTICE_KEY] = ENDED_ELSEWHERE
        return None
    return viewer_for_identity(engine, claims, origin())


def _signed_out_since(engine: Engine, claims: Mapping[str, Any]) -> bool:
    """Return True when the person signed out (anywhere) after this identity was issued.

    Streamlit's identity cookie outlives a sign-out in another browser; the ID token's
    ``iat`` (issued at) against the audit log's sign-outs ends it there too.
    """
    issued = claims.get("iat")
    address = next(
        (
            claims[n]
            for n in ("email", "preferred_username", "upn")
            if isinstance(claims.get(n), str)
        ),
        None,
    )
    if not isinstance(issued, int | float) or address is None:
        return False
    rows = chosen_sign_outs(engine, address.strip().lower())
    return any(at.timestamp() > issued + 1 for at in rows)


def signed_in_viewer(engine: Engine) -> Viewer | None:
    """Return the session's viewer, or None when nobody is signed in or the session expired.

    Each call counts as activity. An expired session is signed out (and
    audited) and leaves a notice for the sign-in page.

    Raises
    ------
    AccessDenied
        When the organisation's sign-in names a person with no account, role
        or districts here.
    """
    viewer = st.session_state.get(VIEWER_KEY)
    now = time.time()
    if viewer is not None:
        idle = sign_in_policy().idle_minutes
        if is_expired(st.session_state.get(ACTIVITY_KEY), now, idle):
            # a click on "Sign out" is one, however long the screen was left: it ends the
            # person's other windows too, which a time-out does not
            clicked = st.session_state.get(SIGN_OUT_KEY) is True
            sign_out(engine, viewer, reason="signed out" if clicked else "timed out")
            return None
        if _ended_elsewhere(engine, viewer):
            log_event(
                engine,
                actor=viewer.username,
                action="sign out",
                detail={"reason": "signed out in another session"},
                origin=origin(),
            )
            _forget(ENDED_ELSEWHERE)
            return None
        st.session_state[ACTIVITY_KEY] = now
        return viewer
    if oidc_configured():
        viewer = _oidc_viewer(engine)
        if viewer is not None:
            _start(engine, viewer)
        return viewer
    return _from_cookie(engine)


def _start(engine: Engine, viewer: Viewer) -> None:
    """Keep a newly signed-in viewer with the time and their session epoch."""
    st.session_state.pop(NOTICE_KEY, None)
    st.session_state[VIEWER_KEY] = viewer
    st.session_state[ACTIVITY_KEY] = time.time()
    st.session_state[EPOCH_KEY] = session_epoch(engine, viewer.username)


# Stay signed in (issue 23): the signed session cookie of the local sign-in -----------------


def _cookie_value() -> str | None:
    try:
        value = st.context.cookies.get(session_cookie.COOKIE)
    except (AttributeError, RuntimeError):
        return None
    return value if isinstance(value, str) else None


def _from_cookie(engine: Engine) -> Viewer | None:
    """Return the viewer a valid session cookie names (a reload), or None.

    The cookie must be correctly signed, issued within the idle limit and carry the
    person's current session epoch (no sign-out since); the account must still be
    active with a role and districts. Resuming is audited.
    """
    idle = sign_in_policy().idle_minutes
    claim = session_cookie.read(_cookie_value(), key=session_cookie.secret(), max_age=idle * 60)
    if claim is None or session_epoch(engine, claim.username) != claim.epoch:
        return None
    if claim.username in DEMO_ACCOUNTS and not demo_accounts_enabled():
        return None
    try:
        viewer = viewer_for(engine, claim.username)
    except AccessDenied:
        return None
    log_event(
        engine,
        actor=viewer.username,
        action="resume session",
        detail={"method": "session cookie"},
        origin=origin(),
    )
    st.session_state[VIEWER_KEY] = viewer
    st.session_state[ACTIVITY_KEY] = time.time()
    st.session_state[EPOCH_KEY] = claim.epoch
    return viewer


def _keep_cookie(viewer: Viewer) -> None:
    """Issue a fresh session cookie now and then, so it lasts the idle limit after activity."""
    if oidc_configured():  # Streamlit's own identity cookie keeps the organisation's sign-in
        return
    idle = sign_in_policy().idle_minutes
    now = time.time()
    if now - st.session_state.get(COOKIE_ISSUED, 0.0) < watch_interval(idle):
        return
    epoch = st.session_state.get(EPOCH_KEY)
    if epoch is None:
        return
    token = session_cookie.issue(viewer.username, epoch, key=session_cookie.secret())
    st.session_state[COOKIE_ISSUED] = now
    st.html(session_cookie.set_cookie_script(token, int(idle * 60)), unsafe_allow_javascript=True)


def _drop_cookie() -> None:
    """Clear this browser's session cookie (on the sign-in page: nobody is signed in here)."""
    if _cookie_value() is not None or NOTICE_KEY in st.session_state:
        st.html(session_cookie.set_cookie_script(None, 0), unsafe_allow_javascript=True)


def _ended_elsewhere(engine: Engine, viewer: Viewer) -> bool:
    """Return True when the person signed out in another session since this one began."""
    epoch = st.session_state.get(EPOCH_KEY)
    return epoch is not None and session_epoch(engine, viewer.username) != epoch


def _watch(engine: Engine) -> None:
    """Timer check (a fragment): end the screen of an idle or signed-out-elsewhere session.

    It counts as no activity; when the session is over it reruns the whole app, whose
    sign-in check then ends it and clears the screen.
    """
    viewer = st.session_state.get(VIEWER_KEY)
    if viewer is not None and _over(engine, viewer):
        st.rerun(scope="app")


def _over(engine: Engine, viewer: Viewer) -> bool:
    """Return True when this session is idle past the limit or was ended elsewhere."""
    idle = sign_in_policy().idle_minutes
    expired = is_expired(st.session_state.get(ACTIVITY_KEY), time.time(), idle)
    return expired or _ended_elsewhere(engine, viewer)


def idle_phrase(idle_minutes: float) -> str:
    """Return the idle limit as words: "30 minutes", "1 minute", "0.5 minutes".

    Examples
    --------
    >>> idle_phrase(30), idle_phrase(1), idle_phrase(0.5)
    ('30 minutes', '1 minute', '0.5 minutes')
    """
    return f"{idle_minutes:g} minute" + ("" if idle_minutes == 1 else "s")


def active(engine: Engine) -> None:
    """Count a click inside a fragment (the Map's explorer) as activity.

    A fragment's rerun does not pass through the sign-in check; an expired or ended
    session reruns the whole app instead, whose check then ends it.
    """
    viewer = st.session_state.get(VIEWER_KEY)
    if viewer is None or not _fragment_run():  # a whole run was checked at its start
        return
    if _over(engine, viewer):
        st.rerun(scope="app")
    st.session_state[ACTIVITY_KEY] = time.time()


def _fragment_run() -> bool:
    """Return True when only fragments are running (a click inside one), not the app."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    return bool(context is not None and context.fragment_ids_this_run)


def drawn() -> None:
    """Start the idle clock when a run has drawn the screen, not when it began.

    Waiting for a slow page is not idleness: a page that took longer than the idle
    limit to draw must not end the session at the person's next click.
    """
    if VIEWER_KEY in st.session_state:
        st.session_state[ACTIVITY_KEY] = time.time()


def watch_interval(idle_minutes: float) -> float:
    """Return the seconds between timer checks: a tenth of the idle limit, 2 s to 30 s.

    Examples
    --------
    >>> watch_interval(30), watch_interval(0.2), watch_interval(1)
    (30.0, 2.0, 6.0)
    """
    return float(min(30.0, max(2.0, idle_minutes * 6)))


@st.cache_resource(show_spinner=False)
def _demo_accounts_ready(url: str) -> bool:
    """Add the demo accounts to a demo database built before sign-in existed (once)."""
    ensure_demo_users(loaders.engine())
    return True


def _demo_accounts_note() -> str:
    lines = [
        f"- **{name}**: {ROLES[account['role']]}"
        + (
            f" ({account['organisation']}: Cannock Chase, Stafford and Tamworth)"
            if account["districts"]
            else ""
        )
        for name, account in DEMO_ACCOUNTS.items()
    ]
    return (
        f"**Demo accounts** (password `{DEMO_PASSWORD}`): each shows what that role sees.\n\n"
        + "\n".join(lines)
    )


def sign_in_page(engine: Engine, *, demo: bool) -> None:
    """Draw the sign-in page; on success store the viewer and rerun into the app.

    Parameters
    ----------
    engine
        The database.
    demo
        True when the database holds the synthetic demo: the demo accounts
        are then added if missing and named here (unless switched off).
    """
    st.title("Safer Spaces")
    st.caption("Places where children are at risk of exploitation, and what is being done.")
    _drop_cookie()
    # kept until someone signs in, so that a rerun of this page does not take it away
    notice = st.session_state.get(NOTICE_KEY)
    if notice:
        st.info(notice, icon=":material/logout:")
    if oidc_configured():
        st.button(
            "Sign in with your organisation",
            key="signin_oidc",
            type="primary",
            on_click=st.login,
        )
        return
    with st.form("sign_in", border=True, width=420):
        username = st.text_input("Username", key="signin_username", autocomplete="username")
        password = st.text_input(
            "Password", type="password", key="signin_password", autocomplete="current-password"
        )
        submitted = st.form_submit_button("Sign in", type="primary", key="signin_submit")
    if submitted:
        try:
            viewer = _authenticate(engine, username, password)
        except (SignInError, AccessDenied) as error:
            st.error(md_text(error), icon=":material/lock:")
        else:
            _start(engine, viewer)
            st.rerun()
    if demo and demo_accounts_enabled():
        _demo_accounts_ready(str(engine.url))
        st.info(_demo_accounts_note(), icon=":material/science:")


def _authenticate(engine: Engine, username: str, password: str) -> Viewer:
    with st.spinner("Checking..."):
        return authenticate(engine, username, password, origin())


def render_session(engine: Engine, viewer: Viewer) -> None:
    """Show who is signed in, with their role, and a "Sign out" button in the sidebar."""
    with st.sidebar:
        name = viewer.display_name or viewer.username
        st.markdown(f"**{md_text(name)}**  \n{ROLES[viewer.role]}")
        if viewer.organisation:
            st.caption(md_text(viewer.organisation))
        if st.button("Sign out", key=SIGN_OUT_KEY, icon=":material/logout:"):
            sign_out(engine, viewer)
            if oidc_configured():
                # st.logout's redirect is queued for the browser: a rerun now would clear
                # the queue before it is sent, so the page would stay where it is
                st.stop()
            st.rerun()
        st.fragment(_watch, run_every=watch_interval(sign_in_policy().idle_minutes))(engine)
        _keep_cookie(viewer)
