"""jobs.plan: each play's hosts and task count, for the progress bar

Revision ID: a3c1f0e2b7d4
Revises: 5ea0a51882ca
Create Date: 2026-11-26 19:50:00

"""

import sqlalchemy as sa
from alembic import op

revision = "a3c1f0e2b7d4"
down_revision = "5ea0a51882ca"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("plan", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("plan")
