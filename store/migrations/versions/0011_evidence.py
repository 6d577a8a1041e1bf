"""attachments: photos and PDFs from a visit, attached to an assessment (issue 23)

Revision ID: 0011_evidence
Revises: 0010_owners_notifications
Create Date: 2026-11-28 23:30:00

Evidence is re-encoded on upload (location and camera metadata stripped) and kept in
``content`` or, when the ``evidence_dir`` setting names a folder, as a file named by
``stored_name`` in that folder. No original file name is kept.
"""

import sqlalchemy as sa
from alembic import op


revision = '0011_evidence'
down_revision = "0010_owners_notifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'attachments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('assessment_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('mime', sa.String(length=40), nullable=False),
        sa.Column('caption', sa.Text(), nullable=True),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('width', sa.Integer(), nullable=True),
        sa.Column('height', sa.Integer(), nullable=True),
        sa.Column('content', sa.LargeBinary(), nullable=True),
        sa.Column('stored_name', sa.String(length=100), nullable=True),
        sa.Column('thumbnail', sa.LargeBinary(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=120), nullable=False),
        sa.Column('updated_by', sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ['assessment_id'], ['assessments.id'],
            name=op.f('fk_attachments_assessment_id_assessments'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_attachments')),
    )
    op.create_index(
        op.f('ix_attachments_assessment_id'), 'attachments', ['assessment_id'], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_attachments_assessment_id'), table_name='attachments')
    op.drop_table('attachments')
