"""The ``hotspots`` and ``emerging`` commands of the ``safer-spaces`` command line.

Both read any CSV with longitude/latitude (or easting/northing) columns, such as
the police.uk street-level CSV, and write GeoJSON or CSV according to the
``--out`` extension. Every cell of the area is written, as its whole square or
hexagon in WGS84. Problems are reported on one line on stderr with exit status 2.

The area, ``--area``, is district codes (comma separated, e.g.
``E07000192,E07000197``, built by :func:`geo.boundaries.district_boundaries`) or
a boundary file (GeoJSON, GeoPackage, Shapefile; any CRS; all its polygons
together). Without ``--area`` the area is the districts that hold at least 1 per
cent of the incidents, each incident being assigned to the district of its
nearest postcode in the ONS Postcode Directory; incidents outside those
districts are left out and their number printed.

p-values are exact randomisation p-values by default (``--p-values``, see
:mod:`geo.hotspots`). Both commands print a note when the cells are too small
for the number of incidents (with a suggested size) and when the incidents
cover much less than the area.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Heavy libraries (geopandas, scipy, h3, the analysis modules) are imported inside the
# functions that use them, so that the command line starts at once and ``--help`` or
# a usage error never waits for them.
if TYPE_CHECKING:
    import geopandas as gpd
    import numpy as np

    from geo.points import PeriodFreq

__all__ = ["default_area", "main", "read_area", "register"]

_AREA_SHARE = 0.01
# Mirrors of the analysis modules' defaults, for the parser (tests/geo/test_commands_fast.py
# checks that they agree with geo.grid.DEFAULT_CELL_SIZE, geo.hotspots.P_VALUES and
# geo.hotspots.DEFAULT_MIN_SHARE).
DEFAULT_CELL_SIZE = 250.0
P_VALUES: tuple[str, ...] = ("exact", "normal", "permutation")
DEFAULT_MIN_SHARE = 0.5
_OUTPUTS = (".geojson", ".json", ".csv")

_AREA_HELP = (
    "district codes, comma separated (e.g. E07000192,E07000197), or a boundary file "
    "(GeoJSON, GeoPackage, Shapefile; any CRS). Default: the districts holding at least "
    "1%% of the incidents (by nearest postcode); incidents outside them are counted and "
    "left out."
)


def read_area(spec: str) -> gpd.GeoDataFrame:
    """Return the area named on the command line, in British National Grid.

    Parameters
    ----------
    spec
        A path to a boundary file, or district codes separated by commas.

    Returns
    -------
    geopandas.GeoDataFrame
        The area's polygons, EPSG:27700.

    Raises
    ------
    HotspotInputError
        When the file cannot be read or has no CRS or polygons.
    geo.boundaries.BoundaryError
        When a district code is unknown.
    """
    import geopandas as gpd

    from geo.points import BNG, HotspotInputError

    path = Path(spec)
    looks_like_file = path.suffix.lower() in (".geojson", ".json", ".gpkg", ".shp", ".zip")
    if path.exists() or looks_like_file:
        if not path.is_file():
            raise HotspotInputError(f"There is no boundary file at {path}.")
        try:
            frame = gpd.read_file(path)
        except Exception as exc:  # pyogrio raises several types for unreadable files
            raise HotspotInputError(f"Cannot read the boundary file {path.name}: {exc}") from None
        if frame.crs is None:
            raise HotspotInputError(
                f"The boundary file {path.name} does not say its coordinate reference system."
            )
        polygons = frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
        if not polygons.any():
            raise HotspotInputError(f"The boundary file {path.name} holds no polygons.")
        return frame.loc[polygons].to_crs(BNG)
    codes = [c.strip().upper() for c in spec.split(",") if c.strip()]
    if not codes:
        raise HotspotInputError("--area is empty: give district codes or a boundary file.")
    from geo.boundaries import district_boundaries

    return district_boundaries(codes)


def default_area(
    points: gpd.GeoDataFrame | tuple[np.ndarray, np.ndarray], *, share: float = _AREA_SHARE
) -> gpd.GeoDataFrame:
    """Return the districts that hold at least ``share`` of the incidents.

    Each incident is assigned to the district of its nearest postcode in the ONS
    Postcode Directory; the boundaries come from
    :func:`geo.boundaries.district_boundaries` (EPSG:27700).

    Parameters
    ----------
    points
        Incident points with a CRS, or their eastings and northings (EPSG:27700).
    share
        The smallest share of incidents for a district to be included.

    Returns
    -------
    geopandas.GeoDataFrame
        District boundaries, EPSG:27700.

    Raises
    ------
    HotspotInputError
        When there are no incidents or no district holds enough of them.
    """
    import numpy as np
    import pandas as pd
    from scipy.spatial import cKDTree

    from geo.boundaries import district_boundaries
    from geo.points import HotspotInputError, bng_xy
    from geo.postcodes import load_postcode_directory

    x, y = points if isinstance(points, tuple) else bng_xy(points)
    if x.size == 0:
        raise HotspotInputError("There are no incidents, so there is no area to analyse.")
    directory = load_postcode_directory()
    e = directory["easting"].to_numpy()
    n = directory["northing"].to_numpy()
    margin = 10_000.0
    near = (e > x.min() - margin) & (e < x.max() + margin) & (n > y.min() - margin)
    near &= n < y.max() + margin
    if not near.any():
        raise HotspotInputError(
            "No UK postcode lies near the incidents; pass --area with a boundary file."
        )
    codes = directory["district_code"].astype(str).to_numpy()[near]
    _, nearest = cKDTree(np.column_stack((e[near], n[near]))).query(np.column_stack((x, y)))
    share_by_code = pd.Series(codes[nearest]).value_counts(normalize=True)
    chosen = sorted(share_by_code.index[share_by_code >= share])
    if not chosen:
        raise HotspotInputError("No district holds enough incidents; pass --area.")
    return district_boundaries(chosen)


def _check_out(out: str) -> Path:
    from geo.points import HotspotInputError

    path = Path(out)
    if path.suffix.lower() not in _OUTPUTS:
        raise HotspotInputError(
            f"--out must end in .geojson or .csv (the format follows the extension), not {out!r}."
        )
    if not path.parent.exists():
        raise HotspotInputError(f"The folder {path.parent} does not exist.")
    return path


def _write(frame: gpd.GeoDataFrame, path: Path) -> None:
    """Write the cells: GeoJSON, or CSV with each cell's centre and WKT outline (WGS84).

    The cells may come in British National Grid or WGS84; either way their outlines are
    projected once (a polygon transform is the costly part of writing), and the centres,
    taken in metres, as points.
    """
    import pandas as pd

    from geo.points import BNG, WGS84

    if path.suffix.lower() != ".csv":
        _write_geojson(frame, path)
        return
    table = pd.DataFrame(frame.drop(columns="geometry"))
    in_metres = frame.crs is not None and frame.crs.equals(BNG)
    metric = frame.geometry if in_metres else frame.geometry.to_crs(BNG)
    shown = frame.geometry.to_crs(WGS84) if in_metres else frame.geometry
    centres = metric.centroid.to_crs(WGS84)
    table["longitude"] = centres.x.round(6)
    table["latitude"] = centres.y.round(6)
    table["wkt"] = shown.to_wkt(rounding_precision=7)
    table.to_csv(path, index=False)


def _write_geojson(frame: gpd.GeoDataFrame, path: Path, *, digits: int = 7) -> None:
    """Write the cells as a GeoJSON FeatureCollection (RFC 7946: WGS84, no ``crs``).

    Five times faster than GDAL's writer for tens of thousands of cells: the geometries
    are written by GEOS (``shapely.to_geojson``, coordinates rounded to ``digits``
    decimals, 1 cm) and the properties by pandas, one line per feature.
    """
    import numpy as np
    import shapely

    from geo.points import WGS84

    geometry = frame.geometry.to_crs(WGS84) if frame.crs is not None else frame.geometry
    rounded = shapely.transform(np.asarray(geometry.array), lambda xy: np.round(xy, digits))
    shapes = shapely.to_geojson(rounded)
    table = frame.drop(columns="geometry")
    properties = (
        table.to_json(orient="records", lines=True, double_precision=15, force_ascii=False)
        .rstrip("\n")
        .split("\n")  # JSON escapes newlines inside strings: each line is one record
        if len(table)
        else []
    )
    features = ",\n".join(
        f'{{"type":"Feature","properties":{p},"geometry":{g or "null"}}}'
        for p, g in zip(properties, shapes, strict=True)
    )
    path.write_text(
        '{"type":"FeatureCollection","features":[\n' + features + "\n]}\n", encoding="utf-8"
    )


def _load(
    args: argparse.Namespace, *, freq: PeriodFreq = "month", periods: bool = True
) -> tuple[gpd.GeoDataFrame | tuple[np.ndarray, np.ndarray], gpd.GeoDataFrame, str]:
    from geo.points import read_points_csv, read_points_xy

    if periods:
        points: Any = read_points_csv(
            args.input, x=args.x, y=args.y, period_column=args.period_column, freq=freq
        )
    else:  # hot spots pool every row: only the coordinates are read (pyarrow)
        points = read_points_xy(args.input, x=args.x, y=args.y)
    if args.area:
        return points, read_area(args.area), f"area {args.area}"
    area = default_area(points)
    codes = ", ".join(str(c) for c in area["code"]) if "code" in area.columns else "?"
    return points, area, f"area {codes} (districts with at least 1% of the incidents)"


def _p_values(args: argparse.Namespace) -> str:
    if args.p_values is None:  # --permutations N alone still means permutation p-values
        return "permutation" if getattr(args, "permutations", 0) else "exact"
    return str(args.p_values)


def _hotspots(args: argparse.Namespace) -> int:
    from geo.grid import build_grid
    from geo.hotspots import hotspot_cells
    from geo.points import BNG, WGS84

    out = _check_out(args.out)
    start = time.perf_counter()
    points, area, where = _load(args, periods=False)
    grid = build_grid(area, cell_size=args.cell_size, kind=args.grid)
    p_values = _p_values(args)
    cells = hotspot_cells(
        points,
        grid,
        crs=BNG if out.suffix.lower() == ".csv" else WGS84,  # CSV: centres taken in metres
        corrected=not args.uncorrected,
        inference=p_values,  # type: ignore[arg-type]
        min_share=args.min_share,
        permutations=args.permutations or 999,
        seed=args.seed,
    )
    test = cells["p"] if args.uncorrected else cells["q"]
    cells["significant"] = (test < args.alpha).to_numpy()
    _write(cells, out)
    bins = cells["bin"].to_numpy()
    hot = ", ".join(f"{int((bins == b).sum())} at {lvl}" for b, lvl in _LEVEL_NAMES)
    cold = ", ".join(f"{int((bins == -b).sum())} at {lvl}" for b, lvl in _LEVEL_NAMES)
    sig = int((cells["significant"] & (cells["gi_z"] > 0)).sum())
    view = "uncorrected p" if args.uncorrected else "FDR q"
    left_out = int((~cells["analysed"]).sum())
    print(
        f"hotspots: {grid.n_cells:,} cells ({args.grid} {args.cell_size:g} m, {where}); "
        f"{cells.attrs['points_total'] - cells.attrs['points_outside']:,} incidents in the area, "
        f"{cells.attrs['points_outside']:,} outside; {left_out:,} edge cells left out "
        f"(under {args.min_share:.0%} inside, {cells.attrs['points_edge']:,} incidents); "
        f"{p_values} p-values; hot cells {hot}; cold cells {cold}; "
        f"{sig} hot at {view} < {args.alpha:g}; {time.perf_counter() - start:.1f} s; "
        f"wrote {out}"
    )
    return 0


_LEVEL_NAMES = ((3, "99%"), (2, "95%"), (1, "90%"))


def _emerging(args: argparse.Namespace) -> int:
    import numpy as np

    from geo.emerging import ESRI_CATEGORIES, emerging_cells, emerging_hotspots
    from geo.grid import build_grid
    from geo.hotspots import cell_size_advice, coverage_message, coverage_share
    from geo.points import HotspotInputError

    out = _check_out(args.out)
    start = time.perf_counter()
    points, area, where = _load(args, freq=args.period)
    assert not isinstance(points, tuple)
    if "period" not in points.columns:
        raise HotspotInputError(
            f"{Path(args.input).name} has no Month or date column; name it with --period-column."
        )
    grid = build_grid(area, cell_size=args.cell_size, kind=args.grid)
    p_values = _p_values(args)
    result = emerging_hotspots(
        points,
        grid,
        period_column="period",
        freq=args.period,
        alpha=args.alpha,
        p_values=p_values,  # type: ignore[arg-type]
        fdr=args.fdr,
        neighbourhood=args.neighbourhood,
        min_share=args.min_share,
    )
    analysed = result.analysed if result.analysed is not None else np.ones(grid.n_cells, bool)
    per_step = round(float(result.counts[:, analysed].sum()) / len(result.periods))
    advice = cell_size_advice(per_step, grid, min_share=args.min_share)
    if per_step and advice.too_small:
        warnings.warn(f"Per {args.period}: {advice.message()}", UserWarning, stacklevel=2)
    coverage = coverage_share(result.counts, grid)
    if result.counts.sum() > 0 and coverage < 1 / 3:
        warnings.warn(coverage_message(coverage), UserWarning, stacklevel=2)
    cells = emerging_cells(result, grid)
    _write(cells, out)
    counts = cells["category"].value_counts()
    shown = ", ".join(
        f"{int(counts[c])} {c}" for c in ESRI_CATEGORIES if c in counts and "No Pattern" not in c
    )
    print(
        f"emerging: {grid.n_cells:,} cells ({args.grid} {args.cell_size:g} m, {where}) over "
        f"{len(result.periods)} {args.period}s {result.periods[0]} to {result.periods[-1]}; "
        f"{result.points_outside:,} incidents outside the area; {p_values} p-values, FDR per "
        f"{args.fdr}, {args.neighbourhood} neighbours; {shown or 'no pattern anywhere'}; "
        f"{time.perf_counter() - start:.1f} s; wrote {out}"
    )
    return 0


def _guarded(handler: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                status = int(handler(args))
            except (ValueError, OSError) as exc:  # HotspotInputError, BoundaryError...
                status = 2
                message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                print(f"safer-spaces {args.command}: error: {message}", file=sys.stderr)
        for warning in caught:
            if issubclass(warning.category, UserWarning):
                print(f"safer-spaces {args.command}: note: {warning.message}", file=sys.stderr)
        return status

    return run


def _common(parser: argparse.ArgumentParser, *, cell_size: float) -> None:
    parser.add_argument("input", help="CSV of incidents with Longitude/Latitude columns")
    parser.add_argument(
        "--out", required=True, help="output file: .geojson (WGS84 polygons) or .csv"
    )
    parser.add_argument(
        "--cell-size",
        type=float,
        default=cell_size,
        help="cell size in metres (default %(default)g); for h3 the hexagon of similar area",
    )
    parser.add_argument(
        "--grid",
        choices=["bng", "h3"],
        default="bng",
        help="bng: British National Grid squares; h3: H3 hexagons (default %(default)s)",
    )
    parser.add_argument("--area", help=_AREA_HELP)
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level")
    parser.add_argument(
        "--p-values",
        choices=list(P_VALUES),
        default=None,
        help="exact (default): exact randomisation p-values, the counts dealt out to the "
        "cells at random, computed exactly; normal: the normal curve, as esda and ArcGIS "
        "(over-calls sparse counts, often many times over); permutation: esda's "
        "conditional permutations (small areas only)",
    )
    parser.add_argument(
        "--min-share",
        type=float,
        default=DEFAULT_MIN_SHARE,
        metavar="SHARE",
        help="leave out edge cells with less than this share of their area inside the area "
        "(default %(default)g; 0 keeps every cell)",
    )
    parser.add_argument("--x", metavar="COLUMN", help="longitude/easting column if not detected")
    parser.add_argument("--y", metavar="COLUMN", help="latitude/northing column if not detected")


def register(subparsers: Any) -> None:
    """Add the ``hotspots`` and ``emerging`` commands to an argparse subparsers object.

    Each command's handler is stored as ``handler`` in the parsed arguments and
    returns the exit status (0, or 2 after a one-line error on stderr).

    Parameters
    ----------
    subparsers
        From ``ArgumentParser.add_subparsers()``.
    """
    fmt = argparse.RawDescriptionHelpFormatter
    hot = subparsers.add_parser(
        "hotspots",
        help="Find Getis-Ord Gi* hot and cold spots of incidents on a grid.",
        formatter_class=fmt,
        description=(
            "Count incidents in grid cells over the area and find hot and cold spots with\n"
            "Getis-Ord Gi* (each cell with its 8 or 6 neighbours), two-sided p-values\n"
            "(exact randomisation by default) and Benjamini-Hochberg false discovery rate\n"
            "control over the cells. Writes every cell with cell_id, count, gi_z, p, q\n"
            "(FDR-adjusted p), bin (3/2/1 hot at 99/95/90%, negative for cold, 0\n"
            "otherwise), inside_share, analysed and significant (q < --alpha)."
        ),
        epilog="example: safer-spaces hotspots street.csv --cell-size 250 --out cells.geojson",
    )
    _common(hot, cell_size=DEFAULT_CELL_SIZE)
    hot.add_argument(
        "--period-column", default="", help=argparse.SUPPRESS
    )  # hot spots pool all rows
    hot.add_argument(
        "--uncorrected",
        action="store_true",
        help="bin on uncorrected p-values (shows more cells, some of them chance)",
    )
    hot.add_argument(
        "--permutations",
        type=int,
        default=0,
        metavar="N",
        help="number of draws for --p-values permutation (alone, it implies it); small "
        "areas only (under 10,000 cells): with many cells no permutation p-value can pass FDR",
    )
    hot.add_argument("--seed", type=int, default=None, help="random seed for --permutations")
    hot.set_defaults(handler=_guarded(_hotspots))

    emerging = subparsers.add_parser(
        "emerging",
        help="Classify cells into Esri Emerging Hot Spot categories over time.",
        formatter_class=fmt,
        description=(
            "Compute Gi* for each period (exact p-values by default), Mann-Kendall trends\n"
            "of each cell's z-scores and of its counts, and Esri's categories (New,\n"
            "Consecutive, Intensifying, Persistent, Diminishing, Sporadic, Oscillating,\n"
            "Historical Hot/Cold Spot, No Pattern Detected) plus simple ones (Persistent,\n"
            "Emerging, Former, Intermittent). Intensifying and Diminishing need the trend\n"
            "of z and the trend of the cell's own counts to agree (z alone moves with the\n"
            "neighbours and the month); a cell with no incident in the window is No\n"
            "Pattern Detected. Writes every cell with cell_id, category, simple_category,\n"
            "mk_tau, mk_p, count_tau, count_p, count, hot_periods and cold_periods."
        ),
        epilog="example: safer-spaces emerging street.csv --period month --out cells.geojson",
    )
    _common(emerging, cell_size=500.0)
    emerging.add_argument(
        "--period",
        choices=["month", "quarter"],
        default="month",
        help="time step (default %(default)s)",
    )
    emerging.add_argument(
        "--period-column",
        default=None,
        metavar="COLUMN",
        help="the month or date column (default: Month, period or date)",
    )
    emerging.add_argument(
        "--fdr",
        choices=["step", "cube"],
        default="step",
        help="the false discovery rate family: step (default) = each period's cells are one "
        "family, so a period's calls do not change when the window grows; cube = every cell "
        "of every period together (stricter as the window grows)",
    )
    emerging.add_argument(
        "--neighbourhood",
        choices=["space", "space-time"],
        default="space",
        help="space (default): the cell and its neighbours in the same period; space-time: "
        "also the same cells in the previous period, as Esri's space-time cube",
    )
    emerging.set_defaults(handler=_guarded(_emerging), permutations=0)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``hotspots`` or ``emerging`` as the command line would; return the exit status.

    Parameters
    ----------
    argv
        The arguments after the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    int
        0 on success, 2 for bad input or usage.
    """
    parser = argparse.ArgumentParser(prog="safer-spaces")
    register(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its message
        return int(exc.code) if isinstance(exc.code, int) else 2
    return int(args.handler(args))
