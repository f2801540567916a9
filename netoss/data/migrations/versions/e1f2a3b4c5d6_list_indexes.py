"""Indexes for the paged lists: alarms by severity and by device in id order, tickets in the
queue's order (updated_at, id), alone and by status

Revision ID: e1f2a3b4c5d6
Revises: e5f7a9c1d3b2
Create Date: 2026-12-05 14:40:00

"""

from alembic import op

revision = "e1f2a3b4c5d6"
down_revision = "e5f7a9c1d3b2"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_alarms_severity_id", "alarms", ["severity", "id"]),
    ("ix_alarms_device_id", "alarms", ["device", "id"]),
    ("ix_tickets_updated_at_id", "tickets", ["updated_at", "id"]),
    ("ix_tickets_status_updated_at_id", "tickets", ["status", "updated_at", "id"]),
)


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
