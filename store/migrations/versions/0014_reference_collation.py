"""Stored references compared byte by byte (the C collation) on PostgreSQL

Revision ID: 0014_reference_collation
Revises: 0013_data_changes
Create Date: 2026-11-30 18:30:00

``source_ref`` holds keyed pseudonyms and fingerprints (``r`` or ``f`` and hex digits):
opaque, so the database's language collation only made their indexes slower to build
and to probe. A first load of 1,000,000 incidents built ``incident_refs``' key in 2.2 s
and ``incidents``' reference index in 2.4 s; byte order takes 0.9 s and 1.3 s (issue 21).
Equality is the same in either order, so no stored reference changes or collides.

The columns keep their type, so PostgreSQL rewrites only the indexes on them, not the
tables. SQLite compares text byte by byte already: nothing changes there.
"""

from alembic import op

revision = '0014_reference_collation'
down_revision = '0013_data_changes'
branch_labels = None
depends_on = None

#: Every table with a stored reference; ``incidents`` and ``incident_refs`` are compared
#: with each other by 0012's triggers, so they change together.
TABLES = ('incidents', 'incident_refs', 'referrals', 'context_events')


def _collate(collation: str) -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table in TABLES:
        op.execute(
            f'ALTER TABLE {table} ALTER COLUMN source_ref TYPE varchar(64) COLLATE {collation}'
        )


def upgrade() -> None:
    _collate('"C"')


def downgrade() -> None:
    _collate('"default"')
