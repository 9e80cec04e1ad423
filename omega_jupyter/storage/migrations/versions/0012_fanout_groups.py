"""Run groups: one row per ``om.runtime.job(name).map(...)`` that owns ordinary runs.

``om_run_groups`` keeps what the group runs (kind, target, version), each member's parameters,
the indices of members not yet sent (``pending``), how many members may be queued or running
at once (``max_parallel``) and what every member's task is sent. Runs get ``group_id`` and
``group_index`` (which member of its group a run is; retries and restarts keep both).
Existing runs belong to no group. A schedule may start a group per slot: ``om_schedules`` gets
``map_members`` and ``max_parallel``, a slot row the ``group_id`` it started. Row-level security
and grants are ``storage/tenancy.py``'s.

Revision ID: 0012_fanout_groups
Revises: 0011_experiments_events
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012_fanout_groups"
down_revision = "0011_experiments_events"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "om_run_groups",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("bucket", sa.String(63), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("target_version", sa.Integer, nullable=True),
        sa.Column("members", JSONType, nullable=False),
        sa.Column("pending", JSONType, nullable=False),
        sa.Column("max_parallel", sa.Integer, nullable=False),
        sa.Column("max_retries", sa.Integer, nullable=False, server_default="0"),
        sa.Column("task", JSONType, nullable=True),
        sa.Column("resources", JSONType, nullable=True),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("schedule_id", BigId, nullable=True),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_by", sa.String(255), nullable=True),
    )
    op.create_index("ix_om_run_groups_bucket_created", "om_run_groups", ["bucket", "created"])
    op.add_column("om_runs", sa.Column("group_id", sa.String(32), nullable=True))
    op.add_column("om_runs", sa.Column("group_index", sa.Integer, nullable=True))
    op.create_index("ix_om_runs_group", "om_runs", ["group_id", "group_index"])
    op.add_column("om_schedules", sa.Column("map_members", JSONType, nullable=True))
    op.add_column("om_schedules", sa.Column("max_parallel", sa.Integer, nullable=True))
    op.add_column("om_schedule_slots", sa.Column("group_id", sa.String(32), nullable=True))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP POLICY IF EXISTS om_bucket_rows ON om_run_groups")
    with op.batch_alter_table("om_schedule_slots") as batch:
        batch.drop_column("group_id")
    with op.batch_alter_table("om_schedules") as batch:
        batch.drop_column("max_parallel")
        batch.drop_column("map_members")
    op.drop_index("ix_om_runs_group", table_name="om_runs")
    with op.batch_alter_table("om_runs") as batch:
        batch.drop_column("group_index")
        batch.drop_column("group_id")
    op.drop_index("ix_om_run_groups_bucket_created", table_name="om_run_groups")
    op.drop_table("om_run_groups")
