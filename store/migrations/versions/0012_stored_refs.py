"""incident_refs: every stored incident's reference once, kept in step by triggers

Revision ID: 0012_stored_refs
Revises: 0011_evidence
Create Date: 2026-11-29 09:45:00

The importer leaves out every reference stored before (``services.imports.batch``).
On PostgreSQL ``incidents`` is partitioned (0009_partitions: 161 leaves), so asking
whether a reference is stored probed the ``source_ref`` index of every leaf: an import
of 1,000,000 rows spent 600 of its 663 s there. ``incident_refs`` holds each reference
once (its primary key), so the question is one index probe per reference, and the
uniqueness the partitioned table could not hold is back.

The database keeps it in step, whoever writes ``incidents`` (importer, demo, generators,
a rollback, a hand-written ``DELETE``):

- PostgreSQL: statement triggers on the partitioned table with transition tables (one
  set-wise statement per ``INSERT``/``COPY``/``DELETE``/``UPDATE``, not one per row),
  and one on ``TRUNCATE``. Statements run on a leaf partition directly do not fire them.
- SQLite: row triggers (``incidents`` is a plain table there).

The table is filled from the incidents already stored.
"""

import sqlalchemy as sa
from alembic import op

revision = '0012_stored_refs'
down_revision = '0011_evidence'
branch_labels = None
depends_on = None

_PG_FUNCTIONS = {
    'incident_refs_added': (
        'INSERT INTO incident_refs (source_ref) SELECT source_ref FROM new_rows'
    ),
    'incident_refs_removed': (
        'DELETE FROM incident_refs r USING old_rows o WHERE r.source_ref = o.source_ref'
    ),
    'incident_refs_changed': (
        'DELETE FROM incident_refs r USING old_rows o WHERE r.source_ref = o.source_ref '
        'AND NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.source_ref = o.source_ref); '
        'INSERT INTO incident_refs (source_ref) SELECT n.source_ref FROM new_rows n '
        'WHERE NOT EXISTS (SELECT 1 FROM old_rows o WHERE o.source_ref = n.source_ref)'
    ),
    'incident_refs_emptied': 'DELETE FROM incident_refs',
}
_PG_TRIGGERS = (
    ('incident_refs_added', 'AFTER INSERT', 'REFERENCING NEW TABLE AS new_rows'),
    ('incident_refs_removed', 'AFTER DELETE', 'REFERENCING OLD TABLE AS old_rows'),
    ('incident_refs_changed', 'AFTER UPDATE',
     'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows'),
    ('incident_refs_emptied', 'AFTER TRUNCATE', ''),
)
_SQLITE_TRIGGERS = (
    'CREATE TRIGGER incident_refs_added AFTER INSERT ON incidents BEGIN '
    'INSERT INTO incident_refs (source_ref) VALUES (NEW.source_ref); END',
    'CREATE TRIGGER incident_refs_removed AFTER DELETE ON incidents BEGIN '
    'DELETE FROM incident_refs WHERE source_ref = OLD.source_ref; END',
    'CREATE TRIGGER incident_refs_changed AFTER UPDATE OF source_ref ON incidents '
    'WHEN OLD.source_ref IS NOT NEW.source_ref BEGIN '
    'DELETE FROM incident_refs WHERE source_ref = OLD.source_ref; '
    'INSERT INTO incident_refs (source_ref) VALUES (NEW.source_ref); END',
)


def upgrade() -> None:
    op.create_table(
        'incident_refs',
        sa.Column('source_ref', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('source_ref', name=op.f('pk_incident_refs')),
    )
    op.execute('INSERT INTO incident_refs (source_ref) SELECT DISTINCT source_ref FROM incidents')
    if op.get_bind().dialect.name == 'postgresql':
        for name, body in _PG_FUNCTIONS.items():
            op.execute(
                f'CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS '
                f'$$ BEGIN {body}; RETURN NULL; END $$'
            )
        for name, when, referencing in _PG_TRIGGERS:
            op.execute(
                f'CREATE TRIGGER {name} {when} ON incidents {referencing} '
                f'FOR EACH STATEMENT EXECUTE FUNCTION {name}()'
            )
        op.execute('ANALYZE incident_refs')
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == 'postgresql'
    for name, _, _ in _PG_TRIGGERS:
        if postgres:
            op.execute(f'DROP TRIGGER IF EXISTS {name} ON incidents')
            op.execute(f'DROP FUNCTION IF EXISTS {name}()')
        else:
            op.execute(f'DROP TRIGGER IF EXISTS {name}')
    op.drop_table('incident_refs')
