"""The sidebar filters shared by every page, mirrored in the URL."""

from __future__ import annotations

from datetime import date
from functools import partial

import streamlit as st

from dashboard import auth, loaders
from dashboard.filters import (
    CELL_SIZES,
    PERIODS,
    Filters,
    filters_from_params,
    filters_to_params,
    refuse_outside_scope,
)
from services.access import Viewer
from services.safe_text import md_text
from store.audit import log_event
from store.vocabulary import AGE_BANDS, AGENCIES, EXPLOITATION_TYPES, label

__all__ = ["current", "render"]

_KEY = "filters"
FILTER_PARAMS = frozenset(
    {"period", "start", "end", "types", "ages", "agencies", "districts", "cell"}
)


def _district_names(version: str, viewer: Viewer | None = None) -> dict[str, str]:
    """Return the districts' names by code: all of them, or those in the viewer's scope."""
    names = loaders.district_names(version)
    if viewer is None:
        return names
    return {code: name for code, name in names.items() if viewer.may_see(code)}


def _first_run(version: str, viewer: Viewer) -> None:
    """Seed the widgets from the URL once per session, with notices for bad values.

    A link naming districts outside the viewer's scope is refused: a message
    says so, the attempt is audited, and the viewer's own districts are shown.
    """
    every = _district_names(version)
    params, refused = refuse_outside_scope(
        dict(st.query_params), allowed=viewer.districts, known=every
    )
    if refused:
        names = ", ".join(f"{md_text(every[c])} ({md_text(c)})" for c in refused)
        st.error(
            f"This link asks for {names}, which your account does not cover, so it is not "
            "shown. Ask your administrator if you need it.",
            icon=":material/block:",
        )
        log_event(
            loaders.engine(),
            actor=viewer.username,
            action="refused district",
            entity="district",
            entity_id=",".join(refused),
            detail={"districts": list(refused), "from": "link"},
            origin=auth.origin(),
        )
    filters, notices = filters_from_params(params, districts=_district_names(version, viewer))
    for notice in notices:
        st.toast(notice, icon=":material/info:")
    st.session_state["f_period"] = filters.period
    st.session_state["f_range"] = (
        (filters.start, filters.end) if filters.start and filters.end else ()
    )
    st.session_state["f_types"] = list(filters.types)
    st.session_state["f_ages"] = list(filters.ages)
    st.session_state["f_agencies"] = list(filters.agencies)
    st.session_state["f_districts"] = list(filters.districts)
    st.session_state["f_cell"] = filters.cell_size
    st.session_state["f_seeded"] = True


def render(version: str, viewer: Viewer) -> Filters:
    """Draw the filters in the sidebar, store them for the pages, and mirror them in the URL.

    The District filter offers only the viewer's districts.
    """
    if not st.session_state.get("f_seeded"):
        _first_run(version, viewer)
    names = _district_names(version, viewer)
    latest = loaders.latest_date(version)
    with st.sidebar:
        st.header("Filters")
        period = st.selectbox(
            "Period", list(PERIODS), format_func=partial(label, PERIODS), key="f_period"
        )
        start = end = None
        if period == "custom":
            chosen = st.date_input("From and to", key="f_range", max_value=date.today())
            if isinstance(chosen, tuple) and len(chosen) == 2:
                start, end = chosen
        types = st.multiselect(
            "Exploitation type",
            list(EXPLOITATION_TYPES),
            format_func=partial(label, EXPLOITATION_TYPES),
            key="f_types",
            placeholder="All types",
        )
        ages = st.multiselect(
            "Age band",
            list(AGE_BANDS),
            format_func=partial(label, AGE_BANDS),
            key="f_ages",
            placeholder="All ages",
        )
        agencies = st.multiselect(
            "Source agency",
            list(AGENCIES),
            format_func=partial(label, AGENCIES),
            key="f_agencies",
            placeholder="All agencies",
        )
        districts = st.multiselect(
            "District",
            list(names),
            format_func=partial(label, names),
            key="f_districts",
            placeholder="All districts" if viewer.sees_points else "All my districts",
        )
        with st.expander("Analysis settings"):
            cell = st.select_slider(
                "Hot spot cell size (metres)", options=list(CELL_SIZES), key="f_cell"
            )
        filters = Filters(
            period=period if (period != "custom" or (start and end)) else "quarter",
            start=start,
            end=end,
            types=tuple(types),
            ages=tuple(ages),
            agencies=tuple(agencies),
            districts=tuple(districts),
            cell_size=int(cell),
        )
        first, last = filters.window(latest)
        if first and last:
            st.caption(f"Showing {first:%d %b %Y} to {last:%d %b %Y}. Newest data: {latest:%b %Y}.")
        else:
            st.caption(f"Showing all data. Newest data: {latest:%b %Y}.")
    # Rewrite the filters' own parameters; keep those of the pages (the map's layers...).
    shown = st.query_params.to_dict()
    params = {k: v for k, v in shown.items() if k not in FILTER_PARAMS} | filters_to_params(filters)
    if shown != params:
        st.query_params.from_dict(params)
    st.session_state[_KEY] = filters
    return filters


def current() -> Filters:
    """Return the filters chosen in the sidebar on this run."""
    return st.session_state.get(_KEY, Filters())
