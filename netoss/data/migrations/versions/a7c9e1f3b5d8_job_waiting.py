"""jobs.waiting_since and jobs.waiting_for: a job whose devices are locked waits pending, out of
any worker, and says since when and for what (issue 18: queues by device group)

Revision ID: a7c9e1f3b5d8
Revises: f3a5c7e9b1d2
Create Date: 2026-12-06 08:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "a7c9e1f3b5d8"
down_revision = "f3a5c7e9b1d2"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("waiting_for", sa.String(length=500), nullable=True))


def downgrade():
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("waiting_for")
        batch.drop_column("waiting_since")
