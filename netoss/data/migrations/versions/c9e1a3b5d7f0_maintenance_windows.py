"""maintenance_windows and alarms.planned_outage: planned outages (issue 19, service
assurance: an alarm inside a maintenance window is planned and opens no ticket)

Revision ID: c9e1a3b5d7f0
Revises: b8d0f2a4c6e9
Create Date: 2026-12-06 14:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "c9e1a3b5d7f0"
down_revision = "b8d0f2a4c6e9"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "maintenance_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("devices", sa.JSON(), nullable=False),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_maintenance_windows_ends_at_starts_at", "maintenance_windows", ["ends_at", "starts_at"])
    op.create_index(op.f("ix_maintenance_windows_job_id"), "maintenance_windows", ["job_id"])
    with op.batch_alter_table("alarms") as batch:
        batch.add_column(sa.Column("planned_outage", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table("alarms") as batch:
        batch.drop_column("planned_outage")
    op.drop_index(op.f("ix_maintenance_windows_job_id"), table_name="maintenance_windows")
    op.drop_index("ix_maintenance_windows_ends_at_starts_at", table_name="maintenance_windows")
    op.drop_table("maintenance_windows")
