"""session history: raw samples and 5-minute roll-ups

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_samples",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("reachable", sa.Boolean(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("active", sa.Integer(), nullable=True),
        sa.Column("idle_over", sa.Integer(), nullable=True),
        sa.Column("groups", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("session_samples", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_session_samples_at"), ["at"], unique=False)
        batch_op.create_index("ix_session_samples_instance_at", ["instance_id", "at"], unique=False)

    op.create_table(
        "session_rollups",
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("unreachable", sa.Integer(), nullable=False),
        sa.Column("total_sum", sa.BigInteger(), nullable=False),
        sa.Column("active_sum", sa.BigInteger(), nullable=False),
        sa.Column("idle_over_sum", sa.BigInteger(), nullable=False),
        sa.Column("groups_sum", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("node_id", "bucket_start"),
    )
    with op.batch_alter_table("session_rollups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_session_rollups_bucket_start"), ["bucket_start"], unique=False)
        batch_op.create_index("ix_session_rollups_instance_bucket", ["instance_id", "bucket_start"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("session_rollups", schema=None) as batch_op:
        batch_op.drop_index("ix_session_rollups_instance_bucket")
        batch_op.drop_index(batch_op.f("ix_session_rollups_bucket_start"))
    op.drop_table("session_rollups")
    with op.batch_alter_table("session_samples", schema=None) as batch_op:
        batch_op.drop_index("ix_session_samples_instance_at")
        batch_op.drop_index(batch_op.f("ix_session_samples_at"))
    op.drop_table("session_samples")
