"""incidents partitioned by year and district on PostgreSQL (a national dataset)

Revision ID: 0009_partitions
Revises: 0008_audit_immutable
Create Date: 2026-11-28 23:30:00

At 10,000,000 incidents over 296 districts every page reads one period of some
districts. On PostgreSQL ``incidents`` becomes a partitioned table:

- by ``occurred_on``, one range partition a year (2015 to 2034, and a default one for
  anything else), each
- divided by ``district_code`` into 8 hash partitions,

so a read of one district and one quarter touches one of 160 leaves (the planner
prunes the others, ``tests/scale/test_partitions.py``), and a year of all England 8.
The indexes are the same as before, created on the parent (every leaf gets its own).

What partitioning costs, and how it is paid:

- A primary key or unique constraint must hold the partition keys: the key is
  ``(id, occurred_on, district_code)``; ``id`` stays unique because only the sequence
  gives it. ``source_ref`` keeps a plain index: the importer already leaves out every
  reference stored before (``services.imports.batch._store``) and imports run one at a
  time per source, so the database no longer refuses a repeated reference itself.
- Foreign keys can only point at a unique constraint, so ``place_links.incident_id``
  no longer has one to ``incidents``; rolling back an import deletes its links first
  (as before).

SQLite is unchanged. The downgrade puts the plain table back.
"""

from alembic import op

revision = '0009_partitions'
down_revision = '0008_audit_immutable'
branch_labels = None
depends_on = None

FIRST_YEAR = 2015
LAST_YEAR = 2034
HASH_PARTS = 8

_INDEXES = (
    ('ix_incidents_date', 'occurred_on'),
    ('ix_incidents_district_date', 'district_code, occurred_on'),
    ('ix_incidents_location', 'easting, northing'),
    ('ix_incidents_place_id', 'place_id'),
    ('ix_incidents_import_batch_id', 'import_batch_id'),
)
_FOREIGN_KEYS = (
    ('fk_incidents_district_code_districts', 'district_code', 'districts (code)'),
    ('fk_incidents_import_batch_id_import_batches', 'import_batch_id', 'import_batches (id)'),
    ('fk_incidents_place_id_places', 'place_id', 'places (id)'),
)


def _is_postgres() -> bool:
    return op.get_bind().dialect.name == 'postgresql'


def _indexes_and_keys() -> None:
    for name, columns in _INDEXES:
        op.execute(f'CREATE INDEX {name} ON incidents ({columns})')
    for name, column, target in _FOREIGN_KEYS:
        op.execute(f'ALTER TABLE incidents ADD CONSTRAINT {name} FOREIGN KEY ({column}) '
                   f'REFERENCES {target}')


def upgrade() -> None:
    if not _is_postgres():
        return
    op.execute('ALTER TABLE incidents RENAME TO incidents_plain')
    op.execute('ALTER TABLE place_links DROP CONSTRAINT IF EXISTS '
               'fk_place_links_incident_id_incidents')
    op.execute('CREATE TABLE incidents '
               '(LIKE incidents_plain INCLUDING DEFAULTS INCLUDING CONSTRAINTS) '
               'PARTITION BY RANGE (occurred_on)')
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        op.execute(
            f"CREATE TABLE incidents_{year} PARTITION OF incidents FOR VALUES FROM "
            f"('{year}-01-01') TO ('{year + 1}-01-01') PARTITION BY HASH (district_code)"
        )
        for part in range(HASH_PARTS):
            op.execute(
                f'CREATE TABLE incidents_{year}_h{part} PARTITION OF incidents_{year} '
                f'FOR VALUES WITH (MODULUS {HASH_PARTS}, REMAINDER {part})'
            )
    op.execute('CREATE TABLE incidents_other PARTITION OF incidents DEFAULT')
    op.execute('INSERT INTO incidents SELECT * FROM incidents_plain')
    # The id sequence belongs to the old table: hand it over before dropping it.
    op.execute('ALTER SEQUENCE incidents_id_seq OWNED BY incidents.id')
    op.execute('DROP TABLE incidents_plain')
    op.execute('ALTER TABLE incidents ADD CONSTRAINT pk_incidents '
               'PRIMARY KEY (id, occurred_on, district_code)')
    op.execute('CREATE INDEX ix_incidents_source_ref ON incidents (source_ref)')
    _indexes_and_keys()
    op.execute('ANALYZE incidents')


def downgrade() -> None:
    if not _is_postgres():
        return
    op.execute('ALTER TABLE incidents RENAME TO incidents_parted')
    op.execute('CREATE TABLE incidents '
               '(LIKE incidents_parted INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
    op.execute('INSERT INTO incidents SELECT * FROM incidents_parted')
    op.execute('ALTER SEQUENCE incidents_id_seq OWNED BY incidents.id')
    op.execute('DROP TABLE incidents_parted CASCADE')
    op.execute('ALTER TABLE incidents ADD CONSTRAINT pk_incidents PRIMARY KEY (id)')
    op.execute('ALTER TABLE incidents ADD CONSTRAINT uq_incidents_source_ref UNIQUE (source_ref)')
    _indexes_and_keys()
    op.create_foreign_key(
        'fk_place_links_incident_id_incidents', 'place_links', 'incidents',
        ['incident_id'], ['id'],
    )
