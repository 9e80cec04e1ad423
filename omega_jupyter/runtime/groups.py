"""Run groups: one target run for each of many parameter sets, followed and restarted as one.

A group is one row (``om_run_groups``) that owns ordinary runs: every member is a run row of
the group's kind and target with its own parameters, executed notebook, error and retries,
through the one lifecycle (``lifecycle.run_task``). The run rows are the truth of the members;
the group row says what to run and which members are still to be sent.

How ``max_parallel`` is kept, also when the process that made the group is gone:

- a member's run row is created only when it is sent. A **claim** locks the group row
  (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite serializes writers), counts the group's
  members queued or running, takes at most ``max_parallel`` minus that many indices off
  ``pending`` and inserts their run rows in the same transaction; the caller sends them after
  the commit. Two claimers never send a member twice, nor more than ``max_parallel`` at once;
- whoever may send claims: the submitter (the first wave), **every member's task when it ends**
  (on the worker, with the worker's Dask client, so the group goes on without its
  submitter), and anyone who watches (``RunGroup.wait``/``status``);
- a member that loses its worker is failed and retried per ``max_retries`` like every run
  (``reconcile.py``; the retry keeps ``group_id`` and ``group_index``; it is sent on its own,
  so a group may briefly have one more member running than ``max_parallel``);
- a claimer that dies between its commit and sending leaves queued rows that the reconciler
  fails after ``queued_after``; ``restart()`` runs them again.

Members sent by a member's task use the credential that task was sent with (valid for at least
``max_run_seconds`` after it was made); a group that outlives it with nobody watching fails its
later members at login, and ``restart()`` from a service client runs them with a new one.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

from omega_jupyter.exceptions import GroupNotFoundError, InvalidParameterError, RunTimeoutError
from omega_jupyter.runtime.events import publish_ended
from omega_jupyter.runtime.handle import RunHandle
from omega_jupyter.runtime.reconcile import LOST, RETRIED, RunReconciler, send
from omega_jupyter.runtime.runs import RunRecord, _record
from omega_jupyter.runtime.tables import FINAL_STATES, run_groups, runs
from omega_jupyter.storage import audit
from omega_jupyter.storage.engine import Database
from omega_jupyter.storage.metadata import aware, now

if TYPE_CHECKING:
    from omega_jupyter.runtime.service import Runtime

MAX_MEMBERS = 10_000
ACTIVE = ("queued", "running")
WATCH_SECONDS = 5.0  # how often a waiting group reconciles its members that may be lost


def check_members(parameter_sets: Any, param: str | None = None) -> list[dict]:
    """The members' parameters: an iterable of dicts, or of values bound to ``param``."""
    if isinstance(parameter_sets, str | bytes | dict) or not isinstance(parameter_sets, Iterable):
        raise InvalidParameterError(
            "map takes a list of parameter dicts, or values with param='name'"
        )
    if param is not None and (not isinstance(param, str) or not param.isidentifier()):
        raise InvalidParameterError(f"param must name a parameter, not {param!r}")
    members = []
    for item in parameter_sets:
        if param is not None:
            item = {param: item}
        if not isinstance(item, dict) or not all(isinstance(k, str) for k in item):
            raise InvalidParameterError(
                f"each member's parameters must be a dict with str keys, not {item!r} "
                "(to map plain values, name the parameter: param='name')"
            )
        members.append(item)
        if len(members) > MAX_MEMBERS:
            raise InvalidParameterError(f"a run group has at most {MAX_MEMBERS} members")
    if not members:
        raise InvalidParameterError("map needs at least one member")
    try:
        return json.loads(json.dumps(members))
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"members' parameters must be JSON values: {exc}") from None


def check_parallel(max_parallel: Any) -> int:
    if (
        isinstance(max_parallel, bool)
        or not isinstance(max_parallel, int)
        or not 1 <= max_parallel <= MAX_MEMBERS
    ):
        raise InvalidParameterError(
            f"max_parallel must be an integer from 1 to {MAX_MEMBERS}, not {max_parallel!r}"
        )
    return max_parallel


@dataclass
class Member:
    """A member claimed for sending: its run row exists, queued."""

    run_id: str
    index: int
    parameters: dict
    task: dict = field(default_factory=dict)
    resources: dict | None = None


def group_values(
    group_id: str,
    bucket: str,
    kind: str,
    target: str,
    members: list[dict],
    *,
    max_parallel: int,
    target_version: int | None = None,
    max_retries: int = 0,
    task: dict | None = None,
    resources: dict | None = None,
    trigger: str = "manual",
    schedule_id: int | None = None,
    scheduled_for: datetime | None = None,
) -> dict[str, Any]:
    """The row of a new group, every member pending."""
    return {
        "id": group_id,
        "bucket": bucket,
        "kind": kind,
        "target": target,
        "target_version": target_version,
        "members": members,
        "pending": list(range(len(members))),
        "max_parallel": max_parallel,
        "max_retries": max_retries,
        "task": task,
        "resources": resources or None,
        "trigger": trigger,
        "schedule_id": schedule_id,
        "scheduled_for": scheduled_for,
        "created": now(),
        "submitted_by": audit.current_actor(),
    }


def stalled_groups(
    conn: Any, quiet_since: datetime, buckets: list[str] | None = None
) -> list[tuple[str, str]]:
    """(bucket, id) of groups with members still to send, none queued or running, and no
    member started or ended since ``quiet_since``: the chain of members sending the next ones
    broke (a claimer died before sending, a worker could not send). Sending them again is safe
    (claims keep ``max_parallel``)."""
    member = runs.alias("member")
    busy = sa.exists().where(
        (member.c.group_id == run_groups.c.id)
        & (
            member.c.state.in_(ACTIVE)
            | (member.c.finished >= quiet_since)
            | (member.c.submitted >= quiet_since)
        )
    )
    query = sa.select(run_groups.c.bucket, run_groups.c.id, run_groups.c.pending).where(
        run_groups.c.cancelled.is_(None) & (run_groups.c.created < quiet_since) & ~busy
    )
    if buckets is not None:
        query = query.where(run_groups.c.bucket.in_(buckets))
    return [(b, i) for b, i, pending in conn.execute(query) if pending]


class GroupStore:
    """The group rows of a bucket and the claims of their members (see the module docstring)."""

    def __init__(self, db: Database, bucket: str) -> None:
        self.db = db
        self.bucket = bucket

    def _mine(self, group_id: str) -> sa.ColumnElement[bool]:
        return (run_groups.c.id == str(group_id)) & (run_groups.c.bucket == self.bucket)

    def create(
        self,
        kind: str,
        target: str,
        members: list[dict],
        *,
        max_parallel: int,
        conn: Any = None,
        **options: Any,
    ) -> str:
        """Record a group (its members all pending); returns its id. ``conn``: insert in that
        transaction (a scheduler's claim of a slot). ``options``: ``target_version``,
        ``max_retries``, ``task``, ``resources``, ``trigger``, ``schedule_id``,
        ``scheduled_for``."""
        group_id = uuid.uuid4().hex
        values = group_values(
            group_id, self.bucket, kind, target, members, max_parallel=max_parallel, **options
        )
        if conn is not None:
            conn.execute(sa.insert(run_groups).values(**values))
            return group_id
        self.db.ensure_schema()
        with self.db.begin() as own:
            own.execute(sa.insert(run_groups).values(**values))
        return group_id

    def get(self, group_id: str) -> Any:
        self.db.ensure_schema()
        with self.db.connect() as conn:
            row = conn.execute(sa.select(run_groups).where(self._mine(group_id))).first()
        if row is None:
            raise GroupNotFoundError(f"run group {group_id!r} does not exist")
        return row

    def _locked(self, conn: Any, group_id: str) -> Any:
        query = sa.select(run_groups).where(self._mine(group_id))
        if self.db.is_postgres:
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise GroupNotFoundError(f"run group {group_id!r} does not exist")
        return row

    @staticmethod
    def _latest_query(group_id: str) -> sa.Select:
        """The latest attempt of each member that has a run (retries and restarts name the
        run they follow in ``retry_of``)."""
        later = runs.alias("later")
        followed = sa.exists().where(later.c.retry_of == runs.c.id)
        return (
            sa.select(runs)
            .where((runs.c.group_id == group_id) & ~followed)
            .order_by(runs.c.group_index, runs.c.submitted)
        )

    def latest(self, group_id: str) -> list[RunRecord]:
        with self.db.connect() as conn:
            return [_record(r) for r in conn.execute(self._latest_query(group_id))]

    def claim(self, group_id: str) -> list[Member]:
        """Take members off ``pending`` while fewer than ``max_parallel`` are queued or
        running; their run rows are created (queued) in the same transaction."""
        self.db.ensure_schema()
        with self.db.begin() as conn:
            group = self._locked(conn, group_id)
            pending = list(group.pending or [])
            if group.cancelled is not None or not pending:
                return []
            latest = self._latest_query(group_id).subquery()
            active = conn.execute(
                sa.select(sa.func.count()).select_from(latest).where(latest.c.state.in_(ACTIVE))
            ).scalar()
            free = int(group.max_parallel) - int(active or 0)
            if free <= 0:
                return []
            taken, rest = pending[:free], pending[free:]
            previous = self._previous(conn, group_id, taken)
            claimed, stamp = [], now()
            for index in taken:
                run_id = uuid.uuid4().hex
                parameters = dict(group.members[index])
                task = {
                    **(group.task or {}),
                    "group": group_id,  # the member's task sends the next ones as it ends
                    "parameters": parameters,
                    "temporary": [],
                }
                conn.execute(
                    sa.insert(runs).values(
                        id=run_id,
                        bucket=self.bucket,
                        kind=group.kind,
                        target=group.target,
                        target_version=group.target_version,
                        action="run",
                        parameters=parameters,
                        state="queued",
                        trigger=group.trigger,
                        submitted=stamp,
                        attempt=0,
                        resources=group.resources,
                        result_stream=(group.task or {}).get("result_stream"),
                        max_retries=group.max_retries,
                        task=task,
                        submitted_by=group.submitted_by,
                        retry_of=previous.get(index),  # a restarted member follows its last run
                        group_id=group_id,
                        group_index=index,
                    )
                )
                claimed.append(Member(run_id, index, parameters, task, group.resources))
            conn.execute(sa.update(run_groups).where(self._mine(group_id)).values(pending=rest))
        return claimed

    def _previous(self, conn: Any, group_id: str, indices: list[int]) -> dict[int, str]:
        """The latest run of each of ``indices`` that already ran (restarted members)."""
        latest = self._latest_query(group_id).subquery()
        rows = conn.execute(
            sa.select(latest.c.group_index, latest.c.id).where(latest.c.group_index.in_(indices))
        )
        return {int(i): run_id for i, run_id in rows}

    def cancel(self, group_id: str) -> bool:
        """Send no more members; False if the group was cancelled already."""
        with self.db.begin() as conn:
            group = self._locked(conn, group_id)
            if group.cancelled is not None:
                return False
            conn.execute(sa.update(run_groups).where(self._mine(group_id)).values(cancelled=now()))
        return True

    def requeue(self, group_id: str, failed_only: bool = True) -> list[int]:
        """Put members back on ``pending``: those without a result (failed, cancelled or never
        sent), or with ``failed_only=False`` every member not queued or running; returns the
        pending indices. A member that lost its worker and is being retried by the reconciler
        is left to it."""
        with self.db.begin() as conn:
            group = self._locked(conn, group_id)
            rows = conn.execute(self._latest_query(group_id))
            latest = {r.group_index: r for r in map(_record, rows)}
            pending = set(group.pending or [])
            again = []
            for index in range(len(group.members)):
                run = latest.get(index)
                if index in pending or (run is not None and run.state in ACTIVE):
                    continue
                if failed_only and run is not None and run.state == "succeeded":
                    continue
                if run is not None and not self._take_over(conn, run):
                    continue
                again.append(index)
            pending = sorted(pending | set(again))
            conn.execute(
                sa.update(run_groups)
                .where(self._mine(group_id))
                .values(pending=pending, cancelled=None)
            )
        return pending

    @staticmethod
    def _take_over(conn: Any, run: RunRecord) -> bool:
        """Mark a lost run as retried, so that the reconciler does not retry it as well; False
        if the reconciler got there first (its retry is the member's run)."""
        error = run.error or ""
        if run.state != "failed" or not error.startswith(LOST) or error.endswith(RETRIED):
            return True
        lost = (runs.c.error.like(f"{LOST}%")) & ~runs.c.error.like(f"%{RETRIED}")
        return bool(
            conn.execute(
                sa.update(runs)
                .where((runs.c.id == run.id) & lost)
                .values(error=runs.c.error + RETRIED)
            ).rowcount
        )

    def list(self, limit: int = 100) -> pd.DataFrame:
        """The bucket's groups, newest first: id, target, members, created, cancelled."""
        query = (
            sa.select(run_groups)
            .where(run_groups.c.bucket == self.bucket)
            .order_by(run_groups.c.created.desc())
            .limit(limit)
        )
        self.db.ensure_schema()
        with self.db.connect() as conn:
            rows = conn.execute(query).fetchall()
        return pd.DataFrame(
            {
                "id": [r.id for r in rows],
                "kind": [r.kind for r in rows],
                "target": [r.target for r in rows],
                "members": [len(r.members) for r in rows],
                "max_parallel": [r.max_parallel for r in rows],
                "created": [aware(r.created) for r in rows],
                "cancelled": [aware(r.cancelled) if r.cancelled else None for r in rows],
            }
        )


@dataclass
class GroupStatus:
    """A group at one moment: ``counts`` by state (``pending``: not sent yet) and ``members``,
    one row per member (index, its parameters, the run id and state of its latest run, error)."""

    counts: dict[str, int]
    members: pd.DataFrame
    cancelled: bool = False

    @property
    def total(self) -> int:
        return len(self.members)

    @property
    def finished(self) -> int:
        return sum(self.counts.get(s, 0) for s in FINAL_STATES)

    @property
    def done(self) -> bool:
        """Every member ended (or, once cancelled, nothing is left queued or running)."""
        active = sum(self.counts.get(s, 0) for s in ACTIVE)
        if self.cancelled:
            return active == 0
        return active == 0 and self.counts.get("pending", 0) == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": dict(self.counts),
            "total": self.total,
            "done": self.done,
            "cancelled": self.cancelled,
        }

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in self.counts.items() if v)
        return f"GroupStatus({self.finished}/{self.total} ended: {counts})"


STATUS_ORDER = ("pending", "queued", "running", "succeeded", "failed", "cancelled")


class RunGroup:
    """``om.runtime.job(name).map(...)``: ``.id``, ``.members``, ``.status()``, ``.wait()``,
    ``.results()``, ``.cancel()``, ``.restart()``; ``om.runtime.group(id)`` rebuilds it in any
    process."""

    def __init__(self, runtime: Runtime, group_id: str) -> None:
        self.runtime = runtime
        self.id = group_id
        self.store = GroupStore(runtime.om.db, runtime.om.bucket)
        row = self.store.get(group_id)
        self.kind, self.target, self.size = row.kind, row.target, len(row.members)
        self.parameters: list[dict] = list(row.members)

    # -- sending ---------------------------------------------------------------------------------
    def advance(self) -> list[RunHandle]:
        """Send the members that may run now (fewer than ``max_parallel`` are queued or
        running); returns their handles. Anyone may call it, any number of times."""
        handles = []
        for member in self.store.claim(self.id):
            item = _Item(member.run_id, self.runtime.om.bucket, self.kind, self.target, member)
            try:
                handles.append(send(self.runtime.om, item, self.runtime))
            except Exception:
                continue  # the member's row says why (its submission failed)
        return handles

    # -- state -----------------------------------------------------------------------------------
    @property
    def members(self) -> list[RunHandle]:
        """Handles of the members' latest runs, in member order (members not yet sent have
        none)."""
        return [RunHandle(self.runtime, r.id) for r in self.store.latest(self.id)]

    def status(self) -> GroupStatus:
        """Counts by state and one row per member (``members``); also sends members that may
        run now."""
        self.advance()
        return self._status()

    def _status(self) -> GroupStatus:
        row = self.store.get(self.id)
        latest = {r.group_index: r for r in self.store.latest(self.id)}
        records = []
        for index, parameters in enumerate(row.members):
            run = latest.get(index)
            records.append(
                {
                    "index": index,
                    "parameters": parameters,
                    "run_id": run.id if run else None,
                    "state": run.state if run else "pending",
                    "error": run.error if run else None,
                    "attempt": run.attempt if run else 0,
                    "started": run.started if run else None,
                    "finished": run.finished if run else None,
                }
            )
        members = pd.DataFrame(
            records,
            columns=[
                "index",
                "parameters",
                "run_id",
                "state",
                "error",
                "attempt",
                "started",
                "finished",
            ],
        )
        counts = {s: int((members.state == s).sum()) for s in STATUS_ORDER}
        return GroupStatus(counts, members, cancelled=row.cancelled is not None)

    def _reconcile(self, status: GroupStatus) -> None:
        """Fail (and retry per policy) active members that lost their worker."""
        active = status.members.run_id[status.members.state.isin(ACTIVE)].tolist()
        if not active:
            return
        om = self.runtime.om
        reconciler = RunReconciler(om.db, buckets=[om.bucket], run_ids=active, om=om)
        for retry in reconciler.reconcile(now()):
            try:
                send(om, retry, self.runtime)
            except Exception:
                pass  # the retry's row says why

    def wait(
        self,
        timeout: float | None = None,
        progress: Callable[[GroupStatus], None] | None = None,
    ) -> RunGroup:
        """Block until every member has ended, sending members as others end; ``progress``
        is called with each new status. RunTimeoutError after ``timeout`` seconds (the group
        goes on)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        checked, delay, seen = time.monotonic(), 0.05, None
        while True:
            status = self.status()
            if progress is not None and status.counts != seen:
                progress(status)
                seen = status.counts
            if status.done:
                return self
            if time.monotonic() - checked >= WATCH_SECONDS:
                self._reconcile(status)
                checked = time.monotonic()
            if deadline is not None and time.monotonic() >= deadline:
                raise RunTimeoutError(
                    f"run group {self.id}: {status.finished} of {status.total} members ended "
                    f"after {timeout} s (it goes on; wait again or cancel it)"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    def results(self, output: str | None = None) -> Any:
        """What the members made, in member order. Without ``output``: each member's result
        (for notebooks the executed notebook; None for a member that did not succeed). With
        ``output`` (for notebooks the tag of a cell whose last output is the value): a
        DataFrame with one row per succeeded member — its index and parameters, then the
        value's fields (a dict) or ``value``."""
        kind = self.runtime.kind(self.kind)
        om = self.runtime.om
        latest = {r.group_index: r for r in self.store.latest(self.id)}
        if output is None:
            return [
                kind.result_of(om, run, None) if run and run.state == "succeeded" else None
                for run in (latest.get(i) for i in range(self.size))
            ]
        rows = []
        for index in range(self.size):
            run = latest.get(index)
            if run is None or run.state != "succeeded":
                continue
            value = kind.result_of(om, run, output)
            fields = value if isinstance(value, dict) else {"value": value}
            rows.append({"index": index, **self.parameters[index], "run_id": run.id, **fields})
        return pd.DataFrame(rows)

    # -- control ---------------------------------------------------------------------------------
    def cancel(self) -> int:
        """Send no more members and cancel those queued or running; returns how many runs
        were cancelled."""
        self.store.cancel(self.id)
        cancelled = 0
        runs_store = self.runtime.runs_store
        for run in self.store.latest(self.id):
            if run.state in ACTIVE and runs_store.finish(run.id, "cancelled", error="cancelled"):
                publish_ended(self.runtime.om, run.id, "cancelled", "cancelled")
                self.runtime.cancel_task(run.id)
                cancelled += 1
        return cancelled

    def restart(self, failed_only: bool = True) -> list[int]:
        """Run again the members without a result (failed, cancelled, never sent) — or, with
        ``failed_only=False``, every member not running now; each gets a new run that follows
                its previous one. Returns the indices of the members to be sent; at most
        ``max_parallel`` run at once."""
        again = self.store.requeue(self.id, failed_only)
        self.advance()
        return again

    def __repr__(self) -> str:
        return f"RunGroup(id={self.id!r}, target={self.target!r}, members={self.size})"


@dataclass
class _Item:
    """A claimed member in the shape ``reconcile.send`` sends."""

    run_id: str
    bucket: str
    kind: str
    target: str
    member: Member
    resend: bool = False

    @property
    def parameters(self) -> dict:
        return self.member.parameters

    @property
    def task(self) -> dict:
        return self.member.task

    @property
    def resources(self) -> dict | None:
        return self.member.resources


def advance_from_task(om: Any, group_id: str) -> None:
    """A member's task, as it ends, sends the group's next members with the worker's Dask
    client (the group goes on without its submitter)."""
    from distributed import get_client

    runtime = om.runtime
    runtime.use_client(get_client())
    RunGroup(runtime, group_id).advance()
