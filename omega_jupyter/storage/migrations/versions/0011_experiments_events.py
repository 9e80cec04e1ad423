"""Experiment events (``om_experiment_events``): params, metrics, artifacts, system facts and
tracked predictions of experiment runs, one typed row each (``experiments/tables.py``).
Shared by every bucket like ``om_runs``: a ``bucket`` column that row-level security keys on
(``storage/tenancy.py``).

Revision ID: 0011_experiments_events
Revises: 0010_tenancy3
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011_experiments_events"
down_revision = "0010_tenancy3"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "om_experiment_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("bucket", sa.String(63), nullable=False),
        sa.Column("experiment", sa.String(255), nullable=False),
        sa.Column("run", sa.Integer, nullable=True),
        sa.Column("step", sa.Integer, nullable=True),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("key", sa.String(255), nullable=True),
        sa.Column("value", sa.Float(precision=53), nullable=True),
        sa.Column("data", JSONType, nullable=True),
        sa.Column("dt", sa.DateTime(timezone=True), nullable=False),
        sa.Column("node", sa.String(255), nullable=True),
        sa.Column("userid", sa.String(255), nullable=True),
        sa.Column("runtime_run", sa.String(32), nullable=True),
        sa.Column("model", sa.String(255), nullable=True),
        sa.Column("model_version", sa.Integer, nullable=True),
        sa.Column("dataset", sa.String(255), nullable=True),
    )
    op.create_index(
        "ix_om_experiment_events_run", "om_experiment_events", ["bucket", "experiment", "run"]
    )
    op.create_index(
        "ix_om_experiment_events_key",
        "om_experiment_events",
        ["bucket", "experiment", "event", "key"],
    )
    # runs are numbered by their start event: two processes cannot start the same run
    op.create_index(
        "uq_om_experiment_events_start",
        "om_experiment_events",
        ["bucket", "experiment", "run"],
        unique=True,
        postgresql_where=sa.text("event = 'start'"),
        sqlite_where=sa.text("event = 'start'"),
    )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP POLICY IF EXISTS om_bucket_rows ON om_experiment_events")
    op.drop_table("om_experiment_events")
