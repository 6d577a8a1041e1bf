"""Warm the shared caches in the background, so the opening views are ready when asked for.

Once an app process has served its first page, a background thread computes what every
kind of account sees first (``services.users.audiences``: the districts and the disclosure,
not the person): the Map's base map, its hot spots and flagged places and the Meeting's
opening slides for each preset period (last 3 months, last month, last 12 months) with the
default filters and settings, the assessment queue's flags and the impact of actions. Every
30 s it looks at the data version, and warms again when the stored data have changed (an import, an
edit) or the day has. Other choices are computed when first asked for and then shared, as before.

The work is the pages' own: the same loaders with the same arguments, so what is warmed is
what a page then finds in the cache. ``SAFER_SPACES_WARM=0`` switches it off (the tests
of single pages do, to keep their caches their own).
"""

from __future__ import annotations

import ctypes
import importlib
import logging
import threading
import time
from datetime import date

import streamlit as st

from config.settings import switched_on
from dashboard import loaders, timings
from dashboard.basemap import prepared_base, tiles_from_settings
from dashboard.filters import Filters, map_query
from dashboard.session import disclosure_threshold
from services.audience import Audience
from services.reads import DEFAULT_SETTINGS, wide_since
from services.users import audiences

__all__ = [
    "ENVIRONMENT",
    "PAGE_MODULES",
    "PRESETS",
    "import_pages",
    "release_memory",
    "start",
    "warm",
]

ENVIRONMENT = "SAFER_SPACES_WARM"
PRESETS = ("quarter", "month", "year")
"""The preset periods warmed, the default first."""
CHECK_SECONDS = 30.0
_LOG = logging.getLogger(__name__)


def warm(version: str, today: date) -> int:
    """Compute the opening views of every audience for every preset period.

    Parameters
    ----------
    version
        The data version (``loaders.data_version``): the caches' key.
    today
        The day the Meeting's figures are for (overdue actions, current assessments).

    Returns
    -------
    int
        The number of views (audience and period) warmed.
    """
    k = disclosure_threshold(version)
    latest = loaders.latest_date(version)
    settings = DEFAULT_SETTINGS
    loaders.impact(version)
    views = 0
    tiles = tiles_from_settings()[0]
    found = audiences(loaders.engine())
    if len(found) > loaders.WARMED_AUDIENCES:
        _LOG.warning(
            "%d ways of seeing the data to warm, but the caches keep the opening views of %d:"
            " the first ones warmed will be computed again when opened.",
            len(found),
            loaders.WARMED_AUDIENCES,
        )
    # the widest last: its counts are read ahead while the others are warmed
    views_of = sorted((Audience.of(viewer, k) for viewer in found), key=lambda a: len(a.scope()))
    reads = _read_ahead(views_of[-1], version, latest) if views_of else None
    for audience in views_of:  # first what does not wait for the counts
        scope = audience.scope()
        # the Map's base map: outlines, the offline base (built-up areas from the postcode
        # directory) and the legend, rendered (the slowest part of a first Map)
        prepared_base(audience, version, tiles)
        loaders.assessment_queue_flags(scope, version)  # the Assessments queue
        loaders.bounds_wgs84(audience, version, scope)
        loaders.places_wgs84(audience, version, scope)
        loaders.impact_for(audience, scope, version)  # a place panel's and the Meeting's
    release_memory()
    for audience in views_of:
        scope = audience.scope()
        square, since = _wide_read(audience, latest)
        months = loaders.map_sites("incidents", audience, scope, (), (), version, square, since)
        months = months["month"]
        for preset in PRESETS:
            filters = Filters(period=preset)
            query = map_query(filters, scope, latest, months, audience=audience)
            loaders.map_monthly(audience, query, settings.confidence, version)
            loaders.map_hot_cells(audience, query, settings.confidence, version)
            loaders.map_flags(audience, query, settings, version)
            loaders.map_cell_note(audience, query, version)
            choice = loaders.meeting_choice(audience, scope, filters, today, version)
            loaders.meeting(*choice, framework=False)
            views += 1
        release_memory()
    if reads is not None:
        reads.join()
    return views


def _wide_read(audience: Audience, latest: date) -> tuple[int, str]:
    """Return the square and first month of an audience's opening Map read (0, "": per spot)."""
    square = loaders.scope_square(audience, audience.scope(), Filters().cell_size)
    return square, wide_since(*Filters().months(latest)) if square else ""


def _read_ahead(audience: Audience, version: str, latest: date) -> threading.Thread:
    """Start reading the widest audience's counts in a thread, while the others are warmed.

    The counts are PostgreSQL's work, in its own processes: all England's (the Map's
    squares of the last 12 months, the Meeting's totals before them, and the same of
    referrals) kept this process waiting about 20 s with nothing to do. Read here, into
    the same cache entries the pages use (a view that asks for one still being read
    waits for it: Streamlit's cache computes an entry once), they overlap the base maps'
    rendering and the narrower audiences' views (Python). One audience's only: reading
    every audience's ahead held two audiences' counts at once (2.10 GB on all England,
    issue 21). A failed read is only logged: the view reads it again when it needs it,
    and reports the failure there.
    """
    scope = audience.scope()
    square, since = _wide_read(audience, latest)
    meeting_in = loaders.meeting_square(scope)

    def read() -> None:
        try:
            loaders.map_sites("incidents", audience, scope, (), (), version, square, since)
            for kind in ("incidents", "referrals"):
                loaders.meeting_sites(kind, scope, (), (), version, meeting_in, since)
        except Exception:
            _LOG.warning("Could not read the counts ahead; the views will.", exc_info=True)
        release_memory()  # what parsing left in this thread's own malloc arena

    thread = threading.Thread(target=read, name="safer-spaces-read-ahead", daemon=True)
    thread.start()
    return thread


def release_memory() -> bool:
    """Hand the memory freed by the last computations back to the system (glibc only).

    Each view leaves behind many small freed blocks (frames, geometries) that glibc's
    ``malloc`` keeps inside the process; the next audience's statistics then grow the
    process on top of them. ``malloc_trim(0)`` returns them, as Dask's workers do. On all
    England it lowered the resident memory after the warm-up by about 0.2 GB (issue 21).

    Returns
    -------
    bool
        True when the C library has ``malloc_trim`` (glibc) and it released memory.
    """
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library already loaded in the process
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        return False
    return bool(trim(0))


PAGE_MODULES = ("dashboard.mappng", "reports.pack", "reports.assessment_pdf")
"""Modules the pages import on first use (matplotlib, PDF): imported here, in the
background, so that the first person on each page does not wait for the import (and
every other run of the process does not wait for the import lock meanwhile)."""


def import_pages() -> None:
    """Import :data:`PAGE_MODULES` (a page reports its own import error when it runs)."""
    for name in PAGE_MODULES:
        try:
            importlib.import_module(name)
        except Exception:
            _LOG.warning("Could not import %s in advance.", name, exc_info=True)


def _keep_warm() -> None:
    """Warm now, then again whenever the data or the day change (runs for good)."""
    import_pages()
    warmed: tuple[str, date] | None = None
    while True:
        try:
            now = (loaders.data_version(), date.today())
            if now != warmed:
                with timings.timed():
                    timings.label("(warm-up failed)")
                    views = warm(*now)
                    timings.label("(warm-up)")
                warmed = now
                _LOG.info("Warmed the opening views of %d audience-periods.", views)
        except Exception:  # the database may be away for a while: look again later
            _LOG.warning("Could not warm the caches; trying again shortly.", exc_info=True)
        time.sleep(CHECK_SECONDS)


@st.cache_resource(show_spinner=False)
def start() -> threading.Thread | None:
    """Start the warming thread, once per app process (unless switched off)."""
    if not switched_on("warm"):
        return None
    # The loaders' spinners have no page to show on in this thread; Streamlit says so on
    # every call, which is noise here.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(
        logging.ERROR
    )
    # streamlit-folium declares its map component when first imported, and only a script
    # run registers it with the server: first imported by the warm-up's base maps, the
    # component's files were never served (404) and no map drew. Imported here, in the run.
    importlib.import_module("streamlit_folium")
    thread = threading.Thread(target=_keep_warm, name="safer-spaces-warm", daemon=True)
    thread.start()
    return thread
