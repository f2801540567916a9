"""gitops_deployments and gitops_webhook_deliveries: GitOps deployments and the webhook deliveries
that queued them (replays refused by delivery id)

Revision ID: d4e8f1a2b3c5
Revises: c2cc62558e32
Create Date: 2026-12-05 11:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "d4e8f1a2b3c5"
down_revision = "c2cc62558e32"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "gitops_deployments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repository", sa.String(length=200), nullable=False),
        sa.Column("sha", sa.String(length=64), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=True),
        sa.Column("author_email", sa.String(length=200), nullable=True),
        sa.Column("subject", sa.String(length=500), nullable=True),
        sa.Column("merge_request", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("delivery_id", sa.String(length=100), nullable=True),
        sa.Column("netbox_branch", sa.String(length=200), nullable=True),
        sa.Column("plan", sa.JSON(), nullable=True),
        sa.Column("devices", sa.JSON(), nullable=False),
        sa.Column("failed_devices", sa.JSON(), nullable=False),
        sa.Column("previous_sha", sa.String(length=64), nullable=True),
        sa.Column("superseded_by", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("gitops_deployments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gitops_deployments_repository"), ["repository"], unique=False)
        batch_op.create_index(batch_op.f("ix_gitops_deployments_sha"), ["sha"], unique=False)
        batch_op.create_index(batch_op.f("ix_gitops_deployments_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_gitops_deployments_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_gitops_deployments_job_id"), ["job_id"], unique=False)
    op.create_table(
        "gitops_webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("delivery_id", sa.String(length=100), nullable=False),
        sa.Column("repository", sa.String(length=200), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("branch", sa.String(length=200), nullable=True),
        sa.Column("sha", sa.String(length=64), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["deployment_id"], ["gitops_deployments.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider", "delivery_id", name="uq_gitops_delivery"),
    )
    with op.batch_alter_table("gitops_webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gitops_webhook_deliveries_received_at"), ["received_at"], unique=False)


def downgrade():
    with op.batch_alter_table("gitops_webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gitops_webhook_deliveries_received_at"))
    op.drop_table("gitops_webhook_deliveries")
    with op.batch_alter_table("gitops_deployments", schema=None) as batch_op:
        for column in ("job_id", "created_at", "status", "sha", "repository"):
            batch_op.drop_index(batch_op.f(f"ix_gitops_deployments_{column}"))
    op.drop_table("gitops_deployments")
