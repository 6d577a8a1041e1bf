"""actions: the kind of each action (lighting, CCTV, licensing review...), for the impact of actions

Revision ID: 0006_action_kind
Revises: 0002
Create Date: 2026-11-28 19:50:00

Pooling the impact of actions by what was done needs each action's kind
(``store.vocabulary.ACTION_KINDS``). Existing actions keep no kind (NULL) and are
counted as "other".
"""

from alembic import op
import sqlalchemy as sa


revision = '0006_action_kind'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # add_column without batch mode: SQLite adds a nullable column in place.
    op.add_column('actions', sa.Column('kind', sa.String(length=24), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.drop_column('kind')
