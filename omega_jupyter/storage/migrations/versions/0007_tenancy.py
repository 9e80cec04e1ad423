"""Tenancy: a bucket registry, per-database settings, and the bucket of every blob chunk.

``om_buckets`` names each bucket and, on PostgreSQL, its role; ``om_settings`` keeps the
database's role prefix (roles are cluster-wide, so each database names its own). Blob chunks
get a ``bucket`` column so row-level security can confine them like every other shared row;
existing chunks take the bucket of the object that points at them. API keys get a role
(``read``, ``write``, ``admin``); existing keys keep what they could do (``write``). Object
versions record who wrote them (``om_objects.created_by``; unknown for existing ones).

Roles, grants and policies are not created here: :func:`omega_jupyter.storage.tenancy.apply`
creates and updates them after every upgrade (they follow the code, not the revision).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "om_buckets",
        sa.Column("bucket", sa.String(63), primary_key=True),
        sa.Column("role", sa.String(63), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "om_settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(255), nullable=False),
    )
    op.add_column("om_blob_chunks", sa.Column("bucket", sa.String(63), nullable=True))
    op.add_column("om_objects", sa.Column("created_by", sa.String(255), nullable=True))
    op.add_column(
        "om_apikeys", sa.Column("role", sa.String(16), nullable=False, server_default="write")
    )
    op.execute(
        "UPDATE om_blob_chunks SET bucket = (SELECT o.bucket FROM om_objects o"
        " WHERE o.location = om_blob_chunks.blob_id LIMIT 1)"
    )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # the policies tenancy.apply made depend on the columns dropped here
        tables = bind.execute(
            sa.text("SELECT tablename FROM pg_policies WHERE policyname = 'om_bucket_rows'")
        ).scalars()
        for table in list(tables):
            op.execute(f'DROP POLICY om_bucket_rows ON "{table}"')
            op.execute(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY')
        # roles outlive the database: drop this database's (named with its prefix); what
        # they own (bucket schemas and their data) passes to the service
        prefix = bind.execute(
            sa.text("SELECT value FROM om_settings WHERE key = 'role_prefix'")
        ).scalar()
        roles = bind.execute(
            sa.text("SELECT rolname FROM pg_roles WHERE starts_with(rolname, :p)"),
            {"p": f"{prefix}_"},
        ).scalars()
        for role in list(roles) if prefix else []:
            op.execute(f'REASSIGN OWNED BY "{role}" TO CURRENT_USER')
            op.execute(f'DROP OWNED BY "{role}"')
            op.execute(f'DROP ROLE "{role}"')
    with op.batch_alter_table("om_apikeys") as batch:
        batch.drop_column("role")
    with op.batch_alter_table("om_objects") as batch:
        batch.drop_column("created_by")
    with op.batch_alter_table("om_blob_chunks") as batch:
        batch.drop_column("bucket")
    op.drop_table("om_settings")
    op.drop_table("om_buckets")
