"""Whether a test database's schema is at the newest migration (the storage and fault tests)."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from store.db import MIGRATIONS

__all__ = ["at_head"]


def at_head(engine: Engine) -> bool:
    """Return True when the database's Alembic revision is the newest in ``store/migrations``."""
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
    return set(current) == set(ScriptDirectory(str(MIGRATIONS)).get_heads())
