"""Locating rows in British National Grid and placing them in the area, then snapping them.

Coordinates come from longitude/latitude, easting/northing, or a postcode in
the ONS Postcode Directory; a row that cannot be located is reported, never
guessed. Latitude and longitude given the wrong way round, and eastings and
northings put in longitude and latitude columns, are recognised by their ranges.
The area is the districts stored in the database; points in none of them are
"outside the area". Snapping moves each point to the centre of its grid
square, or a smaller square when that centre would cross into another district,
or onto a register place within a set distance in the same district.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from sqlalchemy import Connection, select

from geo.anonymise import snap_to_grid
from geo.points import BNG, WGS84
from geo.postcodes import FOUND, NOT_A_POSTCODE, NOT_IN_DIRECTORY, lookup_postcodes
from store.models import District, Place, Ward

__all__ = [
    "Area",
    "Located",
    "assign",
    "link_places",
    "load_area",
    "locate",
    "snap_within_districts",
]

# Generous bounds of the United Kingdom and of British National Grid.
_LON = (-9.0, 2.5)
_LAT = (49.5, 61.5)
_EAST = (0.0, 700_000.0)
_NORTH = (0.0, 1_300_000.0)


@dataclass(frozen=True)
class Area:
    """The configured area: district and ward outlines and the place register, in EPSG:27700."""

    district_codes: np.ndarray
    district_geoms: np.ndarray
    ward_codes: np.ndarray
    ward_geoms: np.ndarray
    place_ids: np.ndarray
    place_xy: np.ndarray
    place_districts: np.ndarray

    @property
    def empty(self) -> bool:
        """Return True when no district is stored."""
        return len(self.district_codes) == 0


def load_area(connection: Connection) -> Area:
    """Read the districts, wards and active places from the database."""
    districts = connection.execute(select(District.code, District.geometry_wkb)).all()
    wards = connection.execute(select(Ward.code, Ward.geometry_wkb)).all()
    places = connection.execute(
        select(Place.id, Place.easting, Place.northing, Place.district_code).where(
            Place.active.is_(True), Place.easting.is_not(None), Place.northing.is_not(None)
        )
    ).all()
    return Area(
        district_codes=np.array([r[0] for r in districts], dtype=object),
        district_geoms=shapely.from_wkb([r[1] for r in districts]),
        ward_codes=np.array([r[0] for r in wards], dtype=object),
        ward_geoms=shapely.from_wkb([r[1] for r in wards]),
        place_ids=np.array([r[0] for r in places], dtype=np.int64),
        place_xy=np.array([(r[1], r[2]) for r in places], dtype=float).reshape(-1, 2),
        place_districts=np.array([r[3] for r in places], dtype=object),
    )


@dataclass
class Located:
    """Where each row is: BNG metres (NaN where not located) and why not, row by row."""

    easting: np.ndarray
    northing: np.ndarray
    problem: np.ndarray  # "" where located or not asked for; else the reason
    problem_column: np.ndarray
    swapped: int = 0
    bng_in_lonlat: int = 0
    lonlat_in_bng: int = 0
    by_postcode: int = 0


@lru_cache(maxsize=1)
def _wgs84_to_bng() -> Transformer:
    return Transformer.from_crs(WGS84, BNG, always_xy=True)


def _between(values: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    return (values >= bounds[0]) & (values <= bounds[1])


def _numbers(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Return a column as floats and where it holds text that is not a number."""
    if column not in frame:
        empty = np.full(len(frame), np.nan)
        return empty, np.zeros(len(frame), dtype=bool)
    text = frame[column].astype(str).str.strip()
    number = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64")
    return number, np.isnan(number) & (text != "").to_numpy(bool)


def locate(frame: pd.DataFrame) -> Located:
    """Find each row's point in British National Grid.

    Parameters
    ----------
    frame
        Rows with any of the fields ``longitude``, ``latitude``, ``easting``,
        ``northing`` and ``postcode`` as strings.

    Returns
    -------
    Located
        Coordinates in EPSG:27700 metres; where a row gave a location that
        cannot be used, ``problem`` says why (and NaN coordinates). A row that
        gave no location at all has NaN and no problem: the caller decides.
    """
    size = len(frame)
    e = np.full(size, np.nan)
    n = np.full(size, np.nan)
    problem = np.full(size, "", dtype=object)
    column = np.full(size, "", dtype=object)
    result = Located(e, n, problem, column)

    lon, bad_lon = _numbers(frame, "longitude")
    lat, bad_lat = _numbers(frame, "latitude")
    east, bad_east = _numbers(frame, "easting")
    north, bad_north = _numbers(frame, "northing")

    def take(a: np.ndarray, b: np.ndarray, crs_lonlat: np.ndarray, where: np.ndarray) -> None:
        todo = where & np.isnan(e)
        geo = todo & crs_lonlat
        if geo.any():
            x, y = _wgs84_to_bng().transform(a[geo], b[geo])
            e[geo], n[geo] = x, y
        grid = todo & ~crs_lonlat
        e[grid], n[grid] = a[grid], b[grid]

    for a, b, given_lonlat in ((lon, lat, True), (east, north, False)):
        both = ~np.isnan(a) & ~np.isnan(b)
        as_lonlat = both & _between(a, _LON) & _between(b, _LAT)
        swapped = both & ~as_lonlat & _between(b, _LON) & _between(a, _LAT)
        as_bng = (
            both
            & ~as_lonlat
            & ~swapped
            & _between(a, _EAST)
            & _between(b, _NORTH)
            & ((np.abs(a) > 180) | (np.abs(b) > 90))
        )
        take(a, b, np.ones(size, dtype=bool), as_lonlat)
        take(b, a, np.ones(size, dtype=bool), swapped)
        take(a, b, np.zeros(size, dtype=bool), as_bng)
        if given_lonlat:
            result.swapped += int((swapped & np.isfinite(e)).sum())
            result.bng_in_lonlat += int(as_bng.sum())
        else:
            result.lonlat_in_bng += int((as_lonlat | swapped).sum())
            result.swapped += int(swapped.sum())
        unusable = both & ~as_lonlat & ~swapped & ~as_bng & np.isnan(e)
        name = "longitude/latitude" if given_lonlat else "easting/northing"
        problem[unusable & (problem == "")] = (
            "the coordinates are not in the United Kingdom (check the columns and their units)"
        )
        column[unusable & (column == "")] = name

    unreadable = (bad_lon | bad_lat | bad_east | bad_north) & np.isnan(e)
    half = (
        np.isnan(e)
        & ~unreadable
        & (np.isnan(lon) ^ np.isnan(lat) | np.isnan(east) ^ np.isnan(north))
    )
    problem[unreadable & (problem == "")] = "the coordinates are not numbers"
    column[unreadable & (column == "")] = "longitude/latitude"
    problem[half & (problem == "")] = "only one of the two coordinates is given"
    column[half & (column == "")] = "longitude/latitude"

    located = np.isfinite(e)
    problem[located] = ""
    column[located] = ""
    if "postcode" in frame:
        todo = np.isnan(e)
        if todo.any():
            # each distinct value looked up once (a file repeats its postcodes)
            codes, uniques = pd.factorize(
                frame["postcode"][todo].to_numpy(dtype=object), use_na_sentinel=False
            )
            looked = lookup_postcodes(uniques)
            pe, pn = looked["easting"].to_numpy()[codes], looked["northing"].to_numpy()[codes]
            status = looked["status"].to_numpy()[codes]
            found = status == FOUND
            rows = np.flatnonzero(todo)
            e[rows[found]], n[rows[found]] = pe[found], pn[found]
            problem[rows[found]] = ""
            column[rows[found]] = ""
            result.by_postcode = int(found.sum())
            for code, reason in (
                (NOT_A_POSTCODE, "is not a UK postcode"),
                (
                    NOT_IN_DIRECTORY,
                    "is not in the ONS Postcode Directory (mistyped, or not a real postcode)",
                ),
            ):
                where = rows[status == code]
                unset = where[problem[where] == ""]
                problem[unset] = f"the postcode {reason}"
                column[unset] = "postcode"
    return result


def assign(codes: np.ndarray, geoms: np.ndarray, e: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Return, for each point, the index of the polygon that holds it (-1 for none).

    A point on a shared edge goes to the first polygon that holds it. Each
    polygon tests only the points inside its bounding box, with a prepared
    geometry.
    """
    out = np.full(len(e), -1, dtype=np.int64)
    if not len(codes):
        return out
    finite = np.isfinite(e) & np.isfinite(n)
    bounds = shapely.bounds(geoms)
    for index, geom in enumerate(geoms):
        x0, y0, x1, y1 = bounds[index]
        todo = np.flatnonzero(finite & (out < 0) & (e >= x0) & (e <= x1) & (n >= y0) & (n <= y1))
        if not len(todo):
            continue
        shapely.prepare(geom)
        inside = shapely.contains_xy(geom, e[todo], n[todo])
        out[todo[inside]] = index
    return out


def snap_within_districts(
    area: Area, e: np.ndarray, n: np.ndarray, district: np.ndarray, *, cell_size: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Snap points to grid-square centres that stay in each point's own district.

    A point whose square centre lies in another district (or outside the area)
    is snapped to the centre of a square half the size, and so on down to 1 m.

    Returns
    -------
    tuple
        Snapped eastings and northings, and how many points needed a smaller square.
    """
    se, sn = snap_to_grid(e, n, cell_size=cell_size)
    located = district >= 0
    moved = located & (assign(area.district_codes, area.district_geoms, se, sn) != district)
    smaller = int(moved.sum())
    size = cell_size
    while moved.any() and size > 1.0:
        size /= 2.0
        rows = np.flatnonzero(moved)
        te, tn = snap_to_grid(e[rows], n[rows], cell_size=size)
        se[rows], sn[rows] = te, tn
        still = assign(area.district_codes, area.district_geoms, te, tn) != district[rows]
        moved = np.zeros(len(e), dtype=bool)
        moved[rows[still]] = True
    return se, sn, smaller


def link_places(
    area: Area, e: np.ndarray, n: np.ndarray, district: np.ndarray, *, radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return the nearest register place within ``radius`` m in the same district, and its distance.

    Returns
    -------
    tuple of numpy.ndarray
        Place ids (-1 for none) and distances in metres (inf for none).
    """
    ids = np.full(len(e), -1, dtype=np.int64)
    distance = np.full(len(e), np.inf)
    finite = np.isfinite(e) & (district >= 0)
    if not len(area.place_ids) or not finite.any() or radius <= 0:
        return ids, distance
    rows = np.flatnonzero(finite)
    from scipy.spatial import cKDTree  # here, not at start-up: 0.2 s only places need

    dist, index = cKDTree(area.place_xy).query(
        np.column_stack([e[rows], n[rows]]), distance_upper_bound=radius
    )
    hit = np.isfinite(dist)
    same = np.zeros(len(rows), dtype=bool)
    same[hit] = area.place_districts[index[hit]] == area.district_codes[district[rows[hit]]]
    ids[rows[same]] = area.place_ids[index[same]]
    distance[rows[same]] = dist[same]
    return ids, distance
