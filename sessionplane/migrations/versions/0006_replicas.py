"""replicas: node leases of the sampler, the heartbeats of the replicas sharing them, rate-limit counters

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "node_leases",
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("node_id"),
    )
    with op.batch_alter_table("node_leases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_node_leases_owner"), ["owner"], unique=False)
    op.create_table(
        "sampler_replicas",
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("owner"),
    )
    with op.batch_alter_table("sampler_replicas", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sampler_replicas_expires_at"), ["expires_at"], unique=False)
    op.create_table(
        "rate_counters",
        sa.Column("subject", sa.String(length=160), nullable=False),
        sa.Column("window", sa.BigInteger(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("subject", "window"),
    )
    with op.batch_alter_table("rate_counters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rate_counters_window"), ["window"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rate_counters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_counters_window"))
    op.drop_table("rate_counters")
    with op.batch_alter_table("sampler_replicas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sampler_replicas_expires_at"))
    op.drop_table("sampler_replicas")
    with op.batch_alter_table("node_leases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_node_leases_owner"))
    op.drop_table("node_leases")
