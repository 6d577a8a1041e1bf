"""Incident points: reading them from CSV files and frames, and checking them.

Points may arrive in any coordinate reference system, but they must state one.
The analysis works in British National Grid (EPSG:27700); :func:`bng_xy` gives
the projected coordinates after checking that every point is usable.

Problems are reported with :class:`HotspotInputError`, a :class:`ValueError`
whose message is written for the council officer who supplied the file, and
harmless surprises (rows without a location) with :class:`HotspotWarning`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

__all__ = [
    "BNG",
    "COORDINATE_NAMES",
    "WGS84",
    "HotspotInputError",
    "HotspotWarning",
    "PeriodFreq",
    "bng_xy",
    "detect_coordinate_columns",
    "detect_period_column",
    "drawable",
    "parse_periods",
    "points_from_frame",
    "read_points_csv",
    "read_points_xy",
    "validate_points",
]

BNG = "EPSG:27700"
"""British National Grid: the CRS of all metric work."""

WGS84 = "EPSG:4326"
"""Longitude and latitude: the CRS of display output."""

PeriodFreq = Literal["month", "quarter"]
"""The time steps the analysis understands."""

COORDINATE_NAMES: dict[str, tuple[str, ...]] = {
    "longitude": ("longitude", "lon", "lng", "long", "x_longitude", "wgs84_lon", "x_lon"),
    "latitude": ("latitude", "lat", "y_latitude", "wgs84_lat", "y_lat"),
    "easting": (
        "easting", "eastings", "x_bng", "bng_easting", "bng_e", "os_easting", "oseast1m", "x",
        "geometry_easting",
    ),
    "northing": (
        "northing", "northings", "y_bng", "bng_northing", "bng_n", "os_northing", "osnrth1m",
        "y", "geometry_northing",
    ),
}  # fmt: skip
"""The one list of column names (lower case, spaces and hyphens as ``_``) read as
coordinates: by the hot-spot commands and by imports (``services.imports.columns``)."""
_LON_NAMES = COORDINATE_NAMES["longitude"]
_LAT_NAMES = COORDINATE_NAMES["latitude"]
_EAST_NAMES = COORDINATE_NAMES["easting"]
_NORTH_NAMES = COORDINATE_NAMES["northing"]
_PERIOD_NAMES = ("month", "period", "date", "incident_date", "occurred", "time")

# British National Grid's valid extent (metres), with a margin for the sea.
_BNG_BOUNDS = (-100_000.0, -100_000.0, 800_000.0, 1_400_000.0)


class HotspotInputError(ValueError):
    """Input the hot-spot analysis cannot use; the message says what and how to fix it."""


class HotspotWarning(UserWarning):
    """Something the reader of a hot-spot result should know, such as rows left out."""


def _norm(name: object) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


def _rows(index: np.ndarray, *, limit: int = 3, offset: int = 2) -> str:
    """Return CSV line numbers ('rows 2, 5 and 9 and 4 more') for positional indices."""
    lines = [str(int(i) + offset) for i in index[:limit]]
    text = ", ".join(lines[:-1]) + (" and " if len(lines) > 1 else "") + lines[-1]
    more = len(index) - limit
    return f"{'rows' if len(index) > 1 else 'row'} {text}" + (
        f" and {more} more" if more > 0 else ""
    )


def detect_coordinate_columns(columns: Sequence[object]) -> tuple[str, str, str]:
    """Find the coordinate columns of a table by their names.

    Longitude and latitude columns (``Longitude``, ``lon``, ``lng``, ``Latitude``,
    ``lat``...) are preferred, then easting and northing in British National Grid.

    Parameters
    ----------
    columns
        The column names, in any case and spacing.

    Returns
    -------
    tuple of str
        The x column, the y column and their CRS (``"EPSG:4326"`` or ``"EPSG:27700"``).

    Raises
    ------
    HotspotInputError
        When no pair of coordinate columns is recognised; the message lists the
        columns found.

    Examples
    --------
    >>> detect_coordinate_columns(["Month", "Longitude", "Latitude"])
    ('Longitude', 'Latitude', 'EPSG:4326')
    >>> detect_coordinate_columns(["ref", "Easting", "Northing"])
    ('Easting', 'Northing', 'EPSG:27700')
    """
    by_norm: dict[str, str] = {}
    for column in columns:
        by_norm.setdefault(_norm(column), str(column))
    for xs, ys, crs in ((_LON_NAMES, _LAT_NAMES, WGS84), (_EAST_NAMES, _NORTH_NAMES, BNG)):
        x = next((by_norm[n] for n in xs if n in by_norm), None)
        y = next((by_norm[n] for n in ys if n in by_norm), None)
        if x is not None and y is not None:
            return x, y, crs
    found = ", ".join(str(c) for c in columns) or "none"
    raise HotspotInputError(
        "Could not find coordinate columns: expected Longitude and Latitude (or Easting "
        f"and Northing) but the file has these columns: {found}."
    )


def detect_period_column(columns: Sequence[object]) -> str | None:
    """Return the column that holds each incident's month or date, if there is one.

    Parameters
    ----------
    columns
        The column names.

    Returns
    -------
    str or None
        The first of ``Month``, ``period``, ``date``... present (any case), else None.

    Examples
    --------
    >>> detect_period_column(["Crime ID", "Month", "Longitude"])
    'Month'
    >>> detect_period_column(["x", "y"]) is None
    True
    """
    by_norm: dict[str, str] = {}
    for column in columns:
        by_norm.setdefault(_norm(column), str(column))
    return next((by_norm[n] for n in _PERIOD_NAMES if n in by_norm), None)


def parse_periods(values: pd.Series | Sequence[object], *, freq: PeriodFreq = "month") -> pd.Series:
    """Turn months or dates (``"2021-08"``, ``"2021-08-14"``, Periods) into Periods.

    Parameters
    ----------
    values
        One value per incident.
    freq
        ``"month"`` or ``"quarter"``: the time step the values are rounded down to.

    Returns
    -------
    pandas.Series
        Of ``Period`` dtype with the requested frequency, on the input's index.

    Raises
    ------
    HotspotInputError
        When a value is missing or is not a date; the message names the rows as
        lines of a CSV file with a header (index label + 2).

    Examples
    --------
    >>> parse_periods(["2021-08", "2021-09-30"], freq="quarter").astype(str).tolist()
    ['2021Q3', '2021Q3']
    """
    code = {"month": "M", "quarter": "Q"}.get(freq)
    if code is None:
        raise HotspotInputError(f"The period must be 'month' or 'quarter', not {freq!r}.")
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    if isinstance(series.dtype, pd.PeriodDtype):
        return series.dt.asfreq(code, how="start")
    stamps = pd.to_datetime(series, errors="coerce", format="mixed")
    bad = np.flatnonzero(stamps.isna().to_numpy())
    if bad.size:
        labels = series.index.to_numpy()[bad]
        where = _rows(labels) if np.issubdtype(labels.dtype, np.integer) else _rows(bad)
        raise HotspotInputError(
            f"{bad.size} incident(s) have no usable month or date ({where}, "
            f"for example {series.iloc[bad[0]]!r}); give every row a date such as 2021-08."
        )
    return stamps.dt.to_period(code)


def validate_points(points: gpd.GeoDataFrame | gpd.GeoSeries) -> None:
    """Check that incident points can be analysed, collecting every problem.

    The points must state a CRS, be points, and have finite coordinates inside
    the valid range of that CRS.

    Parameters
    ----------
    points
        Incident points in any CRS.

    Raises
    ------
    HotspotInputError
        Naming each problem: no CRS, geometries that are not points, empty or
        missing locations, coordinates out of range (with a hint when longitude
        and latitude look swapped).
    """
    geoms = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    if geoms.crs is None:
        raise HotspotInputError(
            "The incident points have no coordinate reference system (CRS). Say which one "
            "they use, e.g. points.set_crs('EPSG:4326') for longitude/latitude or "
            "'EPSG:27700' for British National Grid eastings/northings."
        )
    arr = np.asarray(geoms.array, dtype=object)
    problems: list[str] = []
    missing = shapely.is_missing(arr) | shapely.is_empty(arr)
    wrong = ~missing & (shapely.get_type_id(arr) != 0)
    if wrong.any():
        problems.append(
            f"{wrong.sum()} geometries are not points ({_rows(np.flatnonzero(wrong), offset=0)} "
            "by position)"
        )
    ok = ~missing & ~wrong
    x = np.full(arr.shape, np.nan)
    y = np.full(arr.shape, np.nan)
    if ok.any():
        x[ok] = shapely.get_x(arr[ok])
        y[ok] = shapely.get_y(arr[ok])
    nan = ~np.isfinite(x) | ~np.isfinite(y)
    if (nan & ~wrong).any():
        idx = np.flatnonzero(nan & ~wrong)
        problems.append(
            f"{idx.size} points have no location (empty, missing or NaN coordinates; "
            f"{_rows(idx, offset=0)} by position)"
        )
    crs = CRS.from_user_input(geoms.crs)
    good = ~nan
    if crs.is_geographic:
        out = good & ((np.abs(x) > 180) | (np.abs(y) > 90))
        hint = ""
        if out.any() and np.all((np.abs(y[out]) <= 180) & (np.abs(x[out]) <= 90)):
            hint = " (longitude and latitude may be swapped)"
        if out.any():
            idx = np.flatnonzero(out)
            problems.append(
                f"{idx.size} points have coordinates out of range: longitude must be within "
                f"±180 and latitude within ±90, e.g. ({x[idx[0]]:g}, {y[idx[0]]:g}){hint}"
            )
    elif crs.equals(CRS.from_user_input(BNG)):
        x0, y0, x1, y1 = _BNG_BOUNDS
        out = good & ((x < x0) | (x > x1) | (y < y0) | (y > y1))
        if out.any():
            idx = np.flatnonzero(out)
            problems.append(
                f"{idx.size} points lie outside the British National Grid, e.g. "
                f"({x[idx[0]]:g}, {y[idx[0]]:g}); eastings and northings are in metres"
            )
    if problems:
        raise HotspotInputError("The incident points cannot be used: " + "; ".join(problems) + ".")


def bng_xy(points: gpd.GeoDataFrame | gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray]:
    """Return the points' eastings and northings in British National Grid.

    Works on points in any CRS (checked by :func:`validate_points`) and projects
    them to EPSG:27700.

    Parameters
    ----------
    points
        Incident points.

    Returns
    -------
    tuple of numpy.ndarray
        Eastings and northings in metres, float64.

    Raises
    ------
    HotspotInputError
        When the points fail :func:`validate_points` or cannot be projected.
    """
    validate_points(points)
    geoms = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    coords = shapely.get_coordinates(np.asarray(geoms.array, dtype=object))
    x, y = coords[:, 0], coords[:, 1]
    if not CRS.from_user_input(geoms.crs).equals(CRS.from_user_input(BNG)):
        transformer = Transformer.from_crs(geoms.crs, BNG, always_xy=True)
        x, y = transformer.transform(x, y)
        x, y = np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")
    bad = ~np.isfinite(x) | ~np.isfinite(y)
    if bad.any():
        raise HotspotInputError(
            f"{bad.sum()} points cannot be placed on the British National Grid "
            f"({_rows(np.flatnonzero(bad), offset=0)} by position); are they in the UK?"
        )
    return np.ascontiguousarray(x, dtype="float64"), np.ascontiguousarray(y, dtype="float64")


def points_from_frame(
    frame: pd.DataFrame,
    *,
    x: str | None = None,
    y: str | None = None,
    crs: str | None = None,
    period_column: str | None = None,
    freq: PeriodFreq = "month",
    source: str = "the table",
) -> gpd.GeoDataFrame:
    """Build incident points from a table with coordinate columns.

    Rows with neither coordinate are incidents without a location (police.uk
    publishes some); they are left out with a :class:`HotspotWarning` giving
    their number, which is also kept in ``result.attrs["rows_without_location"]``.

    Parameters
    ----------
    frame
        The table.
    x, y
        The coordinate columns; found by :func:`detect_coordinate_columns` when None.
    crs
        The CRS of ``x`` and ``y``; ``"EPSG:4326"`` for longitude/latitude names,
        ``"EPSG:27700"`` for easting/northing names when None.
    period_column
        The month or date column; found by :func:`detect_period_column` when None,
        and ``""`` for none. When present it is parsed into a ``period`` column.
    freq
        Time step for the ``period`` column.
    source
        How to name the table in messages (e.g. its file name).

    Returns
    -------
    geopandas.GeoDataFrame
        The located rows with their original columns, ``period`` when a period
        column was found, and point geometry in the given CRS.

    Raises
    ------
    HotspotInputError
        For missing coordinate columns, a single missing coordinate, values that
        are not numbers or are out of range, or an unusable date; each message
        names the rows.
    """
    if x is None or y is None:
        found_x, found_y, found_crs = detect_coordinate_columns(list(frame.columns))
        x, y = x or found_x, y or found_y
        crs = crs or found_crs
    for column in (x, y):
        if column not in frame.columns:
            raise HotspotInputError(f"{source} has no column {column!r}.")
    crs = crs or WGS84

    def numeric(column: str) -> tuple[np.ndarray, np.ndarray]:
        raw = frame[column]
        blank = raw.isna().to_numpy() | (raw.astype(str).str.strip() == "").to_numpy()
        values = pd.to_numeric(raw.where(~blank), errors="coerce").to_numpy(dtype="float64")
        return values, blank

    xs, x_blank = numeric(x)
    ys, y_blank = numeric(y)
    problems: list[str] = []
    half = np.flatnonzero(x_blank ^ y_blank)
    if half.size:
        problems.append(f"{half.size} rows have only one coordinate ({_rows(half)})")
    for column, values, blank in ((x, xs, x_blank), (y, ys, y_blank)):
        bad = np.flatnonzero(~blank & ~np.isfinite(values))
        if bad.size:
            example = frame[column].iloc[bad[0]]
            problems.append(
                f"{bad.size} values in {column!r} are not numbers ({_rows(bad)}, e.g. {example!r})"
            )
    if problems:
        raise HotspotInputError(f"{source} cannot be used: " + "; ".join(problems) + ".")
    located = ~(x_blank & y_blank)
    dropped = int((~located).sum())
    if dropped:
        warnings.warn(
            f"{dropped} of {len(frame)} rows in {source} have no location and were left out "
            "of the map and the hot-spot analysis.",
            HotspotWarning,
            stacklevel=2,
        )
    kept = frame.loc[located]  # keeps the original row labels for messages
    if period_column is None:
        period_column = detect_period_column(list(frame.columns))
    if period_column:
        if period_column not in kept.columns:
            raise HotspotInputError(f"{source} has no column {period_column!r}.")
        try:
            kept = kept.assign(period=parse_periods(kept[period_column], freq=freq))
        except HotspotInputError as exc:
            raise HotspotInputError(f"In {source}, column {period_column!r}: {exc}") from None
    result = gpd.GeoDataFrame(
        kept.reset_index(drop=True), geometry=gpd.points_from_xy(xs[located], ys[located]), crs=crs
    )
    result.attrs["rows_without_location"] = dropped
    validate_points(result)
    return result


def read_points_csv(
    path: str | Path,
    *,
    x: str | None = None,
    y: str | None = None,
    crs: str | None = None,
    period_column: str | None = None,
    freq: PeriodFreq = "month",
) -> gpd.GeoDataFrame:
    """Read incident points from any CSV file with coordinate columns.

    The police.uk street-level CSV works as it is: ``Longitude`` and ``Latitude``
    give the location and ``Month`` the period. See :func:`points_from_frame` for
    the handling of rows without a location.

    Parameters
    ----------
    path
        The CSV file.
    x, y, crs, period_column, freq
        As :func:`points_from_frame`.

    Returns
    -------
    geopandas.GeoDataFrame
        As :func:`points_from_frame`.

    Raises
    ------
    HotspotInputError
        When the file is missing, unreadable, empty, or fails the checks of
        :func:`points_from_frame`.
    """
    path = Path(path)
    if not path.is_file():
        raise HotspotInputError(f"There is no file at {path}.")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise HotspotInputError(f"{path.name} is empty.") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HotspotInputError(f"{path.name} is not a readable CSV file: {first}") from None
    if frame.empty:
        raise HotspotInputError(f"{path.name} has a header but no rows.")
    return points_from_frame(
        frame, x=x, y=y, crs=crs, period_column=period_column, freq=freq, source=path.name
    )


def _header(path: Path) -> list[str]:
    import csv

    with path.open(encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle), [])


def read_points_xy(
    path: str | Path,
    *,
    x: str | None = None,
    y: str | None = None,
    crs: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Read only the coordinates of a points CSV, fast, as British National Grid.

    The quick path of the ``hotspots`` command: pyarrow's multi-threaded CSV reader
    reads the two coordinate columns as numbers and nothing else. Whenever that is
    not simply right (a value that is not a number, a row with one coordinate, a
    coordinate out of range, a file pyarrow cannot parse) the file is read again by
    :func:`read_points_csv` and :func:`bng_xy`, so every problem is reported exactly
    as they report it.

    Parameters
    ----------
    path
        The CSV file.
    x, y, crs
        As :func:`points_from_frame`.

    Returns
    -------
    tuple of numpy.ndarray
        Eastings and northings in metres (EPSG:27700) of the rows with a location;
        rows with neither coordinate are left out with a :class:`HotspotWarning`.

    Raises
    ------
    HotspotInputError
        As :func:`read_points_csv` and :func:`bng_xy`.
    """
    path = Path(path)
    if not path.is_file():
        raise HotspotInputError(f"There is no file at {path}.")
    try:
        columns = _header(path)
    except (UnicodeDecodeError, OSError):
        columns = []
    try:
        found_x, found_y, found_crs = detect_coordinate_columns(columns)
    except HotspotInputError:
        found_x = found_y = found_crs = ""
    x, y = x or found_x, y or found_y
    crs = crs or found_crs or WGS84
    xs = ys = None
    if x and y and x in columns and y in columns and columns.count(x) == columns.count(y) == 1:
        xs, ys = _arrow_xy(path, x, y)
    if xs is None or ys is None:
        return bng_xy(read_points_csv(path, x=x or None, y=y or None, crs=crs, period_column=""))
    blank_x, blank_y = np.isnan(xs), np.isnan(ys)
    geographic = CRS.from_user_input(crs).is_geographic
    located = ~(blank_x & blank_y)
    lx, ly = xs[located], ys[located]
    if geographic:
        in_range = bool(np.all((np.abs(lx) <= 180) & (np.abs(ly) <= 90)))
    elif CRS.from_user_input(crs).equals(CRS.from_user_input(BNG)):
        x0, y0, x1, y1 = _BNG_BOUNDS
        in_range = bool(np.all((lx >= x0) & (lx <= x1) & (ly >= y0) & (ly <= y1)))
    else:
        in_range = False  # other CRSs: the careful path checks and projects them
    if (blank_x ^ blank_y).any() or not in_range or not located.any():
        return bng_xy(read_points_csv(path, x=x, y=y, crs=crs, period_column=""))
    dropped = int((~located).sum())
    if dropped:
        warnings.warn(
            f"{dropped} of {xs.size} rows in {path.name} have no location and were left out "
            "of the map and the hot-spot analysis.",
            HotspotWarning,
            stacklevel=2,
        )
    if not CRS.from_user_input(crs).equals(CRS.from_user_input(BNG)):
        lx, ly = Transformer.from_crs(crs, BNG, always_xy=True).transform(lx, ly)
    ex, ny = np.asarray(lx, dtype="float64"), np.asarray(ly, dtype="float64")
    if not (np.isfinite(ex).all() and np.isfinite(ny).all()):
        return bng_xy(read_points_csv(path, x=x, y=y, crs=crs, period_column=""))
    return np.ascontiguousarray(ex), np.ascontiguousarray(ny)


def _arrow_xy(path: Path, x: str, y: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Read two columns as float64 with pyarrow (blank = NaN); (None, None) if it cannot."""
    try:
        import pyarrow as pa
        from pyarrow import csv as pacsv
    except ImportError:  # pragma: no cover - pyarrow comes with the app
        return None, None
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding="utf-8"),
            convert_options=pacsv.ConvertOptions(
                include_columns=[x, y],
                column_types={x: pa.float64(), y: pa.float64()},
                null_values=["", " ", "  "],
                strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError, OSError):
        return None, None
    if table.num_rows == 0:
        return None, None
    xs = table.column(x).to_numpy(zero_copy_only=False).astype("float64", copy=False)
    ys = table.column(y).to_numpy(zero_copy_only=False).astype("float64", copy=False)
    if np.isinf(xs).any() or np.isinf(ys).any():
        return None, None
    return xs, ys


def drawable(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> np.ndarray:
    """Return True for each row with a geometry to draw (neither missing nor empty).

    Examples
    --------
    >>> import geopandas as gpd
    >>> drawable(gpd.GeoSeries([shapely.Point(0, 0), shapely.Point(), None])).tolist()
    [True, False, False]
    """
    geoms = np.asarray(frame.geometry.array, dtype=object)
    return ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
