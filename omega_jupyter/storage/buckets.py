"""The buckets of a database: create (register), list, drop (``om bucket …``).

A bucket exists as soon as something is stored in it; registering one ahead of use creates its
PostgreSQL role and schema (storage/tenancy.py). Dropping a bucket removes everything it holds,
in one transaction, then its role.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from omega_jupyter.exceptions import BucketNotEmptyError, ObjectNotFoundError
from omega_jupyter.names import validate_bucket
from omega_jupyter.storage import tenancy
from omega_jupyter.storage.engine import Database

# Shared tables with a bucket column, children first (their rows go with their parents').
_ROWS = (
    ("om_stream_messages", "stream_id IN (SELECT id FROM om_streams WHERE bucket = :b)"),
    ("om_stream_groups", "stream_id IN (SELECT id FROM om_streams WHERE bucket = :b)"),
    ("om_schedule_slots", "schedule_id IN (SELECT id FROM om_schedules WHERE bucket = :b)"),
    ("om_streams", "bucket = :b"),
    ("om_schedules", "bucket = :b"),
    ("om_logs", "bucket = :b"),
    ("om_experiment_events", "bucket = :b"),
    ("om_runs", "bucket = :b"),
    ("om_blob_chunks", "bucket = :b"),
    ("om_objects", "bucket = :b"),
)


def create(db: Database, bucket: str) -> None:
    """Register ``bucket``; on PostgreSQL create its role and schema. Idempotent."""
    validate_bucket(bucket)
    if db.is_postgres:
        tenancy.ensure_bucket(db, bucket)
        return
    db.ensure_schema()
    with db.begin() as conn:
        if not conn.execute(
            sa.text("SELECT 1 FROM om_buckets WHERE bucket = :b"), {"b": bucket}
        ).first():
            conn.execute(
                sa.text("INSERT INTO om_buckets (bucket, role, created) VALUES (:b, NULL, :t)"),
                {"b": bucket, "t": datetime.now(UTC)},
            )


def list_buckets(db: Database) -> list[dict]:
    """Registered buckets and buckets in use, with their role and number of objects."""
    db.ensure_schema()
    with db.connect() as conn:
        registered = {
            r.bucket: dict(r._mapping)
            for r in conn.execute(sa.text("SELECT bucket, role, created FROM om_buckets"))
        }
        counts = dict(
            conn.execute(sa.text("SELECT bucket, count(*) FROM om_objects GROUP BY bucket")).all()
        )
    names = sorted(set(registered) | set(counts))
    return [
        {
            "bucket": name,
            "role": (registered.get(name) or {}).get("role"),
            "created": (registered.get(name) or {}).get("created"),
            "objects": int(counts.get(name, 0)),
        }
        for name in names
    ]


def drop(db: Database, bucket: str, force: bool = False) -> int:
    """Drop ``bucket``: its objects, runs, logs, schedules, streams, data tables and role.
    Refuses a bucket that holds objects unless ``force``. Returns the objects dropped."""
    validate_bucket(bucket)
    db.ensure_schema()
    with db.begin() as conn:
        objects = int(
            conn.execute(
                sa.text("SELECT count(*) FROM om_objects WHERE bucket = :b"), {"b": bucket}
            ).scalar()
            or 0
        )
        known = conn.execute(
            sa.text("SELECT 1 FROM om_buckets WHERE bucket = :b"), {"b": bucket}
        ).first()
        if not objects and not known:
            raise ObjectNotFoundError(f"bucket {bucket!r} does not exist")
        if objects and not force:
            raise BucketNotEmptyError(
                f"bucket {bucket!r} holds {objects} object(s): drop them first, or use --force"
            )
        if not db.is_postgres:  # SQLite keeps every bucket's data tables side by side
            tables = set(
                conn.execute(
                    sa.text("SELECT name FROM sqlite_master WHERE type = 'table'")
                ).scalars()
            )
            locations = conn.execute(
                sa.text("SELECT DISTINCT location FROM om_objects WHERE bucket = :b"),
                {"b": bucket},
            ).scalars()
            for location in [loc for loc in locations if loc in tables]:
                conn.execute(sa.text(f'DROP TABLE "{location}"'))
        for table, rows in _ROWS:
            conn.execute(sa.text(f"DELETE FROM {table} WHERE {rows}"), {"b": bucket})
        schema = db.data_schema(bucket)
        if schema is not None:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        tenancy.drop_bucket_role(conn, bucket)
    db.__dict__.get("_bucket_roles", {}).pop(bucket, None)
    return objects
