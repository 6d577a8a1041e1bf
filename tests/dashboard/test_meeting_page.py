"""The Meeting page through AppTest: every slide, disclosure, and the pack against the screen.

The pack is made here from the stored data by the same public functions the page calls
(``reports.meeting`` and ``reports.pack``), and every number of its CSV must be a number on
the screen of its slide; its PDF and HTML are read back for the same numbers.
"""

from __future__ import annotations

import io
import re
from datetime import date

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.filters import Filters
from data.bootstrap import open_database
from geo.grid import build_grid
from reports import pack
from reports.meeting import SLIDES, complete_month_end, meeting_figures, read_inputs
from services.audience import Audience
from services.safe_text import plain_text
from store import queries
from tests.dashboard.conftest import APP
from tests.dashboard.test_roles import PAGES, demo_viewer

SMALL = re.compile(r"^[1-4]$")


def _meeting(role: str, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["viewer"] = demo_viewer(role)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    at.switch_page(str(PAGES / "meeting.py"))
    at.run()
    assert not at.exception, at.exception
    return at


def _next(at: AppTest) -> AppTest:
    [button] = [b for b in at.button if b.label == "Next"]
    button.click().run()
    assert not at.exception, at.exception
    return at


def _screen(at: AppTest) -> set[str]:
    """Every number-like thing on the slide: metric values and changes, table cells, text."""
    shown: set[str] = set()
    for metric in at.metric:
        shown.add(str(metric.value))
        if metric.delta:
            shown.add(str(metric.delta).split(" on ")[0])
    for table in at.table:
        frame = table.value
        frame = frame.data if hasattr(frame, "data") else frame  # a Styler
        shown.update(plain_text(str(v)) for v in frame.to_numpy().ravel())  # drawn as text
    return shown


def _slides(at: AppTest) -> dict[str, set[str]]:
    seen = {}
    for number, (key, title) in enumerate(SLIDES):
        assert [h.value for h in at.header] == [title]
        assert f"**{number + 1} / {len(SLIDES)}**" in " ".join(m.value for m in at.markdown)
        seen[key] = _screen(at)
        if number < len(SLIDES) - 1:
            _next(at)
    return seen


def _figures(url: str, role: str, filters: Filters, k: int = 5):
    engine = open_database(url)
    districts = queries.load_districts(engine)
    viewer = demo_viewer(role)
    scope = viewer.scope(filters.districts)
    first, last = filters.months(complete_month_end(engine))
    inputs = read_inputs(
        engine,
        scope,
        grid=build_grid(districts.loc[districts["code"].isin(scope)], cell_size=250),
        district_names=dict(zip(districts["code"], districts["name"], strict=True)),
        audience=Audience.of(viewer, k),
    )
    figures = meeting_figures(
        inputs, first=first, last=last, today=date.today(), audience=Audience.of(viewer, k)
    )
    return figures, districts.loc[districts["code"].isin(scope)]


def test_the_meeting_steps_through_every_slide_and_stops_at_the_ends(demo_database):
    at = _meeting("lead")
    assert [t.value for t in at.title] == ["Steering group summary"]
    previous = next(b for b in at.button if b.label == "Previous")
    assert previous.disabled
    _slides(at)
    assert next(b for b in at.button if b.label == "Next").disabled
    assert at.download_button[0].label.startswith("Download the performance framework")


@pytest.mark.slow  # the whole pack, built and read back, per role
@pytest.mark.parametrize("role", ["viewer", "lead"])
def test_every_number_in_the_pack_is_the_number_on_the_screen(demo_database, role):
    from pypdf import PdfReader

    screen = _slides(_meeting(role))
    figures, districts = _figures(demo_database, role, Filters())
    csv = pd.read_csv(io.BytesIO(pack.pack_csv(figures)), dtype=str, keep_default_na=False)
    assert len(csv) > 100
    for row in csv.itertuples():
        assert row.value in screen[row.slide], (row.slide, row.measure, row.period, row.value)

    deck = pack.slides(figures, districts)
    context = pack.PackContext("Steering group", "All", "to Oct", "Synthetic", role, "now")
    reader = PdfReader(io.BytesIO(pack.pack_pdf(figures, context, deck)))
    text = " ".join(p.extract_text() for p in reader.pages)
    page = pack.pack_html(figures, context, deck)
    for fig in figures.headline:
        assert f"{fig.label}\n{fig.value}" in "\n".join(p.extract_text() for p in reader.pages)
        assert f'<div class="value">{fig.value}</div>' in page
    for row in pack.framework_table(figures).itertuples(index=False):
        assert " ".join(str(v) for v in row[:4]) in text, row
    about_children = (
        csv["slide"].isin(["trends", "decisions"])
        | csv["measure"].str.contains(r"^(?:Incidents|Referrals)$|\((?:incidents|referrals)\)")
        | (csv["slide"].eq("framework") & csv["measure"].isin(["incidents", "referrals"]))
    )
    assert about_children.sum() > 50
    small = [v for v in csv.loc[about_children, "value"] if SMALL.match(v)]
    if role == "viewer":
        assert not small, "a small count of incidents or referrals in the pack"


def test_a_viewer_sees_no_small_counts_on_any_slide(demo_database):
    query = {"period": "month", "districts": "E07000196"}
    viewer = _slides(_meeting("viewer", query))
    lead = _slides(_meeting("lead", query))
    small = {key: [v for v in values if SMALL.match(v)] for key, values in viewer.items()}
    # counts of incidents are hidden; the partnership's own work (places, actions) is not
    assert not small["headline"] and not small["by_type"] and not small["monthly"], small
    children = ("headline", "by_type", "monthly")
    assert any(SMALL.match(v) for key in children for v in lead[key]), "nothing to hide"
    assert "<5" in viewer["headline"] | viewer["by_type"] | viewer["monthly"]


def test_a_period_with_no_incidents_shows_no_incidents_slides(demo_database):
    at = _meeting("lead", {"period": "custom", "start": "2001-01-01", "end": "2001-03-31"})
    assert "No incidents in this period" in " ".join(m.value for m in at.markdown)
    _next(at)
    _next(at)
    assert "No incidents in the 12 months" in " ".join(m.value for m in at.markdown)
    assert not at.get("imgs")
    for _ in SLIDES[3:]:
        _next(at)


def test_full_screen_hides_the_sidebar_and_leaving_brings_it_back(demo_database):
    at = _meeting("viewer")
    assert not any("stSidebar" in h.proto.body for h in at.get("html"))
    next(b for b in at.button if b.label == "Present full screen (F)").click().run()
    assert not at.exception, at.exception
    assert any("stSidebar" in h.proto.body for h in at.get("html"))
    assert any("requestFullscreen" in h.proto.body for h in at.get("html"))
    assert not at.title
    next(b for b in at.button if b.label == "Leave full screen (Esc)").click().run()
    assert not any("stSidebar" in h.proto.body for h in at.get("html"))
    assert [t.value for t in at.title] == ["Steering group summary"]


def test_export_pack_offers_the_three_files(demo_database):
    at = _meeting("viewer")
    next(b for b in at.button if b.label == "Export pack").click().run()
    assert not at.exception, at.exception
    labels = [b.label for b in at.download_button]
    assert {"Web page (HTML)", "PDF", "Figures (CSV)"} <= set(labels)


def test_an_export_failure_tells_the_chair_and_offers_no_file(demo_database, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("the disk is full")

    monkeypatch.setattr(pack, "pack_pdf", broken)
    at = _meeting("viewer")
    next(b for b in at.button if b.label == "Export pack").click().run()
    assert not at.exception, at.exception
    assert "could not be made (the disk is full). Nothing was saved" in at.error[0].value
    assert not [b for b in at.download_button if b.label in ("Web page (HTML)", "PDF")]


@pytest.mark.parametrize("role", ["lead", "viewer"])
def test_a_wide_scope_meeting_counts_squares_and_says_why_no_place_is_flagged(
    demo_database, monkeypatch, role
):
    """More districts than ``WIDE_DISTRICTS`` (lowered to 2 here): the Meeting reads counts
    per 250 m square, as the Map does, instead of every spot of the country (a national
    lead's Meeting took over 9 GB), keeps the spot path's headline counts, flags no place
    and says why on the headline slide."""
    import streamlit as st

    from services import reads

    read = reads.read_sites
    squares: list[int] = []

    def counted(*args, **kwargs):
        squares.append(kwargs["square"])
        return read(*args, **kwargs)

    def fresh() -> None:
        st.cache_data.clear()
        st.cache_resource.clear()

    fresh()
    try:
        spot = {m.label: m.value for m in _meeting(role).metric}
        monkeypatch.setattr(reads, "WIDE_DISTRICTS", 2)
        monkeypatch.setattr(reads, "read_sites", counted)
        fresh()
        at = _meeting(role)
    finally:
        fresh()
    wide = {m.label: m.value for m in at.metric}
    assert squares and set(squares) == {reads.WIDE_SQUARE}
    said = [m.value.replace("\u2060", "").replace("\\", "") for m in at.markdown]  # md_text
    assert reads.WIDE_FLAGS in said
    assert spot["Flagged places"] != "0"  # the control: the spot path flags places
    assert wide["Flagged places"] == "0"
    assert {k: v for k, v in wide.items() if "lagged" not in k and "assess" not in k} == {
        k: v for k, v in spot.items() if "lagged" not in k and "assess" not in k
    }


def test_a_wide_meeting_reads_the_maps_squares_and_the_months_before_as_totals(
    demo_database, monkeypatch
):
    """A wide Meeting reads the Map's own squares (from the month the Map reads) and, for
    the months before, counts per month and type: no square of every month is read (all
    England's took a minute of PostgreSQL and gigabytes). Its headline, comparisons with
    the period before and a year before, types and months equal the district path's;
    the control drops the older totals, and the year-ago comparisons then differ."""
    import streamlit as st

    from dashboard import loaders
    from services import reads

    def figures():
        st.cache_data.clear()
        st.cache_resource.clear()
        version = loaders.data_version()
        audience = Audience.of(demo_viewer("lead"), 5)
        scope = audience.scope()
        choice = loaders.meeting_choice(audience, scope, Filters(), date(2026, 11, 22), version)
        return loaders.meeting(*choice, framework=False)

    def shown(f) -> tuple:  # a wide scope flags no place (the first wide test)
        counts = [g for g in f.headline if "flagged" not in g.key and "assess" not in g.key]
        monthly = f.monthly.drop(columns=["flagged_places"], errors="ignore")
        return (counts, f.by_type, monthly.to_dict("records"), f.previous, f.year_ago)

    read, totals = reads.read_sites, reads.read_month_totals
    squares: list[tuple[int, str]] = []
    befores: list[str] = []

    def counted(*args, **kwargs):
        squares.append((kwargs["square"], kwargs["since"]))
        return read(*args, **kwargs)

    def totalled(*args, **kwargs):
        befores.append(kwargs["before"])
        return totals(*args, **kwargs)

    try:
        spot = figures()
        monkeypatch.setattr(reads, "WIDE_DISTRICTS", 2)
        monkeypatch.setattr(reads, "read_sites", counted)
        monkeypatch.setattr(reads, "read_month_totals", totalled)
        wide = figures()
        monkeypatch.setattr(loaders, "scope_totals", lambda *a: pd.DataFrame(columns=["n"]))
        without_older = figures()
    finally:
        st.cache_data.clear()
        st.cache_resource.clear()
    since = reads.wide_since(wide.first, wide.last)
    assert squares and {s for s, _ in squares} == {reads.WIDE_SQUARE}
    assert {m for _, m in squares} == {since}  # the Map's read: never every month
    assert set(befores) == {since}
    assert wide.year_ago != "n/a" and any(f.year_ago not in ("n/a", "0") for f in wide.headline)
    assert shown(wide) == shown(spot)
    # the control: without the months before, the year before is not covered
    assert [f.year_ago for f in without_older.headline] != [f.year_ago for f in wide.headline]
