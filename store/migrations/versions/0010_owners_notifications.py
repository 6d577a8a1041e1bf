"""named owners of actions (users or organisations of a list) and e-mail notifications

Revision ID: 0010_owners_notifications
Revises: 0009_partitions
Create Date: 2026-11-28 23:30:00

- ``organisations``: the list of organisations an administrator keeps (name, contact
  address for reminders, active). Every distinct owner typed before the list existed
  becomes an organisation here, and its actions point at it, so old owners stay readable
  and choosable (``actions.owner_org`` keeps the text as it was).
- ``actions.owner_user_id`` / ``actions.owner_org_id``: the owner, a user or an organisation.
- ``notification_preferences``: a person's address for notifications and the kinds they
  turned off.
- ``notifications``: every e-mail queued or sent, unique by ``key`` so nothing is sent twice;
  ``pending`` ones are retried by ``safer-spaces send-reminders``.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op


revision = '0010_owners_notifications'
down_revision = '0009_partitions'
branch_labels = None
depends_on = None


def _tracked() -> list[sa.Column]:
    return [
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=120), nullable=False),
        sa.Column('updated_by', sa.String(length=120), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        'organisations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('contact_email', sa.String(length=200), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        *_tracked(),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_organisations')),
        sa.UniqueConstraint('name', name=op.f('uq_organisations_name')),
    )
    op.create_table(
        'notification_preferences',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=200), nullable=True),
        sa.Column('kinds_off', sa.JSON(), nullable=False),
        *_tracked(),
        sa.ForeignKeyConstraint(
            ['user_id'], ['users.id'], name=op.f('fk_notification_preferences_user_id_users'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_notification_preferences')),
    )
    op.create_table(
        'notifications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=250), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('recipient', sa.String(length=200), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('organisation_id', sa.Integer(), nullable=True),
        sa.Column('subject', sa.String(length=250), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users'),
            ondelete='SET NULL',
        ),
        sa.ForeignKeyConstraint(
            ['organisation_id'], ['organisations.id'],
            name=op.f('fk_notifications_organisation_id_organisations'), ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
        sa.UniqueConstraint('key', name=op.f('uq_notifications_key')),
    )
    op.create_index('ix_notifications_status', 'notifications', ['status'])
    # actions: no triggers, so SQLite may rebuild the table
    with op.batch_alter_table('actions') as batch_op:
        batch_op.add_column(sa.Column('owner_user_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('owner_org_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f('fk_actions_owner_user_id_users'), 'users', ['owner_user_id'], ['id']
        )
        batch_op.create_foreign_key(
            op.f('fk_actions_owner_org_id_organisations'), 'organisations', ['owner_org_id'], ['id']
        )
        batch_op.create_index(op.f('ix_actions_owner_user_id'), ['owner_user_id'])
        batch_op.create_index(op.f('ix_actions_owner_org_id'), ['owner_org_id'])

    # The owners typed so far become the first organisations of the list.
    bind = op.get_bind()
    actions = sa.table(
        'actions', sa.column('id', sa.Integer), sa.column('owner_org', sa.String),
        sa.column('owner_org_id', sa.Integer),
    )
    organisations = sa.table(
        'organisations', sa.column('id', sa.Integer), sa.column('name', sa.String),
        sa.column('active', sa.Boolean), sa.column('created_at', sa.DateTime(timezone=True)),
        sa.column('updated_at', sa.DateTime(timezone=True)), sa.column('created_by', sa.String),
        sa.column('updated_by', sa.String),
    )
    names = sorted(
        {
            name.strip()
            for name in bind.execute(sa.select(actions.c.owner_org).distinct()).scalars()
            if name and name.strip()
        }
    )
    now = datetime.now(UTC)
    for name in names:
        bind.execute(
            organisations.insert().values(
                name=name[:200], active=True, created_at=now, updated_at=now,
                created_by='migration 0010', updated_by='migration 0010',
            )
        )
    ids = dict(bind.execute(sa.select(organisations.c.name, organisations.c.id)).all())
    for name, org_id in ids.items():
        bind.execute(
            actions.update()
            .where(sa.func.trim(actions.c.owner_org) == name)
            .values(owner_org_id=org_id)
        )


def downgrade() -> None:
    with op.batch_alter_table('actions') as batch_op:
        batch_op.drop_index(op.f('ix_actions_owner_org_id'))
        batch_op.drop_index(op.f('ix_actions_owner_user_id'))
        batch_op.drop_constraint(op.f('fk_actions_owner_org_id_organisations'), type_='foreignkey')
        batch_op.drop_constraint(op.f('fk_actions_owner_user_id_users'), type_='foreignkey')
        batch_op.drop_column('owner_org_id')
        batch_op.drop_column('owner_user_id')
    op.drop_index('ix_notifications_status', table_name='notifications')
    op.drop_table('notifications')
    op.drop_table('notification_preferences')
    op.drop_table('organisations')
