"""links between places (issue 19): place_links, and persons of concern as keyed pseudonyms

Revision ID: 0005_place_links
Revises: 0002
Create Date: 2026-11-28 20:00:00

An incident or referral belongs to one or more places (named in the file, within the
place's outline, or within a set distance): one ``place_links`` row each. Incidents and
referrals gain ``person_pseudonym``: a person of concern, only ever as a keyed pseudonym in
its own namespace (never a name). The lead chains this after the other engineers' migrations.
"""

import sqlalchemy as sa
from alembic import op


revision = '0005_place_links'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch mode): SQLite must not rebuild tables needlessly.
    op.add_column('incidents', sa.Column('person_pseudonym', sa.String(length=64), nullable=True))
    op.add_column('referrals', sa.Column('person_pseudonym', sa.String(length=64), nullable=True))
    op.create_table(
        'place_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('place_id', sa.Integer(), nullable=False),
        sa.Column('referral_id', sa.Integer(), nullable=True),
        sa.Column('incident_id', sa.Integer(), nullable=True),
        sa.Column('relation', sa.String(length=12), nullable=False),
        sa.Column('import_batch_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=120), nullable=False),
        sa.Column('updated_by', sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(['place_id'], ['places.id'], name=op.f('fk_place_links_place_id_places')),
        sa.ForeignKeyConstraint(['referral_id'], ['referrals.id'], name=op.f('fk_place_links_referral_id_referrals')),
        sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_place_links_incident_id_incidents')),
        sa.ForeignKeyConstraint(['import_batch_id'], ['import_batches.id'], name=op.f('fk_place_links_import_batch_id_import_batches')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_place_links')),
        sa.UniqueConstraint('referral_id', 'incident_id', 'place_id', 'relation', name=op.f('uq_place_links_referral_id')),
    )
    op.create_index('ix_place_links_place', 'place_links', ['place_id'])
    op.create_index(op.f('ix_place_links_referral_id'), 'place_links', ['referral_id'])
    op.create_index(op.f('ix_place_links_incident_id'), 'place_links', ['incident_id'])
    op.create_index(op.f('ix_place_links_import_batch_id'), 'place_links', ['import_batch_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_place_links_import_batch_id'), table_name='place_links')
    op.drop_index(op.f('ix_place_links_incident_id'), table_name='place_links')
    op.drop_index(op.f('ix_place_links_referral_id'), table_name='place_links')
    op.drop_index('ix_place_links_place', table_name='place_links')
    op.drop_table('place_links')
    with op.batch_alter_table('referrals') as batch_op:
        batch_op.drop_column('person_pseudonym')
    with op.batch_alter_table('incidents') as batch_op:
        batch_op.drop_column('person_pseudonym')
