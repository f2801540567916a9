"""users.session_epoch: a password change or disabling a user ends their browser sessions

Revision ID: b7e2c4d9a1f3
Revises: 1ee06a3b98b5
Create Date: 2026-12-02 17:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b7e2c4d9a1f3"
down_revision = "1ee06a3b98b5"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("session_epoch", sa.Integer(), server_default="0", nullable=False))


def downgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("session_epoch")
