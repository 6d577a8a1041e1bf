"""Storing district and ward boundaries, from the offline default or an official file."""

from __future__ import annotations

import geopandas as gpd
import shapely
from sqlalchemy import Engine, select

from services.access import Viewer
from store.audit import record
from store.db import session_scope
from store.models import District, Ward

__all__ = ["BoundaryStoreError", "import_boundaries", "save_boundaries"]


class BoundaryStoreError(ValueError):
    """Boundaries that cannot be stored; nothing was changed."""


def save_boundaries(
    engine: Engine, boundaries: gpd.GeoDataFrame, *, kind: str, actor: str
) -> dict[str, int]:
    """Store district or ward boundaries, replacing those with the same codes.

    Parameters
    ----------
    engine
        The database.
    boundaries
        Columns ``code``, ``name``, ``source``, ``geometry`` (and
        ``district_code`` for wards), in EPSG:27700, as returned by
        ``geo.boundaries.read_boundary_file``.
    kind
        ``"district"`` or ``"ward"``.
    actor
        Who is importing, for the audit log.

    Returns
    -------
    dict
        How many boundaries were ``added`` and ``replaced``.

    Raises
    ------
    BoundaryStoreError
        When the frame is not in British National Grid, or wards name districts
        that are not stored. Nothing is changed.
    """
    if boundaries.crs is None or boundaries.crs.to_epsg() != 27700:
        raise BoundaryStoreError(
            "Boundaries must be in British National Grid (EPSG:27700) to be stored."
        )
    model: type[District] | type[Ward] = Ward if kind == "ward" else District
    with session_scope(engine) as session:
        if kind == "ward":
            known = set(session.scalars(select(District.code)))
            missing = sorted(set(boundaries["district_code"]) - known)
            if missing:
                raise BoundaryStoreError(
                    "The wards belong to districts that are not set up here "
                    f"({', '.join(missing)}). "
                    "Import those districts' boundaries first."
                )
        rows: list[District | Ward] = list(session.scalars(select(model)))  # type: ignore[arg-type]
        existing = {row.code: row for row in rows}
        counts = {"added": 0, "replaced": 0}
        for row in boundaries.itertuples():
            values = {
                "name": row.name,
                "source": row.source,
                "geometry_wkb": shapely.to_wkb(row.geometry),
                "updated_by": actor,
            }
            if kind == "ward":
                values["district_code"] = row.district_code
            if row.code in existing:
                for column, value in values.items():
                    setattr(existing[row.code], column, value)
                counts["replaced"] += 1
            else:
                session.add(model(code=row.code, created_by=actor, **values))
                counts["added"] += 1
        record(
            session,
            actor=actor,
            action=f"import {kind} boundaries",
            entity=model.__tablename__,
            detail={"codes": sorted(boundaries["code"]), **counts},
        )
    return counts


def import_boundaries(
    engine: Engine, viewer: Viewer, boundaries: gpd.GeoDataFrame, *, kind: str
) -> dict[str, int]:
    """Store boundaries for a signed-in data officer; see :func:`save_boundaries`.

    Raises
    ------
    services.access.AccessDenied
        When the viewer is not an administrator.
    """
    viewer.require(viewer.is_admin, "import boundaries")
    return save_boundaries(engine, boundaries, kind=kind, actor=viewer.username)
