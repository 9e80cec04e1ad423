"""Runs record who submitted them (``om_runs.submitted_by``), as object versions record who
wrote them: ``key:<id>`` for requests to ``om serve``, ``jupyter:<user>`` inside Jupyter,
otherwise ``os:<login>`` (``storage/audit.py``). Existing runs: unknown.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("om_runs", sa.Column("submitted_by", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("om_runs") as batch:
        batch.drop_column("submitted_by")
