"""Alembic environment: runs on the connection handed over by ``store.db.upgrade``."""

from alembic import context
from sqlalchemy import create_engine

from config.settings import database_url
from store.models import Base

config = context.config
connection = config.attributes.get("connection")


def _run(conn) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=conn,
        target_metadata=Base.metadata,
        render_as_batch=conn.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:
    with create_engine(database_url()).begin() as conn:
        _run(conn)
