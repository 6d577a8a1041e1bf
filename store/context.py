"""Context events read for one audience: police-recorded crime of all ages, kept apart.

Context events (``store.models.ContextEvent``, police.uk street-level crime)
are public crime and anti-social behaviour of people of all ages. They are
read here, and only here, for the pages: never joined to incidents or
referrals, never counted in exploitation figures, flags or the Meeting's
exploitation measures. Every label names the source and says "all ages"
(:func:`store.vocabulary.context_label`).

Counts for a role without point access go through ``store.disclosure``: the
table by crime type with its total row through ``suppress_table`` (primary
and secondary suppression), each square's count through ``suppress_count``.
Leads and administrators get exact counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from store.access import Viewer
from store.disclosure import K_DEFAULT, needs_suppression, suppress_count, suppress_table
from store.models import ContextEvent
from store.vocabulary import context_label

__all__ = ["SQUARE", "ContextPicture", "context_picture"]

#: Side of the squares context counts are shown in, in metres.
SQUARE = 1000


@dataclass(frozen=True)
class ContextPicture:
    """What one audience may see of context events in a period and set of districts.

    Attributes
    ----------
    label
        "Police-recorded crime, all ages (police.uk)" (each source named).
    total
        The count of events in the period (``"<k"`` when small, for non-leads).
    by_type
        ``crime_type`` and ``events``, the last row ``"All types"``, protected.
    squares
        ``easting``, ``northing`` (the square's south-west corner, EPSG:27700),
        ``events`` (protected) and ``level`` (0-3, for the colour) per square
        with any event; unlocated events are in the total only.
    sources
        The sources present.
    stored
        The first and last month stored for these districts, whatever the period
        (None when nothing is stored), so an empty period can say where data are.
    """

    label: str
    total: int | str
    by_type: pd.DataFrame
    squares: pd.DataFrame
    sources: tuple[str, ...] = field(default_factory=tuple)
    stored: tuple[date | None, date | None] = (None, None)

    @property
    def empty(self) -> bool:
        """True when no context event is stored for the period and districts."""
        return not len(self.sources)


def context_picture(
    engine: Engine,
    viewer: Viewer,
    *,
    districts: tuple[str, ...],
    first: date | None = None,
    last: date | None = None,
    types: tuple[str, ...] = (),
    k: int = K_DEFAULT,
) -> ContextPicture:
    """Return the counts of context events one viewer may see.

    Parameters
    ----------
    engine
        The database.
    viewer
        Who reads; only districts in their scope are read.
    districts
        The districts wanted (already within scope, ``Viewer.scope``).
    first, last
        The first and last month (inclusive); None for open ends.
    types
        Crime types to count (empty: all).
    k
        The disclosure threshold for roles without point access.

    Returns
    -------
    ContextPicture
        Counts by crime type and per 1 km square, protected for the audience.
    """
    codes = [d for d in districts if viewer.may_see(d)]
    query = select(
        ContextEvent.source,
        ContextEvent.crime_type,
        ContextEvent.easting,
        ContextEvent.northing,
    ).where(ContextEvent.district_code.in_(codes))
    if first is not None:
        query = query.where(ContextEvent.month >= first)
    if last is not None:
        query = query.where(ContextEvent.month <= last)
    if types:
        query = query.where(ContextEvent.crime_type.in_(types))
    with engine.connect() as connection:
        rows = pd.DataFrame(
            connection.execute(query).all(),
            columns=["source", "crime_type", "easting", "northing"],
        )
        stored = tuple(
            connection.execute(
                select(func.min(ContextEvent.month), func.max(ContextEvent.month)).where(
                    ContextEvent.district_code.in_(codes)
                )
            ).one()
        )
    sources = tuple(sorted(rows["source"].unique()))
    label = "; ".join(context_label(s) for s in sources) if sources else context_label()
    by_type = (
        rows.groupby("crime_type").size().rename("events").reset_index()
        if len(rows)
        else pd.DataFrame({"crime_type": pd.Series(dtype=object), "events": pd.Series(dtype=int)})
    )
    by_type = pd.concat(
        [by_type, pd.DataFrame({"crime_type": ["All types"], "events": [len(rows)]})],
        ignore_index=True,
    )
    located = rows.dropna(subset=["easting", "northing"])
    squares = (
        located.assign(
            easting=(located["easting"] // SQUARE * SQUARE).astype(int),
            northing=(located["northing"] // SQUARE * SQUARE).astype(int),
        )
        .groupby(["easting", "northing"])
        .size()
        .rename("events")
        .reset_index()
    )
    counts = squares["events"].to_numpy(dtype=float)
    top = counts.max() if len(counts) else 1.0
    squares["level"] = np.minimum(3, np.ceil(3 * counts / max(top, 1.0))).astype(int)
    total: int | str = len(rows)
    if needs_suppression(viewer):
        by_type = suppress_table(by_type, ["events"], k=k, total_row=True)
        squares["events"] = [suppress_count(int(n), k=k) for n in squares["events"]]
        small = squares["events"].map(lambda v: isinstance(v, str))
        squares.loc[small, "level"] = 0
        total = suppress_count(len(rows), k=k)
    return ContextPicture(
        label=label,
        total=total,
        by_type=by_type,
        squares=squares,
        sources=sources,
        stored=(stored[0], stored[1]),
    )
