"""Runs record their retry policy and their attempts.

``max_retries``: how many times a run that loses its worker is tried again (each retry is a
new run row); ``retry_of``: the run this one is a retry of (its previous attempt);
``task``: what the run's task was sent besides references every run has (the kind's inputs,
the temporary datasets staged for it), so any process can send a retry. Existing runs get
``max_retries`` 0 and no link.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column(
        "om_runs", sa.Column("max_retries", sa.Integer, nullable=False, server_default="0")
    )
    op.add_column("om_runs", sa.Column("retry_of", sa.String(32), nullable=True))
    op.add_column("om_runs", sa.Column("task", JSONType, nullable=True))
    op.create_index("ix_om_runs_retry_of", "om_runs", ["retry_of"])


def downgrade() -> None:
    op.drop_index("ix_om_runs_retry_of", table_name="om_runs")
    with op.batch_alter_table("om_runs") as batch:
        batch.drop_column("task")
        batch.drop_column("retry_of")
        batch.drop_column("max_retries")
