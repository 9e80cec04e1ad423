"""Tables of schedules and claimed slots (SQLAlchemy Core); migration 0003 creates them.

Runs live in the runtime's ``om_runs``; 0003 adds the columns a scheduled run needs
(``schedule_id``, ``scheduled_for``).
"""

from __future__ import annotations

import sqlalchemy as sa

from omega_jupyter.runtime.tables import runs as _runtime_runs
from omega_jupyter.storage.schema import BigId, JSONType, metadata_obj

MISSED_POLICIES = ("once", "skip", "all")

schedules = sa.Table(
    "om_schedules",
    metadata_obj,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("bucket", sa.String(63), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # job | script
    sa.Column("target", sa.String(255), nullable=False),
    sa.Column("cron", sa.String(255), nullable=False),
    sa.Column("text", sa.String(255), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=True),
    sa.Column("parameters", JSONType, nullable=False),
    sa.Column("missed", sa.String(8), nullable=False),
    sa.Column("max_retries", sa.Integer, nullable=False, server_default="0"),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("next_due", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_slot", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("modified", sa.DateTime(timezone=True), nullable=False),
    # who created or last set it (storage/audit.py); its runs are submitted by them (0010)
    sa.Column("created_by", sa.String(255), nullable=True),
    # 0012: a schedule that starts a run group per slot (runtime/groups.py)
    sa.Column("map_members", JSONType, nullable=True),
    sa.Column("max_parallel", sa.Integer, nullable=True),
    sa.UniqueConstraint("bucket", "kind", "target", name="uq_om_schedules_target"),
    sa.Index("ix_om_schedules_due", "enabled", "next_due"),
)

# One row per slot of a schedule that was acted on: the unique key is what makes a slot run
# at most once, whichever scheduler loop gets there first.
schedule_slots = sa.Table(
    "om_schedule_slots",
    metadata_obj,
    sa.Column("schedule_id", BigId, primary_key=True),
    sa.Column("slot", sa.DateTime(timezone=True), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),  # submitted | skipped
    sa.Column("run_id", sa.String(32), nullable=True),
    sa.Column("claimed_by", sa.String(128), nullable=False),
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("group_id", sa.String(32), nullable=True),  # 0012: the run group a slot started
)

# A cheap change counter: loops poll it (~1 s) to wake early when schedules change.
scheduler_state = sa.Table(
    "om_scheduler_state",
    metadata_obj,
    sa.Column("key", sa.String(32), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

# Loops announce themselves so `om jobs schedules`/status can show who is running.
scheduler_loops = sa.Table(
    "om_scheduler_loops",
    metadata_obj,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("started", sa.DateTime(timezone=True), nullable=False),
    sa.Column("heartbeat", sa.DateTime(timezone=True), nullable=False),
)

# ``om_runs`` as this package sees it: the runtime's columns plus the two 0003 adds. A separate
# lightweight table clause, so the runtime's own ``select(runs)`` keeps its column set.
runs = sa.table(
    "om_runs",
    *(sa.column(c.name, c.type) for c in _runtime_runs.columns),
    sa.column("schedule_id", BigId),
    sa.column("scheduled_for", sa.DateTime(timezone=True)),
)
