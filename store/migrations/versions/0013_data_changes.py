"""data_changes: a small log of writes, so the pages' data version costs nothing to read

Revision ID: 0013_data_changes
Revises: 0012_stored_refs
Create Date: 2026-11-29 17:00:00

Every app process asks for the data version (``store.queries.data_version``) every 30 s:
it keys the pages' caches. It was each table's row count and newest ``updated_at``, so
on a national database (10,000,000 incidents) each ask read every partition of
``incidents``: 2 s of the database's time, and 2 s of a district's first Map.

Now the database logs its own writes, whoever makes them (app, importer, generators, a
rollback, a hand-written ``DELETE``), and the version is read from the log:

- PostgreSQL: a statement trigger on each table adds or updates the row of *its own*
  transaction (``txid_current()``). Transactions never touch each other's rows, so two
  officers saving at once, or an import beside them, never wait on the log or deadlock
  on it; and a row is seen only once its transaction commits, so the version changes
  exactly when the data others can read do. One row per writing transaction and table.
- SQLite (one writer at a time): a row trigger keeps one row per table, counting rows.
"""

import sqlalchemy as sa
from alembic import op

revision = '0013_data_changes'
down_revision = '0012_stored_refs'
branch_labels = None
depends_on = None

#: The tables the pages read, as ``store.queries.data_version`` names them.
TABLES = (
    'districts', 'places', 'incidents', 'referrals', 'assessments', 'actions', 'context_events'
)

_PG_FUNCTION = (
    'CREATE FUNCTION data_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN '
    'INSERT INTO data_changes (table_name, txid, changes, changed_at) '
    'VALUES (TG_TABLE_NAME, txid_current(), 1, clock_timestamp()) '
    'ON CONFLICT (table_name, txid) DO UPDATE '
    'SET changes = data_changes.changes + 1, changed_at = EXCLUDED.changed_at; '
    'RETURN NULL; END $$'
)
_SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"


def _sqlite_trigger(table: str, event: str) -> str:
    return (
        f'CREATE TRIGGER data_changed_{table}_{event.lower()} AFTER {event} ON {table} BEGIN '
        'INSERT INTO data_changes (table_name, txid, changes, changed_at) '
        f"VALUES ('{table}', 0, 1, {_SQLITE_NOW}) "
        'ON CONFLICT (table_name, txid) DO UPDATE '
        'SET changes = changes + 1, changed_at = excluded.changed_at; END'
    )


def upgrade() -> None:
    op.create_table(
        'data_changes',
        sa.Column('table_name', sa.String(length=40), nullable=False),
        sa.Column('txid', sa.BigInteger(), nullable=False),
        sa.Column('changes', sa.BigInteger(), nullable=False),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('table_name', 'txid', name=op.f('pk_data_changes')),
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(_PG_FUNCTION)
        for table in TABLES:
            op.execute(
                f'CREATE TRIGGER data_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE '
                f'ON {table} FOR EACH STATEMENT EXECUTE FUNCTION data_changed()'
            )
    else:
        for table in TABLES:
            for event in ('INSERT', 'UPDATE', 'DELETE'):
                op.execute(_sqlite_trigger(table, event))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for table in TABLES:
            op.execute(f'DROP TRIGGER IF EXISTS data_changed ON {table}')
        op.execute('DROP FUNCTION IF EXISTS data_changed()')
    else:
        for table in TABLES:
            for event in ('insert', 'update', 'delete'):
                op.execute(f'DROP TRIGGER IF EXISTS data_changed_{table}_{event}')
    op.drop_table('data_changes')
