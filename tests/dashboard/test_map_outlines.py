"""The Map's outlines and places, projected to WGS84 once and shared: each audience its own.

``loaders.map_outlines``, ``bounds_wgs84`` and ``places_wgs84`` are cached across sessions
(issue 21), keyed by the Audience; an audience over one district must never be handed
the rows of an audience over all of them, whoever asked first.
"""

from __future__ import annotations

import streamlit as st

from dashboard import loaders
from services.audience import Audience


def _two_audiences() -> tuple[Audience, Audience]:
    codes = tuple(sorted(loaders.districts(loaders.data_version())["code"].astype(str)))
    assert len(codes) > 1
    return Audience.for_role("lead", codes), Audience.for_role("lead", codes[:1])


def test_projected_outlines_and_places_stay_within_each_audience(demo_database) -> None:
    st.cache_data.clear()
    version = loaders.data_version()
    wide, narrow = _two_audiences()
    # the wide audience first, so that a cache keyed by too little would hand its rows on
    wide_outlines, wide_wards = loaders.map_outlines(wide, version)
    wide_places = loaders.places_wgs84(wide, version, ())
    wide_bounds = loaders.bounds_wgs84(wide, version, ())
    outlines, wards = loaders.map_outlines(narrow, version)
    places = loaders.places_wgs84(narrow, version, ())
    bounds = loaders.bounds_wgs84(narrow, version, ())

    assert set(outlines["code"]) == set(narrow.districts)
    assert set(wards["district_code"]) <= set(narrow.districts)
    assert set(places["district_code"]) <= set(narrow.districts)
    assert outlines.crs.to_epsg() == wards.crs.to_epsg() == places.crs.to_epsg() == 4326
    # the same rows as the unprojected loaders the page used before
    assert len(places) == len(loaders.places_for(narrow, version))
    assert len(wards) == len(loaders.wards_for(narrow, version))
    # control: the wide audience's rows do include other districts, so the checks can fail
    assert set(wide_outlines["code"]) > set(narrow.districts)
    assert set(wide_wards["district_code"]) <= set(wide.districts)  # the demo has no wards
    assert set(wide_places["district_code"]) > set(narrow.districts)
    west, south, east, north = bounds
    assert wide_bounds != bounds
    assert wide_bounds[0] <= west and wide_bounds[1] <= south
    assert wide_bounds[2] >= east and wide_bounds[3] >= north
