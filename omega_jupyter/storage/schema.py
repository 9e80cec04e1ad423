"""The project's own tables (SQLAlchemy Core). Alembic migrations create and upgrade them."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

metadata_obj = sa.MetaData()

# JSONB on PostgreSQL, JSON (text) on SQLite.
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER only

objects = sa.Table(
    "om_objects",
    metadata_obj,
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
    sa.Column("created_by", sa.String(255), nullable=True),  # 0007: who wrote this version
    sa.UniqueConstraint("bucket", "store", "name", "version", name="uq_om_objects_version"),
    sa.Index("ix_om_objects_lookup", "bucket", "store", "name"),
)

blob_chunks = sa.Table(
    "om_blob_chunks",
    metadata_obj,
    sa.Column("blob_id", sa.String(36), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("bucket", sa.String(63), nullable=True),  # 0007: row-level security keys on it
)

# 0007: the buckets of this database and, on PostgreSQL, the role of each (storage/tenancy.py).
buckets = sa.Table(
    "om_buckets",
    metadata_obj,
    sa.Column("bucket", sa.String(63), primary_key=True),
    sa.Column("role", sa.String(63), nullable=True),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
)

# 0007: per-database settings (the role prefix); readable by the service only.
settings = sa.Table(
    "om_settings",
    metadata_obj,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(255), nullable=False),
)
