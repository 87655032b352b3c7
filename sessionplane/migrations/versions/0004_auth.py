"""authentication: lockouts in the store, the store revision that in-process caches follow

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    revisions = op.create_table(
        "revisions",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.bulk_insert(revisions, [{"name": "store", "value": 0}])
    op.create_table(
        "auth_lockouts",
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject"),
    )
    with op.batch_alter_table("auth_lockouts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auth_lockouts_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("auth_lockouts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_lockouts_expires_at"))
    op.drop_table("auth_lockouts")
    op.drop_table("revisions")
