"""Filling an empty database with the synthetic Staffordshire demo."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import shapely
from sqlalchemy import Connection, Engine, func, insert, select, update

from services.users import ensure_demo_users
from store.db import session_scope
from store.models import (
    Action,
    Assessment,
    District,
    Finding,
    Incident,
    Place,
    PlaceLink,
    Referral,
    Setting,
)

__all__ = [
    "DemoError",
    "DemoSummary",
    "EventWriter",
    "demo_info",
    "insert_events",
    "load_demo",
    "previous_month_end",
]

ACTOR = "demo builder"


class DemoError(RuntimeError):
    """The demo cannot be built here; the message says why."""


@dataclass(frozen=True)
class DemoSummary:
    """What the demo build stored, and how long it took."""

    districts: int
    places: int
    incidents: int
    referrals: int
    assessments: int
    actions: int
    seconds: float


def previous_month_end(today: date) -> date:
    """Return the last day of the month before ``today``.

    Examples
    --------
    >>> previous_month_end(date(2026, 1, 15))
    datetime.date(2025, 12, 31)
    """
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return date(year, month, calendar.monthrange(year, month)[1])


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Return frame rows as dicts with NaN and NaT turned into None."""
    clean = frame.astype(object).where(frame.notna(), None)
    return clean.to_dict("records")


def _event_frame(frame: pd.DataFrame, place_ids: dict[str, int]) -> pd.DataFrame:
    from services.disclosure import new_record_keys

    return frame.assign(
        record_key=new_record_keys(len(frame)),  # random, never from the demo's seed
        place_id=frame["place_key"].map(place_ids),
        occurred_on=pd.to_datetime(frame["occurred_on"]).dt.date,
        date_precision="week",
        created_by=ACTOR,
        updated_by=ACTOR,
    ).drop(columns=["place_key"])


def _write_place_links(
    connection: Connection, links: pd.DataFrame, place_ids: dict[str, int]
) -> None:
    """Store the demo's links of referrals to places and its persons of concern (issue 19)."""
    if links.empty:
        return
    ids = {row[0]: row[1] for row in connection.execute(select(Referral.source_ref, Referral.id))}
    rows = [
        {"referral_id": ids[ref], "place_id": place_ids[key], "relation": relation,
         "created_by": ACTOR, "updated_by": ACTOR}
        for ref, key, relation in zip(
            links["source_ref"], links["place_key"], links["relation"], strict=True
        )
        if ref in ids and key in place_ids
    ]  # fmt: skip
    connection.execute(insert(PlaceLink), rows)
    persons = links.loc[links["person_pseudonym"].notna()].drop_duplicates("source_ref")
    for ref, person in zip(persons["source_ref"], persons["person_pseudonym"], strict=True):
        connection.execute(
            update(Referral).where(Referral.source_ref == ref).values(person_pseudonym=person)
        )


def demo_info(engine: Engine) -> dict[str, Any] | None:
    """Return what is known of the demo in this database, or None when it is real data."""
    with session_scope(engine) as session:
        setting = session.get(Setting, "demo")
        return dict(setting.value) if setting is not None else None


#: Writes one table's events (a frame of column values) inside the demo's transaction.
EventWriter = Callable[[Connection, type[Incident] | type[Referral], pd.DataFrame], None]


def insert_events(
    connection: Connection, model: type[Incident] | type[Referral], frame: pd.DataFrame
) -> None:
    """Insert events through SQLAlchemy (the default :data:`EventWriter`)."""
    connection.execute(insert(model), _records(frame))


def load_demo(
    engine: Engine,
    *,
    today: date | None = None,
    end: date | None = None,
    seed: int = 20261122,
    n_incidents: int = 20_000,
    n_referrals: int = 3_000,
    months: int = 24,
    cache_dir: Path | None = None,
    write_events: EventWriter = insert_events,
) -> DemoSummary:
    """Build the synthetic demo and store it, in one transaction, in an empty database.

    Parameters
    ----------
    engine
        A database whose schema is current (see ``store.db.upgrade``).
    today
        The demo's data end on the last day of the month before this date.
    end
        The last day of the data, instead of the month before ``today``.
    seed
        The random seed: the same seed gives the same demo.
    n_incidents, n_referrals
        How many synthetic incidents and referrals to make.
    months
        How many calendar months of data, ending with ``end``'s month.
    cache_dir
        Where the approximate district boundaries are cached.
    write_events
        How the incidents and referrals are written (a bulk writer for large
        builds, see ``benchmarks/generate.py``); through SQLAlchemy by default.

    Raises
    ------
    DemoError
        When the database already holds places or incidents: the demo never
        mixes with real data.
    """
    from data.demo import build_demo
    from geo.boundaries import DEFAULT_AREA, district_boundaries
    from services.organisations import adopt_typed_owners

    started = datetime.now(UTC)
    with session_scope(engine) as session:
        existing = session.scalar(select(func.count()).select_from(Incident)) or 0
        existing += session.scalar(select(func.count()).select_from(Place)) or 0
    if existing:
        raise DemoError(
            "This database already holds data, so the demo was not added. Use a new "
            "database file (--db sqlite:///var/demo.db) for the demo."
        )

    end = end or previous_month_end(today or date.today())
    demo = build_demo(
        seed=seed, end=end, months=months, n_incidents=n_incidents, n_referrals=n_referrals
    )
    boundaries = district_boundaries(DEFAULT_AREA, cache_dir=cache_dir)

    with session_scope(engine) as session:
        known = set(session.scalars(select(District.code)))
        district_rows = [
            {
                "code": row.code,
                "name": row.name,
                "source": row.source,
                "geometry_wkb": shapely.to_wkb(row.geometry),
                "created_by": ACTOR,
                "updated_by": ACTOR,
            }
            for row in boundaries.itertuples()
            if row.code not in known
        ]
        if district_rows:
            session.execute(insert(District), district_rows)

        places = demo.places.assign(created_by=ACTOR, updated_by=ACTOR)
        session.execute(insert(Place), _records(places))
        place_ids = {key: id_ for key, id_ in session.execute(select(Place.place_key, Place.id))}

        connection = session.connection()
        write_events(connection, Incident, _event_frame(demo.incidents, place_ids))
        write_events(connection, Referral, _event_frame(demo.referrals, place_ids))
        _write_place_links(connection, demo.place_links, place_ids)

        assessment_ids: dict[str, int] = {}
        for row in _records(demo.assessments):
            key = row.pop("assessment_key")
            row["place_id"] = place_ids[row.pop("place_key")]
            row.pop("version", None)
            assessment = Assessment(**row, created_by=ACTOR, updated_by=ACTOR)
            session.add(assessment)
            session.flush()
            assessment_ids[key] = assessment.id
        for model, frame in ((Finding, demo.findings), (Action, demo.actions)):
            rows = frame.assign(
                assessment_id=frame["assessment_key"].map(assessment_ids),
                created_by=ACTOR,
                updated_by=ACTOR,
            ).drop(columns=["assessment_key"])
            session.execute(insert(model), _records(rows))
        adopt_typed_owners(session, actor=ACTOR)  # issue 23: the demo's owners become the list

        seconds = (datetime.now(UTC) - started).total_seconds()
        session.merge(
            Setting(
                key="demo",
                value={
                    "seed": seed,
                    "end": end.isoformat(),
                    "months": months,
                    "built_at": started.isoformat(),
                },
                created_by=ACTOR,
                updated_by=ACTOR,
            )
        )
    ensure_demo_users(engine)
    return DemoSummary(
        districts=len(boundaries),
        places=len(demo.places),
        incidents=len(demo.incidents),
        referrals=len(demo.referrals),
        assessments=len(demo.assessments),
        actions=len(demo.actions),
        seconds=round(seconds, 1),
    )
