"""The cached loaders are keyed so that the same read is one cache entry, however it is called."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Iterator

import pytest
import streamlit as st

from dashboard import loaders


def _cached_loaders() -> dict[str, object]:
    return {
        name: value
        for name, value in vars(loaders).items()
        if callable(value) and hasattr(value, "clear") and hasattr(value, "__wrapped__")
    }


def test_no_cached_loader_has_a_default_that_a_caller_could_leave_out() -> None:
    """Streamlit keys on the arguments as passed: a left-out default is another entry.

    So the warm-up's ``impact(version)`` did not serve a place panel's
    ``impact(version, 6)``: the first panel of a process measured the impact of every
    place again (12 s on a million incidents).
    """
    found = _cached_loaders()
    assert {"impact", "impact_for", "meeting", "scope_sites"} <= set(found)  # the control
    defaults = {
        name: [p.name for p in inspect.signature(f.__wrapped__).parameters.values()
               if p.default is not inspect.Parameter.empty]
        for name, f in found.items()
    }  # fmt: skip
    assert {name: d for name, d in defaults.items() if d} == {}


def test_a_left_out_default_is_another_cache_entry() -> None:
    """The control for the test above: the behaviour it guards against is Streamlit's."""
    calls: list[int] = []

    @st.cache_data
    def counted(version: str, window: int = 6) -> int:
        calls.append(window)
        return window

    counted.clear()
    counted("v")
    counted("v", 6)
    assert calls == [6, 6]


def test_everyone_who_reads_the_same_districts_shares_one_read_of_sites(
    demo_database, monkeypatch
) -> None:
    """Counts per site are counts before disclosure: a lead's read serves a viewer of the
    same districts (one entry per scope); other districts are another read; a district
    outside the audience's scope is refused before any read."""
    import pytest

    from services import reads
    from services.access import AccessDenied
    from services.audience import Audience
    from tests.dashboard.test_roles import demo_viewer

    read = reads.read_sites
    scopes: list[tuple[str, ...]] = []

    def counted(engine, audience, **kwargs):
        scopes.append(kwargs["districts"])
        return read(engine, audience, **kwargs)

    monkeypatch.setattr(reads, "read_sites", counted)
    lead, viewer, officer = (Audience.of(demo_viewer(r), 5) for r in ("lead", "viewer", "officer"))
    assert lead != viewer and lead.districts == viewer.districts
    version = loaders.data_version()
    loaders.scope_sites.clear()
    try:
        args = ((), (), version, 0, "")
        shown = loaders.map_sites("incidents", lead, (), *args)
        assert loaders.map_sites("incidents", viewer, (), *args).equals(shown)
        assert scopes == [lead.scope(())]
        loaders.map_sites("incidents", officer, (), *args)  # the control: other districts
        assert scopes == [lead.scope(()), officer.scope(())]
        outside = sorted(set(lead.districts) - set(officer.districts))[0]
        with pytest.raises(AccessDenied):
            loaders.map_sites("incidents", officer, (outside,), *args)
        assert len(scopes) == 2
    finally:
        loaders.scope_sites.clear()


@pytest.fixture
def exact_computed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The last months of the exact Gi* months computed (``services.reads.exact_months``),
    in order, with the shared entries (``loaders.emerging_months``) cleared around."""
    import services.reads

    exact = services.reads.exact_months
    computed: list[str] = []

    def counted(sites, grid, **kwargs):
        computed.append(kwargs["last"])
        return exact(sites, grid, **kwargs)

    monkeypatch.setattr(services.reads, "exact_months", counted)
    st.cache_data.clear()
    loaders.emerging_months.clear()
    try:
        yield computed
    finally:
        st.cache_data.clear()
        loaders.emerging_months.clear()


def test_the_meetings_emerging_hot_spots_are_computed_once_for_every_reader_and_period(
    demo_database, exact_computed
) -> None:
    """They depend on neither the reader nor the period's first month: a lead's and a
    viewer's Meetings, for the last 3 and 12 months, compute them once, and the Map's
    month-by-month pictures of the same end month, for both, reuse them; other types are
    another computation (the control)."""
    from datetime import date

    from dashboard.filters import Filters, map_query
    from services.audience import Audience
    from services.reads import DEFAULT_SETTINGS
    from tests.dashboard.test_roles import demo_viewer

    version, today = loaders.data_version(), date.today()
    shown, last = [], ""
    for role in ("lead", "viewer"):
        audience = Audience.of(demo_viewer(role), 5)
        for period in ("quarter", "year"):
            filters, scope = Filters(period=period), audience.scope(())
            choice = loaders.meeting_choice(audience, scope, filters, today, version)
            last = choice[5][1]
            shown.append(loaders.meeting(*choice, framework=False))
    assert exact_computed == [last] and shown[0].emerging == shown[-1].emerging
    assert sum(shown[0].emerging.values()) > 0
    pictures = []
    for role in ("lead", "viewer"):
        audience = Audience.of(demo_viewer(role), 5)
        scope = audience.scope(())
        months = loaders.map_sites("incidents", audience, scope, (), (), version, 0, "")["month"]
        query = map_query(Filters(period="quarter"), scope, date.fromisoformat(f"{last}-28"),
                          months, audience=audience)  # fmt: skip
        assert query.last == last
        pictures.append(loaders.map_monthly(audience, query, DEFAULT_SETTINGS.confidence, version))
    assert exact_computed == [last]
    assert pictures[0].category and pictures[0].months[-1] == last
    assert len(shown[0].emerging_cells) == sum(shown[0].emerging.values())
    lead = Audience.of(demo_viewer("lead"), 5)
    filters = Filters(types=("cse",))
    loaders.meeting(*loaders.meeting_choice(lead, lead.scope(()), filters, today, version),
                    framework=False)  # fmt: skip
    assert exact_computed == [last, last]


def test_the_maps_month_by_month_picture_is_computed_once_for_periods_ending_together(
    demo_database, exact_computed
) -> None:
    """It covers the 12 months to the period's end: the last month, 3 and 12 months end in
    the same month and share one computation, the same picture; a period ending a month
    earlier is another (the control)."""
    from dashboard.filters import Filters, map_query
    from services.audience import Audience
    from services.reads import DEFAULT_SETTINGS
    from tests.dashboard.test_roles import demo_viewer

    version = loaders.data_version()
    latest = loaders.latest_date(version)
    audience = Audience.of(demo_viewer("lead"), 5)
    scope = audience.scope(())
    shown = []
    queries = []
    for period in ("month", "quarter", "year"):
        months = loaders.map_sites("incidents", audience, scope, (), (), version, 0, "")
        query = map_query(Filters(period=period), scope, latest, months["month"])
        queries.append(query)
        shown.append(loaders.map_monthly(audience, query, DEFAULT_SETTINGS.confidence, version))
    assert len({q.first for q in queries}) == 3 and len({q.last for q in queries}) == 1
    assert exact_computed == [queries[0].last]
    for other in shown[1:]:
        assert other.months == shown[0].months and other.category == shown[0].category
        assert other.cells.equals(shown[0].cells)
    earlier = dataclasses.replace(queries[0], first="", last=_month_before(queries[0].last))
    loaders.map_monthly(audience, earlier, DEFAULT_SETTINGS.confidence, version)
    assert exact_computed == [queries[0].last, earlier.last]


def _month_before(month: str) -> str:
    """Return the month before ``"YYYY-MM"``.

    Examples
    --------
    >>> _month_before("2026-01")
    '2025-12'
    """
    year, number = (int(part) for part in month.split("-"))
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"
