"""links between places (issue 19): place_links, and persons of concern as keyed pseudonyms

Revision ID: 0005_place_links
Revises: 0002
Create Date: 2026-11-28 20:00:00

An incident or referral belongs to one or more places (named in the file, within the
place's outline, or within a set distance): one ``place_links`` row each. Incidents and
referrals gain ``person_pseudonym``: a person of concern, only ever as a keyed pseudonym in
its own namespace (never a name). MACE panels (``mace_panels``, ``mace_agenda_items``) and
their actions: ``actions.panel_id``, and ``actions.assessment_id`` becomes nullable (an action
belongs to an assessment or to a panel). The lead chains this after the other engineers'
migrations; the action's ``kind`` is in 0007_action_kind_links.
"""

import sqlalchemy as sa
from alembic import op


revision = '0005_place_links'
down_revision = '0004_context_events'
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

    op.create_table(
        'mace_panels',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('held_on', sa.Date(), nullable=False),
        sa.Column('organisations', sa.Text(), nullable=False),
        sa.Column('decisions', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=120), nullable=False),
        sa.Column('updated_by', sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mace_panels')),
    )
    op.create_index(op.f('ix_mace_panels_held_on'), 'mace_panels', ['held_on'])
    op.create_table(
        'mace_agenda_items',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('panel_id', sa.Integer(), nullable=False),
        sa.Column('place_keys', sa.Text(), nullable=False),
        sa.Column('summary', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=120), nullable=False),
        sa.Column('updated_by', sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(['panel_id'], ['mace_panels.id'], name=op.f('fk_mace_agenda_items_panel_id_mace_panels')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mace_agenda_items')),
    )
    op.create_index(op.f('ix_mace_agenda_items_panel_id'), 'mace_agenda_items', ['panel_id'])
    # actions: no triggers, so SQLite may rebuild the table
    with op.batch_alter_table('actions') as batch_op:
        batch_op.alter_column('assessment_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('panel_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f('fk_actions_panel_id_mace_panels'), 'mace_panels', ['panel_id'], ['id'])
        batch_op.create_index(op.f('ix_actions_panel_id'), ['panel_id'])


def downgrade() -> None:
    with op.batch_alter_table('actions') as batch_op:
        batch_op.drop_index(op.f('ix_actions_panel_id'))
        batch_op.drop_constraint(op.f('fk_actions_panel_id_mace_panels'), type_='foreignkey')
        batch_op.drop_column('panel_id')
        batch_op.alter_column('assessment_id', existing_type=sa.Integer(), nullable=False)
    op.drop_index(op.f('ix_mace_agenda_items_panel_id'), table_name='mace_agenda_items')
    op.drop_table('mace_agenda_items')
    op.drop_index(op.f('ix_mace_panels_held_on'), table_name='mace_panels')
    op.drop_table('mace_panels')
    op.drop_index(op.f('ix_place_links_import_batch_id'), table_name='place_links')
    op.drop_index(op.f('ix_place_links_incident_id'), table_name='place_links')
    op.drop_index(op.f('ix_place_links_referral_id'), table_name='place_links')
    op.drop_index('ix_place_links_place', table_name='place_links')
    op.drop_table('place_links')
    with op.batch_alter_table('referrals') as batch_op:
        batch_op.drop_column('person_pseudonym')
    with op.batch_alter_table('incidents') as batch_op:
        batch_op.drop_column('person_pseudonym')
