"""The database guard: a clear notice while the database is away, then the page again."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError
from streamlit.testing.v1 import AppTest

from dashboard.resilience import MESSAGE, explain
from store.db import DatabaseError, is_unavailable


def flaky_page() -> None:
    """A page whose first two reads fail as when PostgreSQL restarts, then succeed."""
    import streamlit as st
    from sqlalchemy.exc import OperationalError

    from dashboard.resilience import database_guard, reached

    def drop() -> None:
        st.session_state["dropped"] = st.session_state.get("dropped", 0) + 1

    with database_guard(on_outage=drop, wait=0.01):
        tries = st.session_state.get("tries", 0) + 1
        st.session_state["tries"] = tries
        if tries <= 2:
            raise OperationalError(
                "SELECT 1", {}, Exception("server closed the connection unexpectedly")
            )
        reached()
        st.markdown("the page")


def broken_page() -> None:
    """A page with a bug that is not about the connection."""
    from sqlalchemy.exc import IntegrityError

    from dashboard.resilience import database_guard

    with database_guard(wait=0.01):
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))


def test_a_page_says_the_database_is_away_and_comes_back_by_itself():
    at = AppTest.from_function(flaky_page, default_timeout=30).run()
    assert not at.exception
    assert at.session_state["tries"] == 3  # failed twice, ran again by itself
    assert at.session_state["dropped"] == 2  # the pool dropped after each broken connection
    assert [m.value for m in at.markdown] == ["the page"]
    assert not at.warning  # the notice is gone once the page is back
    assert "database_retry_attempts" not in at.session_state


def test_other_errors_are_not_hidden_behind_the_notice():
    at = AppTest.from_function(broken_page, default_timeout=30).run()
    assert at.exception
    assert not at.warning


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (OperationalError("SELECT 1", {}, Exception("connection refused")), True),
        (OperationalError("SELECT 1", {}, Exception("database is locked")), True),
        (IntegrityError("INSERT", {}, Exception("duplicate key")), False),
        (ValueError("a bug"), False),
    ],
    ids=["refused", "locked", "integrity", "bug"],
)
def test_which_errors_mean_unavailable(error, expected):
    assert is_unavailable(error) is expected


def test_a_database_that_could_not_be_opened_counts_when_the_server_is_away():
    refused = DatabaseError("could not be opened")
    refused.__cause__ = OperationalError("connect", {}, Exception("connection refused"))
    assert is_unavailable(refused)
    assert not is_unavailable(DatabaseError("not a valid SQLAlchemy URL"))


def test_the_notice_is_written_for_an_officer():
    text = explain(
        OperationalError("SELECT 1", {}, Exception("terminating connection")), attempt=3, wait=5
    )
    assert text.startswith(f"**{MESSAGE}**")
    assert "every 5 seconds" in text
    assert "you stay signed in" in text
    assert "Try 3 at" in text
    assert "SELECT" not in text  # no SQL or driver detail on screen
