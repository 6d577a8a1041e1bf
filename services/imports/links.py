"""Which places an imported incident or referral belongs to (issue 19): one row per link.

A record belongs to a place when the file names it (a place key or the place's
name, in a ``place``, ``found_at`` or ``frequents`` column; several places in
one cell are separated by ``;``), when its point lies within the place's
outline, or when its point lies within the link distance of the place's point
(50 m unless the import setting ``link_radius`` says otherwise). The exact point
is used here, before snapping; only the links are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, select

from services.imports.columns import normalise_value
from store.models import Place

__all__ = ["NAMED_FIELDS", "PlaceIndex", "find_links", "load_place_index"]

#: Columns that name places, and the relation each link is recorded with.
NAMED_FIELDS: dict[str, str] = {"place": "named", "found_at": "found_at", "frequents": "frequents"}


@dataclass(frozen=True)
class PlaceIndex:
    """The active places of the register: by key, by name, by point and by outline (EPSG:27700)."""

    by_key: dict[str, int]
    by_name: dict[str, int]  # names shared by several places map to -1 (ambiguous)
    ids: np.ndarray
    xy: np.ndarray
    outline_ids: np.ndarray
    outlines: np.ndarray


def load_place_index(connection: Connection) -> PlaceIndex:
    """Read the active places for linking records to them."""
    rows = connection.execute(
        select(Place.id, Place.place_key, Place.name, Place.easting, Place.northing, Place.area_wkb)
        .where(Place.active.is_(True))
        .order_by(Place.id)
    ).all()
    by_key = {normalise_value(r.place_key): r.id for r in rows}
    by_name: dict[str, int] = {}
    for r in rows:
        name = normalise_value(r.name)
        by_name[name] = -1 if name in by_name and by_name[name] != r.id else r.id
    located = [r for r in rows if r.easting is not None and r.northing is not None]
    shaped = [r for r in rows if r.area_wkb]
    return PlaceIndex(
        by_key=by_key,
        by_name=by_name,
        ids=np.array([r.id for r in located], dtype=np.int64),
        xy=np.array([(r.easting, r.northing) for r in located], dtype=float).reshape(-1, 2),
        outline_ids=np.array([r.id for r in shaped], dtype=np.int64),
        outlines=shapely.from_wkb([r.area_wkb for r in shaped]),
    )


def find_links(
    index: PlaceIndex,
    *,
    named: dict[str, pd.Series],
    easting: np.ndarray,
    northing: np.ndarray,
    radius: float,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Return the links of a chunk's kept records and what could not be linked.

    Parameters
    ----------
    index
        The register, from :func:`load_place_index`.
    named
        ``{field: column}`` of the columns that name places (see :data:`NAMED_FIELDS`),
        one value per record.
    easting, northing
        The exact points of the records (NaN where none), before snapping.
    radius
        Metres from a place's point within which a record belongs to it.

    Returns
    -------
    pandas.DataFrame, dict
        ``row`` (the record's position in the chunk), ``place_id`` and ``relation``,
        one row per distinct link; and counts for the report: place names not in
        the register, and names shared by several places.
    """
    rows: list[np.ndarray] = []
    places: list[np.ndarray] = []
    relations: list[np.ndarray] = []
    unknown = ambiguous = 0
    for field, values in named.items():
        cells = values.astype(str).str.split(";").explode().str.strip()
        cells = cells.loc[cells != ""]
        if cells.empty:
            continue
        words = cells.map(normalise_value)
        found = words.map(index.by_key)
        by_name = words.map(index.by_name)
        found = found.fillna(by_name)
        ambiguous += int((found == -1).sum())
        unknown += int(found.isna().sum())
        good = found.notna() & (found >= 0)
        rows.append(cells.index.to_numpy()[good.to_numpy()])
        places.append(found.loc[good].to_numpy(dtype=np.int64))
        relations.append(np.full(int(good.sum()), NAMED_FIELDS[field], dtype=object))
    located = np.isfinite(easting) & np.isfinite(northing)
    if located.any() and len(index.ids) and radius > 0:
        at = np.flatnonzero(located)
        from scipy.spatial import cKDTree  # here, not at start-up: 0.2 s only places need

        hits = cKDTree(index.xy).query_ball_point(
            np.column_stack([easting[at], northing[at]]), r=radius
        )
        counts = np.fromiter((len(h) for h in hits), dtype=np.int64, count=len(hits))
        if counts.sum():
            rows.append(np.repeat(at, counts))
            places.append(index.ids[np.concatenate([np.asarray(h, dtype=np.int64) for h in hits])])
            relations.append(np.full(int(counts.sum()), "near", dtype=object))
    if located.any() and len(index.outline_ids):
        at = np.flatnonzero(located)
        points = shapely.points(easting[at], northing[at])
        tree = shapely.STRtree(index.outlines)
        point_i, outline_i = tree.query(points, predicate="within")
        rows.append(at[point_i])
        places.append(index.outline_ids[outline_i])
        relations.append(np.full(len(point_i), "within", dtype=object))
    if rows:
        links = pd.DataFrame(
            {
                "row": np.concatenate(rows).astype(np.int64),
                "place_id": np.concatenate(places).astype(np.int64),
                "relation": np.concatenate(relations),
            }
        ).drop_duplicates(ignore_index=True)
    else:
        links = pd.DataFrame(
            {
                "row": pd.Series(dtype=np.int64),
                "place_id": pd.Series(dtype=np.int64),
                "relation": pd.Series(dtype=object),
            }
        )
    problems = {
        "place names not found in the register (not linked)": unknown,
        "place names shared by several places (not linked: use the place key)": ambiguous,
    }
    return links, problems
