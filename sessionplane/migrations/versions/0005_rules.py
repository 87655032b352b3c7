"""close rules and their runs; audit actor, closed and reconnected

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("closed", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reconnected", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_audit_events_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_project_id"), ["project_id"], unique=False)
    # Records written before actors existed: the CLI wrote "cli:<os user>" as the user name.
    op.execute(
        "UPDATE audit_events SET actor = CASE WHEN user_name LIKE 'cli:%' THEN user_name "
        "ELSE 'user:' || user_name END WHERE actor IS NULL AND user_name IS NOT NULL"
    )

    op.create_table(
        "close_rules",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("match", sa.JSON(), nullable=False),
        sa.Column("exclude", sa.JSON(), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("max_per_run", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=256), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("close_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_close_rules_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_close_rules_instance_id"), ["instance_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_close_rules_next_run_at"), ["next_run_at"], unique=False)

    op.create_table(
        "close_rule_runs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("closed", sa.Integer(), nullable=False),
        sa.Column("reconnected", sa.Integer(), nullable=True),
        sa.Column("nodes", sa.JSON(), nullable=False),
        sa.Column("audit_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["rule_id"], ["close_rules.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("close_rule_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_close_rule_runs_rule_id"), ["rule_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_close_rule_runs_started_at"), ["started_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("close_rule_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_close_rule_runs_started_at"))
        batch_op.drop_index(batch_op.f("ix_close_rule_runs_rule_id"))
    op.drop_table("close_rule_runs")
    with op.batch_alter_table("close_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_close_rules_next_run_at"))
        batch_op.drop_index(batch_op.f("ix_close_rules_instance_id"))
        batch_op.drop_index(batch_op.f("ix_close_rules_project_id"))
    op.drop_table("close_rules")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_project_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_actor"))
        batch_op.drop_column("reconnected")
        batch_op.drop_column("closed")
        batch_op.drop_column("actor")
