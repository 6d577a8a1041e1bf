"""A first load into an empty PostgreSQL table: rows first, indexes and keys built once after.

PostgreSQL's own advice for populating a database, and what ``pg_restore`` does: loading
rows into a table without its indexes and foreign keys, then building them once, is
several times faster than keeping every index up to date and checking every key row by
row (issue 21: a million incidents took 76 s of PostgreSQL's time with the seven indexes
of the partitioned ``incidents``, and 23 s loaded first and indexed after; its foreign
keys, checked row by row, took another 22 s, and checked once at the end 0.7 s).

Keys and indexes led by the table's serial id or the import batch stay: a load adds to
them at their right-hand end only, which costs no more than building them afterwards and
is done while Python prepares the next chunk rather than after the last.

It is safe only while nobody else can see or write the table, so :func:`defer_indexes`
locks it (``ACCESS EXCLUSIVE``, until the import's transaction ends) and checks again that
it is empty under the lock. Everything is transactional: an import that fails or is killed
rolls the dropped indexes and keys back with its rows. Rebuilding the primary and unique
keys checks every row again, so a repeated reference still cannot be stored; adding the
foreign keys again checks every row's district, place and batch in one query each.

Dropping a foreign key also locks the table it points at (``districts``, ``places``,
``import_batches``), which readers and other imports use. So those locks are asked for all
at once and without waiting (``NOWAIT``), a few times: the import never waits for a lock
while holding one that another session waits for, so it cannot deadlock. While it holds
them, pages that read those tables wait for the first load to finish. If they stay busy,
the foreign keys are kept and checked row by row (slower, as safe), and keys that other
tables' foreign keys point at always stay.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError

__all__ = ["Deferred", "defer_indexes", "index_name", "rebuild_indexes"]


@dataclass
class Deferred:
    """What :func:`defer_indexes` dropped, to be built again by :func:`rebuild_indexes`.

    Attributes
    ----------
    tables
        The tables emptied of indexes, in the order they were locked.
    keys
        ``(table, name, definition)`` of the primary and unique keys dropped.
    indexes
        The ``CREATE INDEX`` statements of the other indexes dropped.
    foreign
        ``(table, name, definition)`` of the foreign keys dropped: none when the tables
        they point at were busy (the keys were then checked row by row).
    """

    tables: tuple[str, ...] = ()
    keys: list[tuple[str, str, str]] = field(default_factory=list)
    indexes: list[str] = field(default_factory=list)
    foreign: list[tuple[str, str, str]] = field(default_factory=list)


LOCK_TRIES = 20
"""How many times a first load asks, without waiting, for the tables its foreign keys
point at, :data:`LOCK_PAUSE` seconds apart, before it keeps the keys instead."""
LOCK_PAUSE = 0.05
_LOCK_NOT_AVAILABLE = "55P03"


def _is_empty(connection: Connection, table: str) -> bool:
    return not connection.scalar(text(f"SELECT EXISTS (SELECT 1 FROM {table})"))


def defer_indexes(connection: Connection, tables: tuple[str, ...]) -> Deferred | None:
    """Drop the indexes and keys of empty tables for a first load, inside the transaction.

    Parameters
    ----------
    connection
        The import's connection, inside its transaction (PostgreSQL only).
    tables
        The table the rows go to, then any table filled from it by a trigger
        (``incident_refs`` for ``incidents``).

    Returns
    -------
    Deferred or None
        What was dropped, or None (nothing changed) when the database is not
        PostgreSQL or any of the tables already holds a row: a later import keeps
        its indexes and checks each row against what is stored.
    """
    if connection.dialect.name != "postgresql":
        return None
    # Asked first on a connection of its own, so that this transaction holds no lock on
    # the tables while it waits for the exclusive one: two first loads at once would each
    # hold a share lock the other's exclusive lock waits for (a deadlock).
    with connection.engine.connect() as probe:
        if not all(_is_empty(probe, table) for table in tables):
            return None  # the common case: a later import keeps its indexes
    foreign = _lock_with_what_keys_point_at(connection, tables)  # empty under the lock
    if not foreign:
        for table in tables:
            connection.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
        if not all(_is_empty(connection, table) for table in tables):
            return None  # another import filled it meanwhile; the lock is kept until the end
    deferred = Deferred(tables=tables, foreign=foreign)
    constraints = [row[:3] for row in _constraints(connection, tables, "('p', 'u')")]
    for owner, name, definition in constraints:
        # Keys that other tables' foreign keys point at stay: dropping one would lock
        # every table pointing at it, which readers and imports hold.
        if not _pointed_at(connection, owner, name) and not _filled_in_order(definition):
            deferred.keys.append((owner, name, definition))
    keys = {name for _, name, _ in constraints}  # dropped with their key, or kept with it
    deferred.indexes = [
        # a partitioned table's index is listed "ON ONLY" the parent; built again on all
        definition.replace(" ON ONLY ", " ON ", 1)
        for name, definition in connection.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                f"AND tablename IN ({', '.join(repr(t) for t in tables)}) ORDER BY indexname"
            )
        )
        if name not in keys and not _filled_in_order(definition)
    ]
    for owner, name, _ in (*deferred.foreign, *deferred.keys):
        connection.execute(text(f'ALTER TABLE {owner} DROP CONSTRAINT "{name}"'))
    for definition in deferred.indexes:
        connection.execute(text(f"DROP INDEX {index_name(definition)}"))
    return deferred


def index_name(definition: str) -> str:
    """Return the index a ``CREATE [UNIQUE] INDEX name ON ...`` statement makes."""
    return definition.split(" INDEX ", 1)[1].split(" ON ", 1)[0]


#: Leading columns whose values a load brings in ascending order: the table's own serial
#: id, and the batch's id (the same on every row, and equal keys are kept in the order
#: the rows were stored). An index led by one grows only at its right-hand end.
_IN_ORDER = ("id", "import_batch_id")


def _filled_in_order(definition: str) -> bool:
    """Return whether a key or index is filled in order by a load, so is kept during it.

    PostgreSQL then adds each row's entry at the right-hand end of the index, as cheap
    as the sort that building it afterwards would take, and done while the copy of the
    next chunk overlaps Python preparing it, not after every row is stored (issue 21).
    """
    columns = definition.split(" USING ", 1)[-1].split("(", 1)[1].split(")", 1)[0]
    return columns.split(",", 1)[0].strip().strip('"') in _IN_ORDER


def _lock_with_what_keys_point_at(
    connection: Connection, tables: tuple[str, ...]
) -> list[tuple[str, str, str]]:
    """Lock the tables and those their foreign keys point at, without waiting; list the keys.

    All in one ``LOCK TABLE ... NOWAIT``, asked :data:`LOCK_TRIES` times inside a
    savepoint, so that a refusal gives back what it took. Returns the foreign keys
    (``(table, name, definition)``), which the caller may then drop, or an empty list
    with nothing newly locked when another session kept one of the tables busy or a
    table is no longer empty.
    """
    keys = _constraints(connection, tables, "('f')")
    if not keys:
        return []
    pointed_at = sorted({row[3] for row in keys} - set(tables))
    everything = ", ".join((*tables, *pointed_at))
    for attempt in range(LOCK_TRIES):
        if attempt:
            time.sleep(LOCK_PAUSE)
        savepoint = connection.begin_nested()
        try:
            connection.execute(text(f"LOCK TABLE {everything} IN ACCESS EXCLUSIVE MODE NOWAIT"))
        except OperationalError as error:
            savepoint.rollback()
            if getattr(error.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
                raise
            continue
        if not all(_is_empty(connection, table) for table in tables):
            savepoint.rollback()  # filled meanwhile: the caller finds it so, under its lock
            return []
        savepoint.commit()  # the locks stay with the import's transaction
        return [(owner, name, definition) for owner, name, definition, _ in keys]
    return []


def _constraints(connection: Connection, tables: tuple[str, ...], kinds: str) -> list:
    """Return ``(table, name, definition, table pointed at)`` of the tables' constraints.

    ``kinds`` is an SQL list of ``pg_constraint.contype`` letters, such as ``('p', 'u')``.
    """
    named = ", ".join(f"'{t}'::regclass" for t in tables)
    return list(
        connection.execute(
            text(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), "
                f"confrelid::regclass::text FROM pg_constraint WHERE conrelid IN ({named}) "
                f"AND contype IN {kinds} ORDER BY conname"
            )
        ).all()
    )


def _pointed_at(connection: Connection, table: str, key: str) -> bool:
    """Return whether a foreign key of another table points at this key of ``table``."""
    return bool(
        connection.scalar(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_constraint f JOIN pg_constraint k ON "
                "k.conindid = f.conindid AND k.conrelid = f.confrelid WHERE f.contype = 'f' "
                "AND k.conrelid = CAST(:table AS regclass) AND k.conname = :key)"
            ),
            {"table": table, "key": key},
        )
    )


def rebuild_indexes(connection: Connection, deferred: Deferred | None) -> None:
    """Build again, once over all the rows loaded, what :func:`defer_indexes` dropped.

    Keys first (checking that no reference was stored twice), then the other indexes,
    then the foreign keys (checking every row's district, place and batch at once).
    """
    if deferred is None:
        return
    for owner, name, definition in deferred.keys:
        connection.execute(text(f'ALTER TABLE {owner} ADD CONSTRAINT "{name}" {definition}'))
    for definition in deferred.indexes:
        connection.execute(text(definition))
    for owner, name, definition in deferred.foreign:
        connection.execute(text(f'ALTER TABLE {owner} ADD CONSTRAINT "{name}" {definition}'))
