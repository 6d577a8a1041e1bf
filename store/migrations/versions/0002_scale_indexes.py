"""indexes for a force-sized database: incidents by location, the audit log by record and action

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 21:30:00

At 1,000,000 incidents a place panel's "incidents within 200 m" read scanned every
incident since the start of the trend window (about 340,000 rows, 50 ms on PostgreSQL);
with ``ix_incidents_location`` it reads the few in the square around the place (0.3 ms).
The audit log grows with every sign-in and place panel viewed; an assessment's history and
the approval dates are read by record and by action.
"""

from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain CREATE INDEX (no batch mode): SQLite must not rebuild audit_events, whose
    # append-only triggers would be lost.
    op.create_index('ix_incidents_location', 'incidents', ['easting', 'northing'])
    op.create_index('ix_audit_events_entity', 'audit_events', ['entity', 'entity_id'])
    op.create_index('ix_audit_events_action', 'audit_events', ['action'])


def downgrade() -> None:
    op.drop_index('ix_audit_events_action', table_name='audit_events')
    op.drop_index('ix_audit_events_entity', table_name='audit_events')
    op.drop_index('ix_incidents_location', table_name='incidents')
