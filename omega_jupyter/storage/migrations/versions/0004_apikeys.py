"""API keys of the standalone REST server (hashed secrets bound to buckets).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "om_apikeys",
        sa.Column("key_id", sa.String(24), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("hash", sa.String(255), nullable=False),
        sa.Column("buckets", sa.JSON, nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_om_apikeys_name", "om_apikeys", ["name"])


def downgrade() -> None:
    op.drop_index("ix_om_apikeys_name", table_name="om_apikeys")
    op.drop_table("om_apikeys")
