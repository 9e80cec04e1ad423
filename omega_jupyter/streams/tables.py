"""Tables of streams (SQLAlchemy Core); migration 0005 creates them.

``om_streams.last_offset`` is the per-stream counter: an append raises it in the same
transaction that inserts the messages, so the row lock orders concurrent appenders.
"""

from __future__ import annotations

import sqlalchemy as sa

from omega_jupyter.storage.schema import BigId, JSONType, metadata_obj

streams = sa.Table(
    "om_streams",
    metadata_obj,
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

messages = sa.Table(
    "om_stream_messages",
    metadata_obj,
    sa.Column("stream_id", sa.BigInteger, primary_key=True),
    sa.Column("offset", sa.BigInteger, primary_key=True),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("data", JSONType, nullable=True),
)

groups = sa.Table(
    "om_stream_groups",
    metadata_obj,
    sa.Column("stream_id", sa.BigInteger, primary_key=True),
    sa.Column("group_name", sa.String(255), primary_key=True),
    sa.Column("committed", sa.BigInteger, nullable=False),
    sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
)
