"""fault_shards: how far the fault processors have stored each shard of the event stream
(issue 18: processors scaled out; an entry read again is never stored twice)

Revision ID: b8d0f2a4c6e9
Revises: a7c9e1f3b5d8
Create Date: 2026-12-06 11:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "b8d0f2a4c6e9"
down_revision = "a7c9e1f3b5d8"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "fault_shards",
        sa.Column("shard", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_id", sa.String(length=40), nullable=False),
        sa.Column("unsettled", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("shard"),
    )


def downgrade():
    op.drop_table("fault_shards")
