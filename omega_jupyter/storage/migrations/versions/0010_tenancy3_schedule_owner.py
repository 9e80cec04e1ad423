"""Schedules record who created or last set them (``om_schedules.created_by``: ``key:<id>``,
``jupyter:<user>`` or ``os:<login>``, ``storage/audit.py``); the runs a schedule starts are
recorded as submitted by that owner, not by the scheduler process. Existing schedules: unknown.

Revision ID: 0010_tenancy3
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_tenancy3"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("om_schedules", sa.Column("created_by", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("om_schedules") as batch:
        batch.drop_column("created_by")
