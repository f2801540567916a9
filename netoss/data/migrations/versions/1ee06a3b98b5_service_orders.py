"""service orders (TMF641): the items, the job that runs them, the state history and the ticket

Revision ID: 1ee06a3b98b5
Revises: 0a8428d63b76
Create Date: 2026-11-27 01:54:42

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "1ee06a3b98b5"
down_revision = "0a8428d63b76"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "service_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_reason", sa.String(length=500), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("state_changes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("service_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_service_orders_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_service_orders_external_id"), ["external_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_service_orders_job_id"), ["job_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_service_orders_state"), ["state"], unique=False)


def downgrade():
    with op.batch_alter_table("service_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_orders_state"))
        batch_op.drop_index(batch_op.f("ix_service_orders_job_id"))
        batch_op.drop_index(batch_op.f("ix_service_orders_external_id"))
        batch_op.drop_index(batch_op.f("ix_service_orders_created_at"))

    op.drop_table("service_orders")
