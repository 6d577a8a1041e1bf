"""Warming the caches: what is warmed is what the pages then find, for every kind of account.

The pages run through AppTest after ``dashboard.warm.warm``; the costly computations are
counted, and a warmed page must not start any of them (a cold one does, so the test can
fail).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import date

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import dashboard.maps
import reports.meeting
import services.reads
from dashboard import loaders, warm
from data.bootstrap import open_database
from services.users import audiences, create_user, list_users, update_user
from tests.dashboard.conftest import APP
from tests.dashboard.test_roles import PAGES, demo_viewer

# Warm-up: every audience's opening views computed, a few minutes; CI runs it.
pytestmark = pytest.mark.slow

COSTLY = {
    services.reads: (
        "flagged_places",
        "hot_cells",
        "exact_months",
        "disclosed_months",
        "read_sites",
    ),
    reports.meeting: ("meeting_figures",),
    dashboard.maps: ("prepare_map",),  # the base map's rendering (loaders.prepared_base_map)
}


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the costly computations started, in order."""
    calls: list[str] = []
    for module, names in COSTLY.items():
        for name in names:
            original = getattr(module, name)

            def counted(*args, __name=name, __original=original, **kwargs):
                calls.append(__name)
                return __original(*args, **kwargs)

            monkeypatch.setattr(module, name, counted)
    return calls


def _page(role: str, page: str, query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["viewer"] = demo_viewer(role)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    if page != "map.py":
        at.switch_page(str(PAGES / page))
        at.run()
    assert not at.exception, at.exception
    return at


def test_the_audiences_are_the_accounts_ways_of_seeing(demo_database) -> None:
    engine = open_database(demo_database)
    try:
        found = audiences(engine)
    finally:
        engine.dispose()
    assert len(found) == len(set(found))
    assert all(v.username == "" and v.role in ("lead", "viewer") for v in found)
    for role in ("lead", "officer", "viewer", "admin"):
        assert demo_viewer(role).for_cache() in found, role
    assert {v.districts for v in found if v.role == "lead"} == {demo_viewer("lead").districts}


#: Officers of one district each: with the demo's three, nine ways of seeing the data, whose
#: 27 preset views and 19 reads of sites are more than the 16 entries a view's cache and the
#: sites' cache once kept (they then pushed out the first audience's while warming the last:
#: CI caught it once other tests had added users).
OFFICERS = {"warm-officer-1": "E07000192", "warm-officer-2": "E07000193",
            "warm-officer-3": "E07000194", "warm-officer-4": "E07000195",
            "warm-officer-5": "E07000196", "warm-officer-6": "E07000198"}  # fmt: skip


@pytest.fixture
def officers_of_one_district(demo_database) -> Iterator[None]:
    """Six more audiences in the demo database while the test runs (inactive after)."""
    engine, admin = open_database(demo_database), demo_viewer("admin")
    try:
        for name, district in OFFICERS.items():
            if name in set(list_users(engine, admin)["username"]):
                update_user(engine, admin, name, active=True)
            else:
                create_user(engine, admin, username=name, display_name=name, role="officer",
                            districts=[district])  # fmt: skip
        assert len(audiences(engine)) >= 9  # 2 reads of sites each, and the impact's: > 16
        yield
    finally:
        for name in OFFICERS:
            update_user(engine, admin, name, active=False)
        engine.dispose()


@pytest.mark.parametrize("role", ["lead", "officer", "viewer"])
@pytest.mark.parametrize("period", ["quarter", "year"])
def test_a_warmed_page_computes_nothing(
    demo_database, officers_of_one_district, computed, role, period
) -> None:
    st.cache_data.clear()
    loaders.prepared_base_map.clear()
    loaders.emerging_months.clear()
    query = {} if period == "quarter" else {"period": period}

    _page(role, "map.py", query)  # cold: the control, so that the test can fail
    cold = {"flagged_places", "hot_cells", "exact_months", "disclosed_months", "prepare_map"}
    assert cold <= set(computed)

    st.cache_data.clear()
    loaders.prepared_base_map.clear()
    loaders.emerging_months.clear()
    version = loaders.data_version()
    assert warm.warm(version, date.today()) == len(warm.PRESETS) * len(audiences(loaders.engine()))
    computed.clear()
    _page(role, "map.py", query)
    _page(role, "meeting.py", query)
    assert computed == []


def test_warming_is_switched_off_by_the_environment(monkeypatch) -> None:
    monkeypatch.setenv(warm.ENVIRONMENT, "0")
    warm.start.clear()
    try:
        assert warm.start() is None
    finally:
        warm.start.clear()


def _resident_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096 / 2**20


def test_memory_freed_by_a_view_is_handed_back() -> None:
    """Many freed blocks in the middle of the heap stay resident until released; the
    control is the same blocks before the release."""
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("malloc_trim is glibc's")
    blocks = [bytes(1000) + bytes([i % 256]) for i in range(250_000)]  # about 250 MB
    keep = blocks[-1]  # the heap's top stays in use, so the rest cannot simply shrink it
    del blocks
    before = _resident_mb()
    assert warm.release_memory()
    assert _resident_mb() < before - 100  # before it, the freed blocks were still resident
    assert keep[-1] == 249_999 % 256


def test_a_failed_read_ahead_is_logged_and_the_views_read_for_themselves(
    demo_database, monkeypatch, caplog
) -> None:
    """The widest audience's counts are read ahead in a thread while the others are
    warmed; when that read fails, the warm-up says so and still warms every view, reading
    the counts itself. Control: the read was tried, in the read-ahead thread."""
    tried: list[str] = []
    original = loaders.map_sites

    def failing(*args, **kwargs):
        if threading.current_thread().name == "safer-spaces-read-ahead":
            tried.append(args[0])
            raise ConnectionError("the database went away")
        return original(*args, **kwargs)

    monkeypatch.setattr(loaders, "map_sites", failing)
    st.cache_data.clear()
    with caplog.at_level(logging.WARNING, logger=warm.__name__):
        views = warm.warm(loaders.data_version(), date.today())
    assert tried == ["incidents"]
    assert "Could not read the counts ahead" in caplog.text
    assert views == len(warm.PRESETS) * len(audiences(loaders.engine()))
