"""Keeping the app up when the database goes away: a clear message, then retries.

When PostgreSQL restarts, fails over or the network drops, a page's next read fails
with a connection error. The router (``dashboard/app.py``) runs every page inside
:func:`database_guard`: the page says "The database is unavailable; retrying…", the
engine's pool of connections is dropped, and the page runs again every few seconds until
the database answers. The browser session (who is signed in, the filters) is kept, so
nobody restarts the app or signs in again. Errors that retrying would not mend (a
constraint broken, a bug) are not caught.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import streamlit as st

from store.db import is_driver_error, is_unavailable

__all__ = ["MESSAGE", "RETRY_SECONDS", "database_guard", "explain", "reached"]

#: The first words of the notice, the same on every page.
MESSAGE = "The database is unavailable; retrying…"
#: Seconds between tries while the database is away.
RETRY_SECONDS = 5.0
ATTEMPTS_KEY = "database_retry_attempts"

log = logging.getLogger(__name__)


def explain(error: BaseException, *, attempt: int, wait: float) -> str:
    """Return the notice shown while the database is away, for a council officer.

    Examples
    --------
    >>> from sqlalchemy.exc import OperationalError
    >>> text = explain(OperationalError("SELECT", {}, Exception("database is locked")),
    ...                attempt=2, wait=5)
    >>> "busy" in text and "Try 2 at" in text
    True
    """
    busy = "database is locked" in str(error)
    reason = (
        "The database is busy with another change (a large import, perhaps)."
        if busy
        else "Safer Spaces cannot reach its database just now (it may be restarting)."
    )
    return (
        f"**{MESSAGE}** {reason} This page will try again every {wait:.0f} seconds and carry "
        "on by itself when the database is back: you stay signed in, and everything saved "
        "before is kept. Anything you were saving when this showed was not saved: check it "
        "and save it again once the page is back. If this lasts more than a few minutes, "
        f"tell your system administrator. (Try {attempt} at {datetime.now():%H:%M:%S}.)"
    )


def reached() -> None:
    """Note that the database answered: the next outage counts its attempts from one."""
    st.session_state.pop(ATTEMPTS_KEY, None)


@contextmanager
def database_guard(
    *, on_outage: Callable[[], None] | None = None, wait: float = RETRY_SECONDS
) -> Iterator[None]:
    """Run a page; if the database is unavailable, say so, wait, and run it again.

    Parameters
    ----------
    on_outage
        Called once per failed try when a connection broke (not when none could be
        opened): drops the engine's pooled connections, so the next try opens new ones.
    wait
        Seconds before the next try.
    """
    slot = st.empty()  # the notice always takes this first place, never a second copy below
    try:
        yield
    except Exception as error:
        if not is_unavailable(error):
            raise
        attempt = int(st.session_state.get(ATTEMPTS_KEY, 0)) + 1
        st.session_state[ATTEMPTS_KEY] = attempt
        log.warning("database unavailable (attempt %d): %s", attempt, _first_line(error))
        slot.warning(explain(error, attempt=attempt, wait=wait), icon=":material/cloud_off:")
        if on_outage is not None and is_driver_error(error):
            on_outage()
        time.sleep(wait)
        st.rerun()


def _first_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error.__cause__ or error
    lines = str(orig).strip().splitlines()
    return lines[0] if lines else type(orig).__name__
