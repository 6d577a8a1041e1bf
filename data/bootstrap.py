"""Opening the app's database: schema upgraded, demo built on an empty embedded file."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from store.db import connect, session_scope, upgrade
from store.models import District, Incident, Place

__all__ = ["is_empty", "open_database"]


def is_empty(engine: Engine) -> bool:
    """Return True when the database holds no districts, places or incidents."""
    with session_scope(engine) as session:
        return not any(
            session.scalar(select(func.count()).select_from(model))
            for model in (District, Place, Incident)
        )


def open_database(url: str | None = None, *, demo_if_empty: bool | None = None) -> Engine:
    """Connect, bring the schema up to date, and fill an empty embedded database with the demo.

    Parameters
    ----------
    url
        The database URL; the configured one when None.
    demo_if_empty
        Build the synthetic demo when the database is empty. By default only
        for SQLite, the embedded database; a PostgreSQL deployment starts
        empty and is filled by imports.
    """
    from data.load import load_demo

    engine = connect(url)
    upgrade(engine)
    if demo_if_empty is None:
        demo_if_empty = engine.dialect.name == "sqlite"
    if demo_if_empty and is_empty(engine):
        load_demo(engine)
    return engine
