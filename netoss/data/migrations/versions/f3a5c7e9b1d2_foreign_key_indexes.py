"""Indexes on the foreign keys that had none: alarms.job_id (a job's probable-cause alarms) and
tickets.root_alarm_id, so that deleting jobs or alarms in bulk (retention, a bench's clean-up)
does not scan alarms or tickets once per row deleted to apply ON DELETE SET NULL

Revision ID: f3a5c7e9b1d2
Revises: e1f2a3b4c5d6
Create Date: 2026-12-05 18:00:00

"""

from alembic import op

revision = "f3a5c7e9b1d2"
down_revision = "e1f2a3b4c5d6"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_alarms_job_id", "alarms", ["job_id"]),
    ("ix_tickets_root_alarm_id", "tickets", ["root_alarm_id"]),
)


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
