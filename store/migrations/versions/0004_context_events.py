"""context events: public crime and anti-social behaviour of all ages (police.uk), kept apart

Revision ID: 0004_context_events
Revises: 0002
Create Date: 2026-11-28 20:00:00

police.uk street-level crime is about people of all ages and says nothing about
children. It is stored here, with its own crime types, never as incidents of
exploitation (issue 17). ``record_key`` is a uniform random 0..255 per row for
cell-key perturbation of the counts shown to roles without point access.
"""

from alembic import op
import sqlalchemy as sa


revision = '0004_context_events'
down_revision = '0003_record_keys'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'context_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=120), nullable=False),
        sa.Column('source_ref', sa.String(length=64), nullable=False),
        sa.Column('crime_type', sa.String(length=60), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('easting', sa.Float(), nullable=True),
        sa.Column('northing', sa.Float(), nullable=True),
        sa.Column('district_code', sa.String(length=9), nullable=False),
        sa.Column('ward_code', sa.String(length=9), nullable=True),
        sa.Column('import_batch_id', sa.Integer(), nullable=True),
        sa.Column('record_key', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=120), nullable=False),
        sa.Column('updated_by', sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ['district_code'], ['districts.code'],
            name=op.f('fk_context_events_district_code_districts'),
        ),
        sa.ForeignKeyConstraint(
            ['import_batch_id'], ['import_batches.id'],
            name=op.f('fk_context_events_import_batch_id_import_batches'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_context_events')),
        sa.UniqueConstraint('source_ref', name=op.f('uq_context_events_source_ref')),
    )
    op.create_index(
        'ix_context_events_district_month', 'context_events', ['district_code', 'month']
    )
    op.create_index('ix_context_events_month', 'context_events', ['month'])
    op.create_index(
        op.f('ix_context_events_import_batch_id'), 'context_events', ['import_batch_id']
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_context_events_import_batch_id'), table_name='context_events')
    op.drop_index('ix_context_events_month', table_name='context_events')
    op.drop_index('ix_context_events_district_month', table_name='context_events')
    op.drop_table('context_events')
