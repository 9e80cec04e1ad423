"""Streams: append-only message logs with per-stream offsets and consumer-group offsets.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "om_streams",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("bucket", sa.String(63), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_offset", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("max_messages", sa.BigInteger, nullable=True),
        sa.Column("max_age_seconds", sa.Float, nullable=True),
        sa.Column("attributes", JSONType, nullable=False),
        sa.UniqueConstraint("bucket", "name", name="uq_om_streams_name"),
    )
    op.create_table(
        "om_stream_messages",
        sa.Column("stream_id", sa.BigInteger, primary_key=True),
        sa.Column("offset", sa.BigInteger, primary_key=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", JSONType, nullable=True),
    )
    op.create_table(
        "om_stream_groups",
        sa.Column("stream_id", sa.BigInteger, primary_key=True),
        sa.Column("group_name", sa.String(255), primary_key=True),
        sa.Column("committed", sa.BigInteger, nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("om_stream_groups")
    op.drop_table("om_stream_messages")
    op.drop_table("om_streams")
