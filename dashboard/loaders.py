"""The cached boundary between the pages and the data.

Each loader is keyed on plain values and the data version, so a filter change
recomputes only what depends on it, and any import or edit refreshes it.
"""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from store import queries
from store.bootstrap import open_database
from store.demo import demo_info

__all__ = [
    "actions",
    "assessments",
    "data_version",
    "demo",
    "districts",
    "engine",
    "events",
    "latest_date",
    "places",
]


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
