"""Connecting to the database, upgrading its schema, and opening sessions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    InterfaceError,
    NoSuchModuleError,
    OperationalError,
)
from sqlalchemy.orm import Session, sessionmaker

from config.settings import database_url

__all__ = [
    "DatabaseError",
    "Engine",
    "bulk_cache",
    "connect",
    "describe_url",
    "is_driver_error",
    "is_unavailable",
    "ping",
    "session_scope",
    "upgrade",
]

MIGRATIONS = Path(__file__).parent / "migrations"

#: Seconds to wait for a PostgreSQL server to answer a new connection.
CONNECT_TIMEOUT_S = 10


class DatabaseError(RuntimeError):
    """The database cannot be reached, read or upgraded; the message says what to do."""


def describe_url(url: str) -> str:
    """Return the URL with any password hidden, for messages and logs.

    Examples
    --------
    >>> describe_url("postgresql+psycopg://app:s3cret@db.example/safer")
    'postgresql+psycopg://app:***@db.example/safer'
    """
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<a database address that could not be read>"


def is_driver_error(error: BaseException) -> bool:
    """Return True for an error the database driver raised (a connection that failed).

    False for :class:`DatabaseError` (the database could not be opened at all).
    """
    return isinstance(error, DBAPIError)


def is_unavailable(error: BaseException) -> bool:
    """Return True when an error means the database cannot be reached just now.

    True for a server that is down, restarting or unreachable, a connection
    dropped part-way, and an SQLite file locked by another writer for longer
    than the busy timeout: conditions that pass, so the reader should wait and
    try again. False for everything else (a malformed address, a wrong schema,
    a constraint broken), which retrying would not mend.

    Examples
    --------
    >>> from sqlalchemy.exc import OperationalError, IntegrityError
    >>> is_unavailable(OperationalError("SELECT 1", {}, ConnectionRefusedError()))
    True
    >>> is_unavailable(IntegrityError("INSERT", {}, ValueError()))
    False
    """
    if isinstance(error, DatabaseError):  # connect() could not open it
        return isinstance(error.__cause__, OperationalError | InterfaceError)
    if isinstance(error, DBAPIError):
        return error.connection_invalidated or isinstance(error, OperationalError | InterfaceError)
    return False


def ping(engine: Engine) -> None:
    """Check that the database answers now (raises the driver's error when it does not)."""
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")


SQLITE_BUSY_MS = 90_000
"""How long a SQLite writer waits for another (an import of a million rows takes about 30 s),
before the page says the database is busy and asks to save again."""


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    # statement journals and sorts in memory: an import of 200,000 incidents wrote 4.6
    # million small pieces of temporary file (18 s of system time; 2 s in memory)
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


SQLITE_BULK_CACHE_KB = 256 * 1024
"""The page cache of a SQLite connection while it imports (the default is 2 MB)."""


@contextmanager
def bulk_cache(connection: Connection) -> Iterator[None]:
    """Give a SQLite connection a large page cache while it writes many rows, then its own.

    With SQLite's 2 MB default, an import's index pages left the cache and were written
    to the log again and again: 200,000 incidents took 31 s, and 19 s with 256 MB (the
    cache grows only as pages are used). Use it outside the import's transaction, so the
    cache shrinks back after the commit. Nothing is done on other databases.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.driver_connection
    assert raw is not None  # a live connection
    before = raw.execute("PRAGMA cache_size").fetchone()[0]
    raw.execute(f"PRAGMA cache_size=-{SQLITE_BULK_CACHE_KB}")
    try:
        yield
    finally:
        if not connection.invalidated:
            raw.execute(f"PRAGMA cache_size={int(before)}")


def connect(url: str | None = None, *, create: bool = True) -> Engine:
    """Return an engine for the database and check that it can be read.

    Parameters
    ----------
    url
        A SQLAlchemy URL; the configured one (see ``config.settings``) when None.
    create
        For SQLite, create the file's folder when it is missing. When False a
        missing SQLite file is an error.

    Raises
    ------
    DatabaseError
        When the URL is malformed, the server cannot be reached, or the file
        is not a database. Nothing is changed.
    """
    url = url or database_url()
    shown = describe_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise DatabaseError(
            f"The database address {url!r} is not a valid SQLAlchemy URL. Use for example "
            "sqlite:///var/safer_spaces.db or postgresql+psycopg://user:password@host/dbname."
        ) from error
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if not path.exists() and not create:
            raise DatabaseError(
                f"There is no database file at {path}. Build one with "
                "'safer-spaces demo' or check SAFER_SPACES_DATABASE_URL."
            )
        if not path.parent.exists():
            if not create:
                raise DatabaseError(f"The folder {path.parent} for the database does not exist.")
            path.parent.mkdir(parents=True, exist_ok=True)
    try:
        options: dict = {"pool_pre_ping": True}
        if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
            options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
        engine = create_engine(parsed, **options)
    except (NoSuchModuleError, ImportError) as error:
        raise DatabaseError(
            f"The database driver for {shown} is not installed: {error}."
        ) from error
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        with engine.connect() as connection:
            inspect(connection).get_table_names()
    except DBAPIError as error:
        engine.dispose()
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise DatabaseError(
            f"The database {shown} could not be opened ({reason}). Check that the server is "
            "running and the address, user and password are right, or that the file is a "
            "Safer Spaces database; nothing was changed."
        ) from error
    return engine


def _alembic_config(connection) -> Config:  # type: ignore[no-untyped-def]
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


#: The PostgreSQL advisory lock held while the schema is upgraded (any number, fixed).
UPGRADE_LOCK = 7_277_262_009


def upgrade(engine: Engine) -> None:
    """Bring the schema up to the newest migration (creating it on an empty database).

    On PostgreSQL the upgrade holds an advisory lock, so that app instances starting
    together take turns: the first upgrades, the others then find nothing to do.
    """
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                lock = text("SELECT pg_advisory_xact_lock(:key)")
                connection.execute(lock, {"key": UPGRADE_LOCK})
            command.upgrade(_alembic_config(connection), "head")
    except DBAPIError as error:
        raise DatabaseError(
            f"The database {describe_url(str(engine.url))} could not be upgraded: "
            f"{str(error.orig).strip().splitlines()[0]}. Nothing was changed."
        ) from error


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """Open a session that commits at the end of the block, or rolls back on error."""
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session, session.begin():
        yield session
