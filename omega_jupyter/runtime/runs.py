"""Run records: one row per runtime call, written before the work is submitted."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from omega_jupyter.exceptions import ConfigurationError, RunNotFoundError
from omega_jupyter.runtime.tables import FINAL_STATES, RUN_STATES, runs
from omega_jupyter.runtime.worker import DEAD_AFTER_BEATS, HEARTBEAT_SECONDS
from omega_jupyter.storage import audit
from omega_jupyter.storage.engine import Database
from omega_jupyter.storage.metadata import aware, now


@dataclass
class RunRecord:
    """One row of ``om_runs``."""

    id: str
    bucket: str
    kind: str
    target: str
    target_version: int | None
    action: str
    parameters: dict
    state: str
    trigger: str
    submitted: datetime
    started: datetime | None
    finished: datetime | None
    worker: str | None
    attempt: int
    heartbeat: datetime | None
    result: Any
    error: str | None
    traceback: str | None
    progress: Any
    resources: dict | None
    result_stream: str | None = None  # where the run publishes its lifecycle (events.py)
    max_retries: int = 0  # times a run that loses its worker is tried again (reconcile.py)
    retry_of: str | None = None  # the run this one retries (its previous attempt)
    task: Any = None  # what a retry's task is sent (inputs, staged datasets)
    submitted_by: str | None = None  # who submitted it (storage/audit.py)
    group_id: str | None = None  # the run group it is a member of (runtime/groups.py)
    group_index: int | None = None  # which member of its group
    started_here: bool = False  # set by RunStore.start: this caller moved it out of queued

    @property
    def done(self) -> bool:
        return self.state in FINAL_STATES

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data.pop("started_here", None)
        data.pop("task", None)  # internal: what a retry is sent
        for key in ("submitted", "started", "finished", "heartbeat"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data


class RunStore:
    """Create, update and query run rows. State changes are conditional on the current state,
    so a cancelled run is never overwritten by a late worker."""

    def __init__(self, db: Database, bucket: str) -> None:
        self.db = db
        self.bucket = bucket

    def create(
        self,
        kind: str,
        target: str,
        action: str,
        *,
        target_version: int | None = None,
        parameters: dict | None = None,
        trigger: str = "api",
        resources: dict | None = None,
        run_id: str | None = None,
        state: str = "queued",
        error: str | None = None,
        result_stream: str | None = None,
        max_retries: int = 0,
        task: dict | None = None,
    ) -> str:
        """Insert a run row (``state='failed'`` records a call refused before submission);
        ``result_stream`` names the stream its lifecycle is published to (validated by the
        caller, see runtime/events.py); ``max_retries`` how often it is tried again should it
        lose its worker, ``task`` what a retry's task is sent (JSON; see reconcile.py).
        The row records who submitted it: the acting API key or Jupyter user, else the OS user
        (``storage/audit.py``)."""
        run_id = run_id or uuid.uuid4().hex
        stamp = now()
        self.db.ensure_schema()
        with self.db.begin() as conn:
            conn.execute(
                sa.insert(runs).values(
                    id=run_id,
                    bucket=self.bucket,
                    kind=kind,
                    target=target,
                    target_version=target_version,
                    action=action,
                    parameters=parameters or {},
                    state=state,
                    trigger=trigger,
                    submitted=stamp,
                    finished=stamp if state in FINAL_STATES else None,
                    attempt=0,
                    resources=resources or None,
                    error=error,
                    result_stream=result_stream,
                    max_retries=max_retries,
                    task=task,
                    submitted_by=audit.current_actor(),
                )
            )
        return run_id

    def get(self, run_id: str) -> RunRecord:
        """The run ``run_id`` of this bucket; another bucket's run is not found (its id is no
        key to it: REST answers 404)."""
        self.db.ensure_schema()
        with self.db.connect() as conn:
            row = conn.execute(sa.select(runs).where(self._mine(run_id))).first()
        if row is None:
            raise RunNotFoundError(f"run {run_id!r} does not exist")
        return _record(row)

    def retry(self, run_id: str) -> str | None:
        """The id of the run that retries ``run_id`` (its next attempt), if there is one."""
        with self.db.connect() as conn:
            return conn.execute(sa.select(runs.c.id).where(runs.c.retry_of == run_id)).scalar()

    def attempts(self, run_id: str) -> list[RunRecord]:
        """Every attempt of the run ``run_id`` belongs to, first to last (one, unless it was
        retried after losing its worker)."""
        first = self.get(run_id)
        while first.retry_of:
            first = self.get(first.retry_of)
        chain = [first]
        while (following := self.retry(chain[-1].id)) is not None:
            chain.append(self.get(following))
        return chain

    def start(self, run_id: str, worker: str) -> RunRecord:
        """queued → running, for exactly one copy of the run's task; returns the record.

        Only the copy whose conditional update moved the run out of ``queued`` may execute it
        (it gets ``state == "running"`` and ``started_here``); any other copy gets the record
        as it is and stops. Use :meth:`begin` in tasks: it also tells a copy that Dask re-ran
        after a worker died from a duplicate of a live run.
        """
        stamp = now()
        self.db.ensure_schema()
        with self.db.begin() as conn:
            took = conn.execute(
                sa.update(runs)
                .where(self._mine(run_id) & (runs.c.state == "queued"))
                .values(
                    state="running",
                    started=stamp,
                    attempt=runs.c.attempt + 1,
                    worker=worker,
                    heartbeat=stamp,
                )
            ).rowcount
        record = self.get(run_id)
        record.started_here = bool(took)
        return record

    def begin(
        self, run_id: str, worker: str, watch_seconds: float | None = None
    ) -> tuple[str, RunRecord]:
        """What a task's copy should do with its run: ``("run", record)`` — execute it (this
        copy started it); ``("dead", record)`` — another copy started it and its heartbeat
        stopped (its worker died and Dask re-ran the task): fail the run; ``("skip", record)``
        — the run is finished or cancelled, or a live copy runs it (the task was sent twice):
        leave the run alone.

        A live copy beats every ``HEARTBEAT_SECONDS``; a run whose heartbeat does not change
        for ``watch_seconds`` (default three beats) is taken for dead.
        """
        record = self.start(run_id, worker)
        if record.started_here:
            return "run", record
        if record.state != "running":
            return "skip", record
        watch = DEAD_AFTER_BEATS * HEARTBEAT_SECONDS if watch_seconds is None else watch_seconds
        deadline = time.monotonic() + watch
        seen = record.heartbeat
        while time.monotonic() < deadline:
            time.sleep(min(1.0, max(0.05, watch / 10)))
            record = self.get(run_id)
            if record.state != "running" or record.heartbeat != seen:
                return "skip", record
        return "dead", record

    def finish(
        self,
        run_id: str,
        state: str,
        *,
        result: Any = None,
        error: str | None = None,
        traceback: str | None = None,
        only_from: tuple[str, ...] = ("queued", "running"),
    ) -> bool:
        """Move a run to a final state if it is still in one of ``only_from``."""
        if state not in FINAL_STATES:
            raise ValueError(f"{state!r} is not a final state")
        with self.db.begin() as conn:
            done = conn.execute(
                sa.update(runs)
                .where(self._mine(run_id) & runs.c.state.in_(only_from))
                .values(
                    state=state,
                    finished=now(),
                    result=result,
                    error=error,
                    traceback=traceback,
                )
            ).rowcount
        return bool(done)

    def beat(self, run_ids: list[str], progress: dict[str, Any] | None = None) -> None:
        if not run_ids:
            return
        with self.db.begin() as conn:
            conn.execute(
                sa.update(runs)
                .where(
                    runs.c.id.in_(run_ids)
                    & (runs.c.bucket == self.bucket)
                    & (runs.c.state == "running")
                )
                .values(heartbeat=now())
            )

    def set_progress(self, run_id: str, progress: Any) -> None:
        with self.db.begin() as conn:
            conn.execute(sa.update(runs).where(self._mine(run_id)).values(progress=progress))

    def list(
        self,
        state: str | list[str] | None = None,
        target: str | None = None,
        kind: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
        search: str | None = None,
    ) -> pd.DataFrame:
        """Runs of this bucket, newest first (runs submitted at the same time by id), from
        ``offset`` on; :meth:`count` tells how many there are in all. ``search``: only runs
        whose target contains this text (case-insensitive)."""
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ConfigurationError(f"offset must be an integer >= 0, not {offset!r}")
        query = self._filtered(sa.select(runs), state, target, kind, search)
        query = query.order_by(runs.c.submitted.desc(), runs.c.id)
        if limit:
            query = query.limit(int(limit))
        if offset:
            query = query.offset(offset)
        self.db.ensure_schema()
        with self.db.connect() as conn:
            rows = [_record(r).__dict__ for r in conn.execute(query)]
        columns = [c.name for c in runs.columns]
        return pd.DataFrame(rows, columns=columns)

    def count(
        self,
        state: str | list[str] | None = None,
        target: str | None = None,
        kind: str | None = None,
        search: str | None = None,
    ) -> int:
        """How many runs of this bucket pass the filters of :meth:`list`."""
        query = self._filtered(
            sa.select(sa.func.count()).select_from(runs), state, target, kind, search
        )
        self.db.ensure_schema()
        with self.db.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def _mine(self, run_id: str) -> sa.ColumnElement[bool]:
        """Run ``run_id`` if it is this bucket's: every lookup and change by id is per bucket
        (also on SQLite and for the service, which row-level security does not confine)."""
        return (runs.c.id == str(run_id)) & (runs.c.bucket == self.bucket)

    def _filtered(
        self,
        query: sa.Select,
        state: str | list[str] | None,
        target: str | None,
        kind: str | None,
        search: str | None = None,
    ) -> sa.Select:
        query = query.where(runs.c.bucket == self.bucket)
        if state is not None:
            states = [state] if isinstance(state, str) else list(state)
            unknown = set(states) - set(RUN_STATES)
            if unknown:
                raise ConfigurationError(
                    f"unknown run state(s) {sorted(unknown)}; use {', '.join(RUN_STATES)}"
                )
            query = query.where(runs.c.state.in_(states))
        if target is not None:
            query = query.where(runs.c.target == target)
        if kind is not None:
            query = query.where(runs.c.kind == kind)
        if search:  # a substring of the target, any case; % and _ are literals
            query = query.where(
                sa.func.lower(runs.c.target).contains(search.lower(), autoescape=True)
            )
        return query


def _record(row: Any) -> RunRecord:
    data = dict(row._mapping)
    for key in ("submitted", "started", "finished", "heartbeat"):
        if data[key] is not None:
            data[key] = aware(data[key])
    return RunRecord(**data)
