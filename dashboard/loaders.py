"""The cached boundary between the pages and the data.

Each loader is keyed on plain values and the data version, so a filter change
recomputes only what depends on it, and any import or edit refreshes it.

No cached loader has a parameter with a default: Streamlit keys its caches on the
arguments as passed, so a call that leaves a default out and one that gives it make two
entries, and what the warm-up computed was computed again for the first person
(``tests/dashboard/test_loader_keys.py`` checks the signatures).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd
import streamlit as st

from data.bootstrap import open_database
from data.load import demo_info
from geo.points import BNG, WGS84
from store import queries
from store.db import Engine
from store.sites import sites_in

if TYPE_CHECKING:
    import folium

    from dashboard.filters import Filters
    from dashboard.maps import PreparedMap
    from geo.grid import Grid
    from reports.meeting import EmergingSlide, MeetingFigures
    from services.audience import Audience
    from services.context import ContextPicture
    from services.impact import DisclosedImpact, ImpactFigures
    from services.links import LinksView
    from services.reads import ExactMonths, MapQuery, MapSettings, MonthlyPicture

__all__ = [
    "actions",
    "assessments",
    "context_picture",
    "data_version",
    "demo",
    "districts",
    "engine",
    "events",
    "latest_date",
    "meeting_sites",
    "places",
    "scope_sites",
    "scope_totals",
]

WARMED_AUDIENCES = 40
"""The audiences (ways of seeing, ``services.users.audiences``) whose opening views the
caches keep together: a county partnership's lead, viewers and an officer's view per
district fits. A view's entries are tens of KB each."""
VIEW_ENTRIES = 3 * WARMED_AUDIENCES + 16
"""The entries kept by each view the warm-up fills (``dashboard.warm``): its three preset
periods for every audience, and room for people's own choices. With fewer, the warm-up
pushed out its own first views (least recently used) before anyone opened them."""
SITE_ENTRIES = 2 * WARMED_AUDIENCES + 16
"""The entries kept of the counts per site (:func:`map_sites`): incidents and referrals for
every audience the warm-up fills, and room for people's own choices. An entry for a whole
county of a million incidents is about 40 MB; an officer's one district is a fraction of it,
so a county's audiences together hold a few whole-county entries."""


@st.cache_resource(show_spinner="Opening the database (the first run builds the demo)...")
def engine() -> Engine:
    """Return the shared database engine, upgraded and with the demo on first run."""
    return open_database()


@st.cache_data(ttl=30, show_spinner=False)
def data_version() -> str:
    """Return the key that changes when the stored data change (checked every 30 s)."""
    return queries.data_version(engine())


@st.cache_data(show_spinner=False)
def demo(version: str) -> dict | None:
    """Return the demo's description, or None for real data."""
    return demo_info(engine())


@st.cache_data(show_spinner=False)
def districts(version: str) -> gpd.GeoDataFrame:
    """Return the district boundaries in EPSG:27700."""
    return queries.load_districts(engine())


@st.cache_data(show_spinner=False)
def district_names(version: str) -> dict[str, str]:
    """Return each district's name by its ONS code."""
    frame = districts(version)
    return dict(zip(frame["code"], frame["name"], strict=True))


@st.cache_data(show_spinner=False)
def wards(version: str) -> gpd.GeoDataFrame:
    """Return the ward boundaries in EPSG:27700."""
    return queries.load_wards(engine())


@st.cache_data(show_spinner=False)
def places(version: str) -> gpd.GeoDataFrame:
    """Return the place register in EPSG:27700."""
    return queries.load_places(engine())


@st.cache_data(show_spinner="Reading incidents...", max_entries=16)
def events(kind: str, event_filter: queries.EventFilter, version: str) -> pd.DataFrame:
    """Return the incidents or referrals that match a filter."""
    return queries.load_events(engine(), event_filter, kind=kind)


def districts_for(
    audience: Audience, version: str, wanted: tuple[str, ...] = ()
) -> gpd.GeoDataFrame:
    """Return the district boundaries (EPSG:27700) in the audience's scope (or those wanted)."""
    from services.reads import in_scope

    return in_scope(districts(version), audience, wanted, column="code")


def wards_for(audience: Audience, version: str) -> gpd.GeoDataFrame:
    """Return the ward boundaries (EPSG:27700) in the audience's districts."""
    from services.reads import in_scope

    return in_scope(wards(version), audience)


def places_for(audience: Audience, version: str, wanted: tuple[str, ...] = ()) -> gpd.GeoDataFrame:
    """Return the place register (EPSG:27700) in the audience's districts (or those wanted)."""
    from services.reads import in_scope

    return in_scope(places(version), audience, wanted)


@st.cache_data(show_spinner=False)
def latest_date(version: str) -> date:
    """Return the newest incident date, the end of the preset periods."""
    latest = queries.latest_event_date(engine())
    return latest if latest is not None else date.today()


@st.cache_data(show_spinner=False)
def assessments(version: str) -> pd.DataFrame:
    """Return every assessment with its place."""
    return queries.load_assessments(engine())


@st.cache_data(show_spinner=False)
def actions(version: str) -> pd.DataFrame:
    """Return every action with its place."""
    return queries.load_actions(engine())


@st.cache_data(show_spinner=False)
def import_batches(version: str) -> pd.DataFrame:
    """Return the import batches, newest first."""
    return queries.load_import_batches(engine())


@st.cache_data(show_spinner="Finding the flagged places...", max_entries=WARMED_AUDIENCES + 8)
def assessment_queue_flags(districts: tuple[str, ...], version: str) -> pd.DataFrame:
    """Return the places of an audience's districts flagged over the last 3 months of data.

    Unsuppressed: pass the result through ``services.reads.queue_flags`` for the audience.
    Flagged as on the Map's default view of those districts; a wide scope (more than
    ``services.reads.WIDE_DISTRICTS``) flags no place, as on the Map (``WIDE_FLAGS``).
    """
    from services.assessments import recent_flags
    from services.reads import is_wide
    from store.sites import FLAG_COLUMNS

    if is_wide(len(districts)):
        return pd.DataFrame(columns=list(FLAG_COLUMNS))
    return recent_flags(engine(), districts, end=latest_date(version), months=3)


# The Map page: services.reads behind the cache. Viewers, queries and settings are
# frozen dataclasses of plain values, so they key the cache; frames are not arguments.


@st.cache_resource(show_spinner=False, max_entries=16)
def prepared_base_map(signature: tuple[str, ...], _build: Callable[[], folium.Map]) -> PreparedMap:
    """Return the Map's base map rendered once per process for everyone who sees it.

    The base map shows only what an audience may see whatever the filters (outlines,
    wards, the offline base, the legend), so ``signature`` (the data version, the
    audience, the tiles) says which one; ``_build`` makes it on the first call. Rendering
    it was about 2 s of CPU, paid by every session's first Map while it was kept per
    session (``maps.PreparedMap.lock`` lets sessions draw on it in turn).
    """
    from dashboard.maps import prepare_map

    return prepare_map(_build())


@st.cache_resource(show_spinner="Building the hot spot grid...", max_entries=8)
def map_grid(districts: tuple[str, ...], cell_size: int, version: str) -> Grid:
    """Return the hot-spot grid over some districts (shared, read-only)."""
    from geo.grid import build_grid

    return build_grid(queries.load_districts(engine(), districts), cell_size=cell_size)


def map_sites(
    kind: str,
    audience: Audience,
    districts: tuple[str, ...],
    ages: tuple[str, ...],
    agencies: tuple[str, ...],
    version: str,
    square: int,
    since: str,
) -> pd.DataFrame:
    """Return incidents or referrals per location (or ``square``), month and type.

    Every month, or from ``since`` (a wide scope: ``services.reads.wide_since``). The
    rows are counts before disclosure, the same for everyone who may read those districts,
    so they are kept once per scope (:func:`scope_sites`), not once per audience: a lead and
    a viewer of the same county share one read. The audience's access is checked first.
    """
    scope = audience.scope(districts)  # AccessDenied for a district outside it
    return scope_sites(kind, scope, ages, agencies, version, square, since)


@st.cache_data(show_spinner="Counting incidents...", max_entries=SITE_ENTRIES)
def scope_sites(
    kind: str,
    scope: tuple[str, ...],
    ages: tuple[str, ...],
    agencies: tuple[str, ...],
    version: str,
    square: int,
    since: str,
) -> pd.DataFrame:
    """Return :func:`map_sites` for districts whose access :func:`map_sites` has checked."""
    from services.audience import Audience
    from services.reads import read_sites

    return read_sites(
        engine(),
        Audience.before_disclosure(scope),
        kind=kind,
        districts=scope,
        ages=ages,
        agencies=agencies,
        square=square,
        since=since,
    )


@st.cache_data(show_spinner="Counting incidents...", max_entries=SITE_ENTRIES)
def scope_totals(
    kind: str,
    scope: tuple[str, ...],
    ages: tuple[str, ...],
    agencies: tuple[str, ...],
    version: str,
    before: str,
) -> pd.DataFrame:
    """Return counts per month and type before a month, for a checked scope (see below)."""
    from services.audience import Audience
    from services.reads import read_month_totals

    every = Audience.before_disclosure(scope)
    return read_month_totals(
        engine(), every, before=before, kind=kind, districts=scope, ages=ages, agencies=agencies
    )


def meeting_sites(
    kind: str,
    scope: tuple[str, ...],
    ages: tuple[str, ...],
    agencies: tuple[str, ...],
    version: str,
    square: int,
    since: str,
) -> pd.DataFrame:
    """Return the Meeting's counts for a checked scope: the Map's, and totals before them.

    A district's Meeting reads every spot of every month, as before. A wide scope's reads
    the Map's own squares from ``since`` (the same cache entry) and, for the months
    before, counts per month and type only (:func:`scope_totals`): the period before and a
    year before are compared as totals, and reading every month of all England per square
    took a minute of PostgreSQL and gigabytes for rows nothing located.
    """
    recent = scope_sites(kind, scope, ages, agencies, version, square, since if square else "")
    if not square or not since:
        return recent
    older = scope_totals(kind, scope, ages, agencies, version, since)
    return pd.concat([older, recent], ignore_index=True) if len(older) else recent


def map_square(audience: Audience, query: MapQuery) -> int:
    """Return the square the Map's counts are read in for a query (0: per spot).

    See ``services.reads.wide_square``: a wide scope (many districts) is counted per
    square in SQL and analysed on a grid of the occupied squares only.
    """
    from services.reads import wide_square

    return wide_square(len(audience.scope(query.districts)), query.cell_size)


def scope_square(audience: Audience, districts: tuple[str, ...], cell_size: int) -> int:
    """Return :func:`map_square` before the query is made (the page's first read)."""
    from services.reads import wide_square

    return wide_square(len(audience.scope(districts)), audience.cell_size(cell_size))


def map_since(query: MapQuery, square: int) -> str:
    """Return the first month a Map query reads (every month on the district path)."""
    from services.reads import wide_since

    return wide_since(query.first, query.last) if square else ""


def _map_sites_for(
    query: MapQuery, audience: Audience, version: str, kind: str = "incidents"
) -> pd.DataFrame:
    square = map_square(audience, query)
    return map_sites(
        kind,
        audience,
        query.districts,
        query.ages,
        query.agencies,
        version,
        square,
        map_since(query, square),
    )


@st.cache_resource(show_spinner="Building the hot spot grid...", max_entries=8)
def map_wide_grid(
    scope: tuple[str, ...],
    ages: tuple[str, ...],
    agencies: tuple[str, ...],
    cell_size: int,
    square: int,
    since: str,
    version: str,
) -> Grid:
    """Return the grid of a wide scope: occupied squares and their neighbours only.

    ``scope`` is districts an audience may read (``Audience.scope``, checked by the caller):
    the grid is the same for everyone who reads them.
    """
    from geo.grid import build_sparse_grid
    from store.sites import located

    sites = located(scope_sites("incidents", scope, ages, agencies, version, square, since))
    area = queries.load_districts(engine(), scope)
    return build_sparse_grid(
        area, sites["easting"].to_numpy(), sites["northing"].to_numpy(), cell_size=cell_size
    )


def hot_spot_grid(query: MapQuery, audience: Audience, version: str) -> Grid:
    """Return the Map's hot-spot grid: the whole area's, or a wide scope's occupied squares."""
    square = map_square(audience, query)
    return scope_grid(
        audience.scope(query.districts),
        query.ages,
        query.agencies,
        query.cell_size,
        square,
        map_since(query, square),
        version,
    )


@st.cache_data(show_spinner="Finding hot spots...", max_entries=VIEW_ENTRIES)
def map_hot_cells(
    audience: Audience, query: MapQuery, confidence: int, version: str
) -> gpd.GeoDataFrame:
    """Return the period's significant Gi* cells (WGS84), counts disclosed for the audience."""
    from services.reads import hot_cells

    sites = sites_in(
        _map_sites_for(query, audience, version),
        types=query.types,
        first=query.first,
        last=query.last,
    )
    grid = hot_spot_grid(query, audience, version)
    return hot_cells(sites, grid, confidence=confidence, audience=audience)


def map_monthly(
    audience: Audience, query: MapQuery, confidence: int, version: str
) -> MonthlyPicture:
    """Return Gi* month by month over the 12 months to the period's end.

    Computed once for every period that ends in the same month (:func:`monthly_to`): the
    last 3 months, the last month and the last 12 months share one picture. All England's
    warm-up computed it for each period and reader: 47 s of its CPU (issue 21).
    """
    return monthly_to(audience, dataclasses.replace(query, first=query.last), confidence, version)


@st.cache_data(show_spinner="Stepping through the months...", max_entries=VIEW_ENTRIES)
def monthly_to(
    audience: Audience, query: MapQuery, confidence: int, version: str
) -> MonthlyPicture:
    """Return :func:`map_monthly` for a query whose first month is its last (the cache key)."""
    from services.reads import disclosed_months, window_months

    square = map_square(audience, query)
    scope = audience.scope(query.districts)  # AccessDenied for a district outside it
    exact = emerging_months(
        scope,
        query.types,
        query.ages,
        query.agencies,
        query.cell_size,
        square,
        map_since(query, square),
        query.last,
        version,
    )
    return disclosed_months(
        exact, confidence=confidence, audience=audience, months=window_months(query.last)
    )


@st.cache_resource(show_spinner="Stepping through the months...", max_entries=8)
def emerging_months(
    scope: tuple[str, ...],
    types: tuple[str, ...],
    ages: tuple[str, ...],
    agencies: tuple[str, ...],
    cell_size: int,
    square: int,
    since: str,
    last: str,
    version: str,
) -> ExactMonths | None:
    """Return the exact Gi* months and emerging hot spots to ``last`` of a checked scope.

    Before disclosure, so shared (read-only) by everyone who reads the scope: the Map's
    month-by-month picture of each audience (:func:`monthly_to`) and the Meeting's
    emerging hot spots (:func:`meeting_emerging`) of a period ending in the same month.
    All England's lead, viewer and Meeting computed them three times: 25 s of the
    warm-up, and a gigabyte of memory each time (issue 21). The grid is the Map's
    (:func:`hot_spot_grid`): the scope's, or a wide scope's squares occupied since ``since``.
    """
    from services.reads import exact_months

    sites = scope_sites("incidents", scope, ages, agencies, version, square, since)
    grid = scope_grid(scope, ages, agencies, cell_size, square, since, version)
    return exact_months(sites_in(sites, types=types), grid, last=last)


def scope_grid(
    scope: tuple[str, ...],
    ages: tuple[str, ...],
    agencies: tuple[str, ...],
    cell_size: int,
    square: int,
    since: str,
    version: str,
) -> Grid:
    """Return the hot-spot grid of a checked scope.

    The whole area's, or a wide scope's squares occupied since ``since``
    (:func:`map_wide_grid`).
    """
    if square:
        return map_wide_grid(scope, ages, agencies, cell_size, square, since, version)
    return map_grid(scope, cell_size, version)


@st.cache_data(show_spinner="Flagging places...", max_entries=VIEW_ENTRIES)
def map_flags(
    audience: Audience, query: MapQuery, settings: MapSettings, version: str
) -> gpd.GeoDataFrame:
    """Return the period's flagged places (WGS84), reasons disclosed for the audience."""
    from services.reads import flagged_places

    places_bng, sites, grid = _flag_inputs(audience, query, version)
    if map_square(audience, query):  # counted per square: too coarse for 200 m (WIDE_FLAGS)
        sites = sites.iloc[:0]
    return flagged_places(
        places_bng,
        sites,
        grid,
        first=query.first,
        last=query.last,
        settings=settings,
        audience=audience,
    )


def _flag_inputs(
    audience: Audience, query: MapQuery, version: str
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, Grid]:
    """Return the register, the sites and the grid that flags (and why-not) are read from."""
    sites = sites_in(_map_sites_for(query, audience, version), types=query.types)
    grid = hot_spot_grid(query, audience, version)
    return places_for(audience, version, query.districts), sites, grid


@st.cache_data(show_spinner=False, max_entries=VIEW_ENTRIES)
def map_cell_note(audience: Audience, query: MapQuery, version: str) -> str:
    """Return the note on a cell size too small for the period's incidents (or "")."""
    from dashboard.filters import CELL_SIZES
    from services.reads import cell_size_note

    sites = sites_in(
        _map_sites_for(query, audience, version),
        types=query.types,
        first=query.first,
        last=query.last,
    )
    grid = hot_spot_grid(query, audience, version)
    return cell_size_note(sites, grid, sizes=CELL_SIZES)


@st.cache_data(show_spinner="Looking at the place...", max_entries=32)
def map_why_not(
    audience: Audience, query: MapQuery, settings: MapSettings, version: str, place_id: int
) -> str:
    """Return why a place is not flagged in the period, counts disclosed for the audience."""
    from services.reads import WIDE_FLAGS, why_not_flagged

    if map_square(audience, query):
        return WIDE_FLAGS
    places_bng, sites, grid = _flag_inputs(audience, query, version)
    return why_not_flagged(
        places_bng,
        sites,
        grid,
        place_id,
        first=query.first,
        last=query.last,
        settings=settings,
        audience=audience,
    )


@st.cache_data(show_spinner="Estimating the density...", max_entries=16)
def map_density(audience: Audience, query: MapQuery, version: str) -> gpd.GeoDataFrame:
    """Return the period's kernel density bands (WGS84)."""
    from services.reads import density_layer

    sites = sites_in(
        _map_sites_for(query, audience, version),
        types=query.types,
        first=query.first,
        last=query.last,
    )
    return density_layer(sites, audience=audience)


@st.cache_data(show_spinner="Counting per square...", max_entries=16)
def map_aggregates(audience: Audience, query: MapQuery, version: str) -> gpd.GeoDataFrame:
    """Return the period's incidents and referrals per 1 km square (WGS84), disclosed."""
    from services.reads import aggregate_squares

    def chosen(kind: str) -> pd.DataFrame:
        sites = _map_sites_for(query, audience, version, kind)
        return sites_in(sites, types=query.types, first=query.first, last=query.last)

    return aggregate_squares(
        chosen("incidents"),
        chosen("referrals"),
        audience=audience,
    )


@st.cache_data(show_spinner="Reading incident points...", max_entries=8)
def map_points(
    audience: Audience, query: MapQuery, version: str
) -> tuple[pd.DataFrame | None, int]:
    """Return the period's incident points for a viewer with point access, if few enough."""
    from services.reads import incident_points

    return incident_points(engine(), audience, query)


@st.cache_data(show_spinner=False, max_entries=64)
def map_area_events(
    audience: Audience, query: MapQuery, area_wkb: bytes, first: str, version: str
) -> pd.DataFrame:
    """Return the incidents inside an area (EPSG:27700 WKB) from ``first`` to the period's end."""
    import shapely

    from services.reads import events_near

    return events_near(engine(), audience, query, area=shapely.from_wkb(area_wkb), first=first)


# The Meeting page: one cached MeetingFigures per viewer scope and choice, shared with the pack.


MeetingChoice = tuple[
    tuple[str, ...], "Audience", tuple[str, ...], tuple[str, ...], tuple[str, ...],
    tuple[str, str], date, str,
]  # fmt: skip
"""The positional arguments of :func:`meeting`: districts, audience, types, ages,
agencies, months, today and the data version."""


@st.cache_data(show_spinner="Preparing the meeting's figures...", max_entries=VIEW_ENTRIES)
def meeting(
    districts: tuple[str, ...],
    audience: Audience,
    types: tuple[str, ...],
    ages: tuple[str, ...],
    agencies: tuple[str, ...],
    months: tuple[str, str],
    today: date,
    version: str,
    *,
    framework: bool,
) -> MeetingFigures:
    """Return the meeting's figures for districts the caller has checked are in scope.

    ``audience`` decides the scope and the disclosure, and the counts per
    spot come from the same cached read as the Map's (:func:`map_sites`), as do the
    register, assessments and actions. Without ``framework`` the performance framework
    (the costliest part, a flagging per month) is left empty: the slides before it do not
    wait for it.
    """
    from reports.meeting import MeetingInputs, meeting_figures
    from services.assessments import approval_dates
    from services.reads import in_scope, wide_since

    districts = audience.scope(districts)
    since = wide_since(*months)
    incidents, grid, square = _meeting_counts(districts, ages, agencies, version, since)

    def mine(frame: pd.DataFrame) -> pd.DataFrame:
        return in_scope(frame, audience, districts)

    inputs = MeetingInputs(
        incidents=incidents,
        referrals=meeting_sites("referrals", districts, ages, agencies, version, square, since),
        places=mine(places(version)),
        assessments=mine(assessments(version)),
        actions=mine(actions(version)),
        approvals=approval_dates(engine(), audience),
        grid=grid,
        district_names=district_names(version),
        districts=districts,
        flagged=not square,
        emerging=meeting_emerging(districts, types, ages, agencies, months[1], version),
    )
    from dashboard.filters import month_end

    # The work is counted to today, unless the period ends before the data do (a past
    # custom range): then to the period's end.
    complete = meeting_month_end(version)
    ends_early = complete is not None and months[1] < f"{complete:%Y-%m}"
    return meeting_figures(
        inputs,
        first=months[0],
        last=months[1],
        types=types,
        today=today,
        audience=audience,
        framework_months=12 if framework else 0,
        activity_end=month_end(date.fromisoformat(f"{months[1]}-01")) if ends_early else today,
    )


def meeting_square(scope: tuple[str, ...]) -> int:
    """Return the square the Meeting counts a scope in (its grid is 250 m; 0: per spot)."""
    from services.reads import wide_square

    return wide_square(len(scope), 250)


def _meeting_counts(
    scope: tuple[str, ...],
    ages: tuple[str, ...],
    agencies: tuple[str, ...],
    version: str,
    since: str,
) -> tuple[pd.DataFrame, Grid, int]:
    """Return the Meeting's incidents, its 250 m grid and the square they are counted in.

    A wide scope is counted as the Map counts it (per square from ``since``, on the grid
    of the squares occupied since then: the Map's own entries) with the months before as
    totals (:func:`meeting_sites`), and flags no place, as on the Map; ``scope`` is checked.
    """
    square = meeting_square(scope)
    incidents = meeting_sites("incidents", scope, ages, agencies, version, square, since)
    return incidents, scope_grid(scope, ages, agencies, 250, square, since, version), square


@st.cache_data(show_spinner="Finding emerging hot spots...", max_entries=VIEW_ENTRIES)
def meeting_emerging(
    scope: tuple[str, ...],
    types: tuple[str, ...],
    ages: tuple[str, ...],
    agencies: tuple[str, ...],
    last: str,
    version: str,
) -> EmergingSlide:
    """Return the Meeting's emerging hot spots, once for every reader and preset period.

    Exact statistics of districts a reader's access has been checked for (``scope``):
    they depend on neither the reader nor the period's first month, and were computed
    again for each (six times for a county's lead and viewer: all England's took a minute).
    """
    from reports.meeting import emerging_of
    from services.reads import wide_since

    square = meeting_square(scope)
    since = wide_since(last, last) if square else ""
    exact = emerging_months(scope, types, ages, agencies, 250, square, since, last, version)
    return emerging_of(exact, scope_grid(scope, ages, agencies, 250, square, since, version))


@st.cache_data(show_spinner=False)
def meeting_month_end(version: str) -> date | None:
    """Return the last day of the last complete month of incidents (the meeting's end)."""
    from reports.meeting import complete_month_end

    return complete_month_end(engine())


def meeting_choice(
    audience: Audience, scope: tuple[str, ...], filters: Filters, today: date, version: str
) -> MeetingChoice:
    """Return the arguments of :func:`meeting` (its cache key) for an audience's choice."""
    months = filters.months(meeting_month_end(version) or latest_date(version))
    choice = (scope, audience, filters.types, filters.ages, filters.agencies)
    return (*choice, months, today, version)


@st.cache_data(show_spinner="Drawing the map of emerging hot spots...", max_entries=16)
def meeting_map(_figures: MeetingFigures, key: tuple, version: str) -> bytes:
    """Return the emerging hot spot map as PNG bytes.

    ``key`` is what the figures were computed from (the arguments of :func:`meeting`, the
    districts first), so that the cache tells one meeting's map from another's.
    """
    from reports.charts import emerging_map_png

    districts_shown = districts(version)
    return emerging_map_png(_figures, districts_shown.loc[districts_shown["code"].isin(key[0])])


@st.cache_data(show_spinner="Counting police-recorded crime (all ages)...", max_entries=16)
def context_picture(
    audience: Audience, districts: tuple[str, ...], first: str, last: str,
    types: tuple[str, ...], version: str,
) -> tuple[ContextPicture, gpd.GeoDataFrame]:  # fmt: skip
    """Return context events (public crime, all ages) for an audience, and their squares to draw.

    ``first`` and ``last`` are months as ``"YYYY-MM"`` (empty for open ends). The
    squares are in EPSG:4326; counts are protected for roles without point access.
    """
    import shapely

    from services.context import SQUARE
    from services.reads import context

    def month(text: str) -> date | None:
        return date.fromisoformat(f"{text}-01") if text else None

    picture = context(
        engine(), audience, districts=districts, first=month(first), last=month(last),
        types=types,
    )  # fmt: skip
    e = picture.squares["easting"].to_numpy(dtype=float)
    n = picture.squares["northing"].to_numpy(dtype=float)
    squares = gpd.GeoDataFrame(
        picture.squares[["events", "level"]],
        geometry=shapely.box(e, n, e + SQUARE, n + SQUARE),
        crs=BNG,
    ).to_crs(WGS84)
    return picture, squares


# The MACE view (issue 19): links between places for one audience, counts already protected.


@st.cache_data(show_spinner="Joining the dots between places...", max_entries=16)
def mace_links(
    audience: Audience, since: str | None, until: str | None, recent_since: str | None,
    version: str,
) -> LinksView:  # fmt: skip
    """Return the links between places as ``audience`` may see them (``services.reads.links``)."""
    from services.reads import links

    return links(engine(), audience, since=since, until=until, recent_since=recent_since)


# The impact of actions: computed once for every district (or district by district in a
# wide database), disclosed per reader.

IMPACT_WINDOW = 6
"""Months compared before and after a place's first action."""


@st.cache_data(show_spinner="Measuring the impact of actions...", max_entries=4)
def impact(version: str) -> ImpactFigures:
    """Return the impact of every place's actions (unsuppressed; see :func:`impact_for`).

    Computed from the Map's cached counts, register and grid, over :data:`IMPACT_WINDOW`
    months before and after the first action: over every district together, or district
    by district where there are more than ``services.reads.WIDE_DISTRICTS``
    (``services.impact.impact_areas``).
    """
    from services.audience import Audience
    from services.impact import impact_by_area, load_action_kinds
    from services.reads import WIDE_DISTRICTS

    def read_area(area: tuple[str, ...]) -> tuple[pd.DataFrame, Grid]:
        every = Audience.before_disclosure(area)
        return map_sites("incidents", every, area, (), (), version, 0, ""), map_grid(
            area, 250, version
        )

    codes = tuple(districts(version)["code"])
    return impact_by_area(
        codes,
        places(version),
        load_action_kinds(engine()),
        read_area,
        window=IMPACT_WINDOW,
        most=WIDE_DISTRICTS,
    )


@st.cache_data(show_spinner=False, max_entries=32)
def impact_for(audience: Audience, districts: tuple[str, ...], version: str) -> DisclosedImpact:
    """Return the impact of actions in some districts, disclosed for ``audience``."""
    from services.reads import impact as disclosed

    return disclosed(
        impact(version),
        audience,
        districts=districts,
        district_names=district_names(version),
    )


# The Map's outlines in WGS84, once per audience (issue 21) ----------------------------------
# Projecting to WGS84 in every script run cost each run a new PROJ transformer (pyproj keeps
# one per thread, and every run is a new thread): about a third of a second per click.


@st.cache_data(show_spinner=False, max_entries=32)
def map_outlines(audience: Audience, version: str) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Return the audience's district and ward outlines, simplified, in WGS84.

    Districts are simplified to 20 m and wards to 15 m (EPSG:27700) before projecting,
    as drawn on the Map; the rows are those of :func:`districts_for` and :func:`wards_for`.
    """
    mine = districts_for(audience, version)
    ward_rows = wards_for(audience, version)
    return (
        mine.assign(geometry=mine.geometry.simplify(20)).to_crs(4326),
        ward_rows.assign(geometry=ward_rows.geometry.simplify(15)).to_crs(4326),
    )


@st.cache_data(show_spinner=False, max_entries=64)
def bounds_wgs84(
    audience: Audience, version: str, wanted: tuple[str, ...]
) -> tuple[float, float, float, float]:
    """Return (west, south, east, north) of the districts in scope (or those wanted)."""
    west, south, east, north = districts_for(audience, version, wanted).to_crs(4326).total_bounds
    return float(west), float(south), float(east), float(north)


@st.cache_data(show_spinner=False, max_entries=32)
def places_wgs84(audience: Audience, version: str, wanted: tuple[str, ...]) -> gpd.GeoDataFrame:
    """Return :func:`places_for` in WGS84."""
    return places_for(audience, version, wanted).to_crs(4326)
