"""Context events read for one audience: police-recorded crime of all ages, kept apart.

Context events (``store.models.ContextEvent``, police.uk street-level crime)
are public crime and anti-social behaviour of people of all ages. They are
read here, and only here, for the pages: never joined to incidents or
referrals, never counted in exploitation figures, flags or the Meeting's
exploitation measures. Every label names the source and says "all ages"
(:func:`store.vocabulary.context_label`).

Counts for a role without point access go through ``services.disclosure``'s cell
key method, as counts of incidents and referrals do: every count is read with
the sum of its events' record keys, and each (every crime type, the total
"All types", every square) is perturbed on its own by the published table, so
no difference between two periods, two sets of types or a total and its parts
gives a true small count. The colour level of a square is worked out from the
counts as shown. Leads and administrators get exact counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from services.access import Viewer
from services.disclosure import K_DEFAULT, disclose, disclose_counts, needs_suppression
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
        ContextEvent.record_key,
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
            columns=["source", "crime_type", "easting", "northing", "key"],
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
    rows["key"] = rows["key"].fillna(0).astype("int64")
    by_type = (
        rows.groupby("crime_type").agg(events=("key", "size"), key=("key", "sum")).reset_index()
        if len(rows)
        else pd.DataFrame(
            {
                "crime_type": pd.Series(dtype=object),
                "events": pd.Series(dtype="int64"),
                "key": pd.Series(dtype="int64"),
            }
        )
    )
    by_type = pd.concat(
        [
            by_type,
            pd.DataFrame(
                {
                    "crime_type": ["All types"],
                    "events": [len(rows)],
                    "key": [int(rows["key"].sum())],
                }
            ),
        ],
        ignore_index=True,
    )
    located = rows.dropna(subset=["easting", "northing"])
    squares = (
        located.assign(
            easting=(located["easting"] // SQUARE * SQUARE).astype(int),
            northing=(located["northing"] // SQUARE * SQUARE).astype(int),
        )
        .groupby(["easting", "northing"])
        .agg(events=("key", "size"), key=("key", "sum"))
        .reset_index()
    )
    total: int | str = len(rows)
    protected = needs_suppression(viewer)
    if protected:  # the cell key method: each count perturbed on its own, totals too
        shown = disclose_counts(by_type["events"].to_numpy(), by_type["key"].to_numpy(), k=k)
        by_type["events"] = pd.Series(shown, index=by_type.index, dtype=object)
        shown = disclose_counts(squares["events"].to_numpy(), squares["key"].to_numpy(), k=k)
        squares["events"] = pd.Series(shown, index=squares.index, dtype=object)
        total = disclose(len(rows), int(rows["key"].sum()), k=k)
    # The colour from the counts as shown ("<k" is the lowest level): no true count leaks.
    counts = np.array(
        [0.0 if isinstance(v, str) else float(v) for v in squares["events"]], dtype=float
    )
    top = counts.max() if len(counts) else 1.0
    squares["level"] = np.minimum(3, np.ceil(3 * counts / max(top, 1.0))).astype(int)
    by_type = by_type.drop(columns="key")
    squares = squares.drop(columns="key")
    return ContextPicture(
        label=label,
        total=total,
        by_type=by_type,
        squares=squares,
        sources=sources,
        stored=(stored[0], stored[1]),
    )
