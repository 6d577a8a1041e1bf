"""The Map's base: the tile setting, and the offline layer built from shipped data.

Settings (environment first, then ``.streamlit/secrets.toml``):

* ``SAFER_SPACES_MAP_TILES`` / ``map_tiles``: ``osm`` (OpenStreetMap's standard tiles,
  the default), ``os`` (Ordnance Survey Maps API), ``none`` (the offline base layer only),
  or an ``https://`` URL template with ``{z}``, ``{x}`` and ``{y}``;
* ``SAFER_SPACES_OS_MAPS_KEY`` / ``os_maps_key``: the OS Maps API key, for ``os``;
* ``SAFER_SPACES_MAP_TILES_ATTRIBUTION`` / ``map_tiles_attribution``: for a URL template.

The offline layer (built-up areas from the density of postcodes in the ONS Postcode
Directory, and the town names of ``data/towns.csv``) is always drawn under the tiles, so
the map reads the same when the tiles are off or cannot load.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import streamlit as st

from config.settings import cache_dir, raw
from dashboard import loaders
from dashboard.layers import legend_sections
from dashboard.maps import (
    BaseTiles,
    PreparedMap,
    add_area_labels,
    add_district_outlines,
    add_legend,
    add_offline_base,
    add_ward_outlines,
    base_tiles,
    fullscreen,
    offline_areas,
    offline_map,
)
from geo.builtup import BNG, built_up_areas, town_ranks
from services.audience import Audience

__all__ = [
    "TOWNS_CSV",
    "offline_base",
    "offline_base_areas",
    "prepared_base",
    "tiles_from_settings",
]

TOWNS_CSV = Path(__file__).resolve().parents[1] / "data" / "towns.csv"


def tiles_from_settings() -> tuple[BaseTiles | None, str | None]:
    """Return the base tiles the deployment chose, and a problem to show if the setting is wrong.

    Returns
    -------
    tuple
        ``(tiles or None, message or None)``; a wrong setting gives no tiles and says why.
    """
    try:
        return (
            base_tiles(
                raw("map_tiles"),
                os_key=raw("os_maps_key"),
                attribution=raw("map_tiles_attribution"),
            ),
            None,
        )
    except ValueError as problem:
        return None, f"The base map is switched off: {problem}."


def _cache_file(codes: tuple[str, ...]) -> Path:
    digest = hashlib.sha256(",".join(sorted(codes)).encode()).hexdigest()[:16]
    return cache_dir() / f"built-up-v1-{digest}.parquet"


def _built_up(codes: tuple[str, ...]) -> gpd.GeoDataFrame:
    """Built-up areas of some districts, kept in the working folder after the first time."""
    path = _cache_file(codes)
    if path.exists():
        try:
            return gpd.read_parquet(path)
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
    from geo.postcodes import load_postcode_directory

    postcodes = load_postcode_directory(codes)
    areas = built_up_areas(postcodes["easting"].to_numpy(), postcodes["northing"].to_numpy())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        areas.to_parquet(path)
    except OSError:
        pass  # a read-only working folder: computed again next time
    return areas


@st.cache_resource(show_spinner="Drawing the offline base map…", max_entries=16)
def offline_base(
    codes: tuple[str, ...], district_names: dict[str, str]
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Return the built-up areas and the town names of some districts, in WGS84.

    Parameters
    ----------
    codes : tuple of str
        ONS district codes.
    district_names : dict of str to str
        District names by code: a town of the same name is labelled from district zoom.

    Returns
    -------
    tuple of geopandas.GeoDataFrame
        ``(built_up, towns)``, both EPSG:4326; towns have ``name`` and ``rank``.
    """
    built = _built_up(tuple(sorted(codes))).to_crs(4326)
    table = pd.read_csv(TOWNS_CSV)
    table = table.loc[table["district_code"].isin(codes)]
    ranks = town_ranks(table["weight"].to_numpy())
    # a town that names its district is labelled with the district at county zoom
    districts = set(district_names.values())
    ranks[table["name"].isin(districts).to_numpy() & (ranks < 2)] = 2
    towns = gpd.GeoDataFrame(
        {"name": table["name"].to_numpy(), "rank": ranks},
        geometry=gpd.points_from_xy(table["easting"], table["northing"]),
        crs=BNG,
    ).to_crs(4326)
    return built, towns


@st.cache_resource(max_entries=16)
def offline_base_areas(codes: tuple[str, ...], district_names: dict[str, str]) -> dict[str, Any]:
    """Return the built-up areas of :func:`offline_base` as GeoJSON, made once per districts.

    The map is drawn again on every click; this keeps the slow part (thousands of polygons
    turned into GeoJSON) out of it. The dict is shared: do not change it.
    """
    return offline_areas(offline_base(codes, district_names)[0])


def prepared_base(audience: Audience, version: str, tiles: BaseTiles | None) -> PreparedMap:
    """Return the Map's base map for an audience, rendered once per process and shared.

    The base shows only what the audience may see whatever the filters: its outlines and
    wards, the offline base and the legend. The Map page draws its data layers on it, and
    the warm-up (``dashboard.warm``) renders it before anyone asks: for all England it is
    about 4 s of work.

    Parameters
    ----------
    audience : services.audience.Audience
        Who sees it: their districts and disclosure.
    version : str
        The data version (``loaders.data_version``).
    tiles : dashboard.maps.BaseTiles or None
        The deployment's tiles (:func:`tiles_from_settings`); None for the offline base.
    """
    outlines, wards_wgs84 = loaders.map_outlines(audience, version)

    def build() -> Any:
        mine = loaders.districts_for(audience, version, ())
        names = dict(zip(mine["code"], mine["name"], strict=True))
        key = (tuple(sorted(audience.districts)), names)
        built_up, towns = offline_base(*key)
        m = offline_map(bounds=tuple(outlines.total_bounds), base=tiles, fit=False)
        add_offline_base(m, built_up=built_up, towns=towns, areas=offline_base_areas(*key))
        approximate = bool(mine["source"].str.startswith("approximate").any())
        add_district_outlines(m, outlines, approximate=approximate)
        if not wards_wgs84.empty:
            wards = loaders.wards_for(audience, version)
            approximate = bool(wards["source"].str.startswith("approximate").any())
            add_ward_outlines(m, wards_wgs84, approximate=approximate)
        add_area_labels(m, outlines)
        fullscreen(position="topleft").add_to(m)
        add_legend(m, legend_sections(k=audience.k, points=audience.points))
        return m

    signature = (version, repr(audience), repr(tiles), str(wards_wgs84.empty))
    return loaders.prepared_base_map(signature, build)
