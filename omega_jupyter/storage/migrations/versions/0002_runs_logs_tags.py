"""Runs of the runtime and log lines.

Model versions and their tags live in ``om_objects`` (tags in ``attributes``), so models need
no table of their own.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "om_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("bucket", sa.String(63), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("target_version", sa.Integer, nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("parameters", JSONType, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("submitted", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished", sa.DateTime(timezone=True), nullable=True),
        sa.Column("worker", sa.String(255), nullable=True),
        sa.Column("attempt", sa.Integer, nullable=False, server_default="0"),
        sa.Column("heartbeat", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", JSONType, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("traceback", sa.Text, nullable=True),
        sa.Column("progress", JSONType, nullable=True),
        sa.Column("resources", JSONType, nullable=True),
    )
    op.create_index("ix_om_runs_bucket_submitted", "om_runs", ["bucket", "submitted"])
    op.create_index("ix_om_runs_state", "om_runs", ["state"])
    op.create_table(
        "om_logs",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("bucket", sa.String(63), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("levelname", sa.String(16), nullable=False),
        sa.Column("logger", sa.String(255), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("extra", JSONType, nullable=True),
    )
    op.create_index("ix_om_logs_bucket_id", "om_logs", ["bucket", "id"])
    op.create_index("ix_om_logs_run", "om_logs", ["run_id"])
    op.create_index("ix_om_logs_created", "om_logs", ["created"])


def downgrade() -> None:
    op.drop_table("om_logs")
    op.drop_table("om_runs")
