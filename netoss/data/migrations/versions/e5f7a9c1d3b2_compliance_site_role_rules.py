"""compliance_results and compliance_devices: the device's site and role, and the rules that are
not compliant as text, so the lists filter in the database (issue 17)

Revision ID: e5f7a9c1d3b2
Revises: d4e8f1a2b3c5
Create Date: 2026-12-05 14:45:00

"""

import json

import sqlalchemy as sa
from alembic import op

revision = "e5f7a9c1d3b2"
down_revision = "d4e8f1a2b3c5"
branch_labels = None
depends_on = None

PROBLEMS = ("non-compliant", "error")


def upgrade():
    for table in ("compliance_results", "compliance_devices"):
        op.add_column(table, sa.Column("site", sa.String(length=100), server_default="", nullable=False))
        op.add_column(table, sa.Column("role", sa.String(length=100), server_default="", nullable=False))
    op.add_column("compliance_results", sa.Column("rules", sa.Text(), server_default="", nullable=False))
    op.create_index("ix_compliance_devices_site", "compliance_devices", ["site"])
    op.create_index("ix_compliance_devices_role", "compliance_devices", ["role"])
    op.create_index("ix_compliance_devices_status", "compliance_devices", ["status"])
    # The rules column of the results already recorded, from their details.
    conn = op.get_bind()
    results = sa.table(
        "compliance_results", sa.column("id", sa.Integer), sa.column("details", sa.JSON), sa.column("rules", sa.Text)
    )
    rows = conn.execute(sa.select(results.c.id, results.c.details)).all()
    updates = []
    for row_id, details in rows:
        if isinstance(details, str):
            details = json.loads(details)
        names = [r.get("rule", "") for r in details or [] if r.get("status") in PROBLEMS]
        if names:
            updates.append({"row_id": row_id, "rules": "|" + "|".join(names) + "|"})
    if updates:
        conn.execute(
            results.update().where(results.c.id == sa.bindparam("row_id")).values(rules=sa.bindparam("rules")), updates
        )


def downgrade():
    op.drop_index("ix_compliance_devices_status", table_name="compliance_devices")
    op.drop_index("ix_compliance_devices_role", table_name="compliance_devices")
    op.drop_index("ix_compliance_devices_site", table_name="compliance_devices")
    op.drop_column("compliance_results", "rules")
    for table in ("compliance_devices", "compliance_results"):
        op.drop_column(table, "role")
        op.drop_column(table, "site")
