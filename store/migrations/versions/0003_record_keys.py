"""record keys on incidents and referrals, for the cell key method (services.disclosure)

Revision ID: 0003_record_keys
Revises: 0002
Create Date: 2026-11-28 20:00:00

Every incident and referral gets ``record_key``, a random whole number from 0 to 255.
The key of a count is the sum of its records' keys mod 256, and a published perturbation
table turns (count, key) into the small noise that roles without point access see, the
same for the same records every time. Rows stored before this migration get a random key
here, drawn by the database (SQLite's ``random()``, PostgreSQL's ``random()``); new rows
get theirs at import (``secrets``).
"""

import sqlalchemy as sa
from alembic import op


revision = '0003_record_keys'
down_revision = '0002'
branch_labels = None
depends_on = None

TABLES = ('incidents', 'referrals')


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == 'sqlite'
    draw = '(abs(random()) % 256)' if sqlite else 'floor(random() * 256)::integer'
    for table in TABLES:
        # Plain ADD COLUMN (no batch mode): a table rebuild at a million rows is not needed.
        op.add_column(
            table, sa.Column('record_key', sa.Integer(), nullable=False, server_default='0')
        )
        op.execute(f'UPDATE {table} SET record_key = {draw}')
        if not sqlite:  # SQLite cannot drop a column default without rebuilding the table
            op.alter_column(table, 'record_key', server_default=None)


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column('record_key')
