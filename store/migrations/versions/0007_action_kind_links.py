"""actions.kind (issue 19's copy; 0006_action_kind adds the same column: keep one at merge)

Revision ID: 0007_action_kind_links
Revises: 0005_place_links
Create Date: 2026-11-28 21:00:00

The kind of an action (store.vocabulary.ACTION_KINDS: lighting, CCTV, licensing review,
Operation Makesafe training, patrols, PSPO, other), for the MACE panel's disruption actions.
Another branch adds the identical column in its migration 0006_action_kind; at merge drop
this file (and point whatever follows at 0006's head).
"""

import sqlalchemy as sa
from alembic import op


revision = '0007_action_kind_links'
down_revision = '0005_place_links'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('actions', sa.Column('kind', sa.String(length=24), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('actions') as batch_op:
        batch_op.drop_column('kind')
