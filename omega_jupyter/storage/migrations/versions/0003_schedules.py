"""Schedules, claimed schedule slots, the scheduler change counter; scheduled-run columns.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "om_schedules",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("bucket", sa.String(63), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("cron", sa.String(255), nullable=False),
        sa.Column("text", sa.String(255), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=True),
        sa.Column("parameters", JSONType, nullable=False),
        sa.Column("missed", sa.String(8), nullable=False),
        sa.Column("max_retries", sa.Integer, nullable=False, server_default="0"),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("next_due", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_slot", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("bucket", "kind", "target", name="uq_om_schedules_target"),
    )
    op.create_index("ix_om_schedules_due", "om_schedules", ["enabled", "next_due"])
    op.create_table(
        "om_schedule_slots",
        sa.Column("schedule_id", BigId, primary_key=True),
        sa.Column("slot", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("claimed_by", sa.String(128), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "om_scheduler_state",
        sa.Column("key", sa.String(32), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "om_scheduler_loops",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("started", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat", sa.DateTime(timezone=True), nullable=False),
    )
    op.add_column("om_runs", sa.Column("schedule_id", BigId, nullable=True))
    op.add_column("om_runs", sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_om_runs_schedule", "om_runs", ["schedule_id", "scheduled_for"])


def downgrade() -> None:
    op.drop_index("ix_om_runs_schedule", table_name="om_runs")
    with op.batch_alter_table("om_runs") as batch:
        batch.drop_column("scheduled_for")
        batch.drop_column("schedule_id")
    op.drop_table("om_scheduler_loops")
    op.drop_table("om_scheduler_state")
    op.drop_table("om_schedule_slots")
    op.drop_index("ix_om_schedules_due", table_name="om_schedules")
    op.drop_table("om_schedules")
