"""Tables of runs and log lines (SQLAlchemy Core); migration 0002 creates them (0006 adds
``om_runs.result_stream``, 0008 ``max_retries``, ``retry_of`` and ``task``, 0009
``om_runs.submitted_by``, 0012 run groups: ``om_run_groups``, ``om_runs.group_id`` and
``group_index``)."""

from __future__ import annotations

import sqlalchemy as sa

from omega_jupyter.storage.schema import BigId, JSONType, metadata_obj

RUN_STATES = ("queued", "running", "succeeded", "failed", "cancelled")
FINAL_STATES = ("succeeded", "failed", "cancelled")

runs = sa.Table(
    "om_runs",
    metadata_obj,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("bucket", sa.String(63), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),  # model, job, script
    sa.Column("target", sa.String(255), nullable=False),
    sa.Column("target_version", sa.Integer, nullable=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("parameters", JSONType, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("trigger", sa.String(32), nullable=False),
    sa.Column("submitted", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished", sa.DateTime(timezone=True), nullable=True),
    sa.Column("worker", sa.String(255), nullable=True),
    sa.Column("attempt", sa.Integer, nullable=False, server_default="0"),
    sa.Column("heartbeat", sa.DateTime(timezone=True), nullable=True),
    sa.Column("result", JSONType, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("traceback", sa.Text, nullable=True),
    sa.Column("progress", JSONType, nullable=True),
    sa.Column("resources", JSONType, nullable=True),
    sa.Column("result_stream", sa.String(255), nullable=True),  # runtime/events.py
    # 0008: retries of runs that lose their worker (runtime/reconcile.py)
    sa.Column("max_retries", sa.Integer, nullable=False, server_default="0"),
    sa.Column("retry_of", sa.String(32), nullable=True),  # the previous attempt's run id
    sa.Column("task", JSONType, nullable=True),  # what a retry's task is sent
    sa.Column("submitted_by", sa.String(255), nullable=True),  # storage/audit.py (0009)
    # 0012: the run group a run is a member of, and which member (runtime/groups.py)
    sa.Column("group_id", sa.String(32), nullable=True),
    sa.Column("group_index", sa.Integer, nullable=True),
    sa.Index("ix_om_runs_bucket_submitted", "bucket", "submitted"),
    sa.Index("ix_om_runs_state", "state"),
    sa.Index("ix_om_runs_retry_of", "retry_of"),
    sa.Index("ix_om_runs_group", "group_id", "group_index"),
)

# 0012: one row per run group (runtime/groups.py); its members are ordinary runs.
run_groups = sa.Table(
    "om_run_groups",
    metadata_obj,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("bucket", sa.String(63), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("target", sa.String(255), nullable=False),
    sa.Column("target_version", sa.Integer, nullable=True),
    sa.Column("members", JSONType, nullable=False),  # each member's parameters, by index
    sa.Column("pending", JSONType, nullable=False),  # indices of members not yet sent
    sa.Column("max_parallel", sa.Integer, nullable=False),
    sa.Column("max_retries", sa.Integer, nullable=False, server_default="0"),
    sa.Column("task", JSONType, nullable=True),  # what every member's task is sent
    sa.Column("resources", JSONType, nullable=True),
    sa.Column("trigger", sa.String(32), nullable=False),
    sa.Column("schedule_id", BigId, nullable=True),
    sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("cancelled", sa.DateTime(timezone=True), nullable=True),
    sa.Column("submitted_by", sa.String(255), nullable=True),
    sa.Index("ix_om_run_groups_bucket_created", "bucket", "created"),
)

logs = sa.Table(
    "om_logs",
    metadata_obj,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("bucket", sa.String(63), nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("levelname", sa.String(16), nullable=False),
    sa.Column("logger", sa.String(255), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("run_id", sa.String(32), nullable=True),
    sa.Column("extra", JSONType, nullable=True),
    sa.Index("ix_om_logs_bucket_id", "bucket", "id"),
    sa.Index("ix_om_logs_run", "run_id"),
    sa.Index("ix_om_logs_created", "created"),
)
