"""fleet discovery: cluster node IDs on nodes, and where each discovered instance is looked at again

Revision ID: discovery
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "discovery"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cluster_node_id", sa.String(length=64), nullable=True))

    op.create_table(
        "discovery_sources",
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("seed", sa.String(length=1024), nullable=False),
        sa.Column("username", sa.String(length=128), nullable=True),
        sa.Column("password_encrypted", sa.Text(), nullable=True),
        sa.Column("sentinel_password_encrypted", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=512), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["instances.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("instance_id"),
    )


def downgrade() -> None:
    op.drop_table("discovery_sources")
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.drop_column("cluster_node_id")
