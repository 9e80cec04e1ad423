"""The table of experiment events (SQLAlchemy Core); migration ``0011_experiments_events``
creates it.

One row per event, append-only. A metric's number is ``value`` (double precision), so metrics
are queryable in SQL (``avg(value) … WHERE event = 'metric' AND key = 'accuracy'``); anything
that is not a number (a parameter ``'rbf'``, an artifact's reference, a prediction's summary)
is ``data`` (JSON). A run of an experiment is a number, 1, 2, … in the order runs started;
``start`` events are unique per (bucket, experiment, run), which is what numbers runs safely
from several processes at once. Events outside a run (tracked predictions) have no run.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from omega_jupyter.storage.schema import BigId, metadata_obj

# JSON whose None is SQL NULL (not the JSON text 'null'): most events have no data
EventData = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)

EVENTS = ("start", "stop", "param", "metric", "artifact", "system", "predict", "drift", "track")

events = sa.Table(
    "om_experiment_events",
    metadata_obj,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("bucket", sa.String(63), nullable=False),
    sa.Column("experiment", sa.String(255), nullable=False),
    sa.Column("run", sa.Integer, nullable=True),
    sa.Column("step", sa.Integer, nullable=True),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("key", sa.String(255), nullable=True),
    sa.Column("value", sa.Float(precision=53), nullable=True),  # numbers only: SQL can add them
    sa.Column("data", EventData, nullable=True),  # what is not a number
    sa.Column("dt", sa.DateTime(timezone=True), nullable=False),
    sa.Column("node", sa.String(255), nullable=True),
    sa.Column("userid", sa.String(255), nullable=True),
    # links: the runtime run that logged the event, the model version, the dataset
    sa.Column("runtime_run", sa.String(32), nullable=True),
    sa.Column("model", sa.String(255), nullable=True),
    sa.Column("model_version", sa.Integer, nullable=True),
    sa.Column("dataset", sa.String(255), nullable=True),
    sa.Index("ix_om_experiment_events_run", "bucket", "experiment", "run"),
    sa.Index("ix_om_experiment_events_key", "bucket", "experiment", "event", "key"),
    sa.Index(
        "uq_om_experiment_events_start",
        "bucket",
        "experiment",
        "run",
        unique=True,
        postgresql_where=sa.text("event = 'start'"),
        sqlite_where=sa.text("event = 'start'"),
    ),
)
