"""audit rows immutable against REPLACE, upserts and TRUNCATE; a per-user session epoch

Revision ID: 0008_audit_immutable
Revises: 0002
Create Date: 2026-11-28 20:00:00

The 0001 triggers refuse UPDATE and DELETE of audit events. Two ways round them:

- SQLite's ``INSERT OR REPLACE`` / ``REPLACE`` deletes the row with the same id and
  inserts a new one, and delete triggers do not fire for that delete (unless
  ``recursive_triggers`` is on). A BEFORE INSERT trigger now refuses an insert whose id
  is already taken, whatever its conflict clause.
- PostgreSQL's ``TRUNCATE`` fires no row trigger. A statement trigger now refuses it.
  (``INSERT ... ON CONFLICT DO UPDATE`` fires the row UPDATE trigger, so it was refused
  already; the tests check both.)

``users.session_epoch`` counts a person's sign-outs: every session keeps the number it
signed in with and ends when the stored one moves on, so signing out ends every session
of that person.
"""

import sqlalchemy as sa
from alembic import op


revision = '0008_audit_immutable'
down_revision = '0007_action_kind_links'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch mode): SQLite must not rebuild tables.
    op.add_column(
        'users', sa.Column('session_epoch', sa.Integer(), nullable=False, server_default='0')
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
        )
    else:
        op.execute(
            "CREATE TRIGGER audit_events_no_replace BEFORE INSERT ON audit_events "
            "WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM audit_events WHERE id = NEW.id) "
            "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_no_truncate ON audit_events")
    else:
        op.execute("DROP TRIGGER audit_events_no_replace")
    op.drop_column('users', 'session_epoch')
