"""Object metadata (one row per version) and chunked blobs.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "om_objects",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("bucket", sa.String(63), nullable=False),
        sa.Column("store", sa.String(32), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("location", sa.String(255), nullable=True),
        sa.Column("kind_meta", JSONType, nullable=False),
        sa.Column("attributes", JSONType, nullable=False),
        sa.UniqueConstraint("bucket", "store", "name", "version", name="uq_om_objects_version"),
    )
    op.create_index("ix_om_objects_lookup", "om_objects", ["bucket", "store", "name"])
    op.create_table(
        "om_blob_chunks",
        sa.Column("blob_id", sa.String(36), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Chunks are already-compressed or incompressible more often than not; PostgreSQL's
        # default pglz compression dominated blob write time, so store them uncompressed.
        op.execute("ALTER TABLE om_blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_table("om_blob_chunks")
    op.drop_index("ix_om_objects_lookup", table_name="om_objects")
    op.drop_table("om_objects")
