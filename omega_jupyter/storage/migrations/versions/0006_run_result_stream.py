"""Runs name the stream they publish their lifecycle to (``result_stream=``).

Recorded with the run, so a run that ends without its task (failed by the scheduler's
reconciler, a failed submission, a cancel before it started) can still publish ``finished``
there, and ``om.runtime.run(id)`` shows it. Existing runs get none.

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
    op.add_column("om_runs", sa.Column("result_stream", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("om_runs") as batch:
        batch.drop_column("result_stream")
