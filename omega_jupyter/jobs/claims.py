"""Claiming due schedule slots exactly once, and what reconciling lost runs adds for schedules.

Any number of scheduler loops may call these against one database. A due schedule row is
locked with ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL (``BEGIN IMMEDIATE`` serializes
writers on SQLite); the slot row's unique (schedule_id, slot) key is the final guard: a slot
whose row exists was taken, whoever tried second gets nothing. The run row is created in the
same transaction as the slot row, so a claimed slot always has its run.

A schedule with ``map_members`` starts a run group per slot (``runtime/groups.py``): the group
row is created in the slot's transaction instead of a run row, so a slot has exactly one group;
the loop then sends its first members, and the group's members send the next ones.

Lost runs of every kind are the runtime's (``runtime/reconcile.py``); :class:`ScheduleReconciler`
adds the slots: a retry takes over its slot, and a claim whose loop died before sending it is
sent again by another loop (for a group: any group whose members stopped sending the next ones).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from omega_jupyter.jobs import timetable
from omega_jupyter.jobs.tables import runs, schedule_slots, scheduler_loops, schedules
from omega_jupyter.runtime.groups import GroupStore, stalled_groups
from omega_jupyter.runtime.reconcile import (
    QUEUED_AFTER_SECONDS,
    STALE_AFTER_SECONDS,
    RunReconciler,
)
from omega_jupyter.storage.engine import Database
from omega_jupyter.storage.metadata import aware

log = logging.getLogger("omega_jupyter.scheduler")

MAX_SLOTS_PER_CLAIM = 100  # missed='all' after a long downtime runs at most this many at once
MAX_GRACE = timedelta(seconds=60)
MIN_GRACE = timedelta(seconds=1)
LOOP_HEARTBEAT_SECONDS = 5.0  # a scheduler loop's row in om_scheduler_loops beats this often


@dataclass
class Claim:
    """A run created for a slot (or a retry), to be submitted by the loop that claimed it."""

    run_id: str
    bucket: str
    kind: str
    target: str
    parameters: dict
    scheduled_for: datetime
    schedule_id: int
    skipped: list[datetime] = field(default_factory=list)
    resend: bool = False  # an existing run sent again: a failed submission must not fail it
    task: dict | None = None  # what a retried run's task is sent (runtime/reconcile.py)


@dataclass
class GroupClaim:
    """A run group created for a slot (or one whose members stopped sending the next ones):
    the loop sends its members (``RunGroup.advance``)."""

    group_id: str
    bucket: str
    kind: str
    target: str
    scheduled_for: datetime | None = None
    schedule_id: int | None = None
    skipped: list[datetime] = field(default_factory=list)

    @property
    def run_id(self) -> str:  # how the loop's log names what it sends
        return f"group {self.group_id}"


DEFAULT_SCHEDULED_PARALLEL = 4  # a scheduled map's max_parallel when none is given


def grace(cron: str, slot: datetime, timezone: str | None) -> timedelta:
    """How late a slot may start and still count as on time: half a period, 1-60 s."""
    following = timetable.next_times(cron, slot, 1, timezone)[0]
    return max(MIN_GRACE, min(MAX_GRACE, (following - slot) / 2))


def choose_slots(row: Any, now: datetime) -> tuple[list[datetime], list[datetime]]:
    """(slots to run, slots skipped) among the due slots of a schedule row.

    Slots still within their grace time always run; older ones were missed (no loop was
    running) and follow ``missed``: ``all`` runs them, ``once`` runs the newest unless an
    on-time slot runs anyway, ``skip`` drops them.
    """
    first = aware(row.next_due)
    due = [first, *timetable.slots_between(row.cron, first, now, row.timezone, MAX_SLOTS_PER_CLAIM)]
    if row.missed == "all":
        return due[-MAX_SLOTS_PER_CLAIM:], due[:-MAX_SLOTS_PER_CLAIM]
    on_time = [s for s in due if now - s <= grace(row.cron, s, row.timezone)]
    missed = [s for s in due if s not in on_time]
    if row.missed == "once" and missed and not on_time:
        return missed[-1:], missed[:-1]
    return on_time, missed


def new_run_values(
    run_id: str, row: Any, slot: datetime, stamp: datetime, parameters: dict | None = None
) -> dict:
    return {
        "id": run_id,
        "bucket": row.bucket,
        "kind": row.kind,
        "target": row.target,
        "action": "run",
        "parameters": parameters if parameters is not None else dict(row.parameters or {}),
        "state": "queued",
        "trigger": "schedule",
        "submitted": stamp,
        "attempt": 0,
        "max_retries": row.max_retries,
        "schedule_id": row.id,
        "scheduled_for": slot,
        "submitted_by": row.created_by,  # the schedule's owner, not the scheduler process
    }


class ScheduleClaimer:
    """Claims due slots for one scheduler loop (``loop_id`` is recorded with every claim)."""

    def __init__(self, db: Database, loop_id: str, buckets: list[str] | None = None) -> None:
        self.db = db
        self.loop_id = loop_id
        self.buckets = buckets

    def _due_query(self, now: datetime, limit: int) -> sa.Select:
        query = (
            sa.select(schedules)
            .where(schedules.c.enabled & (schedules.c.next_due <= now))
            .order_by(schedules.c.next_due)
            .limit(limit)
        )
        if self.buckets is not None:
            query = query.where(schedules.c.bucket.in_(self.buckets))
        if self.db.is_postgres:
            query = query.with_for_update(skip_locked=True)
        return query

    def claim(self, now: datetime, limit: int = 50) -> list[Claim]:
        """Claim every due slot (per each schedule's missed policy); returns the new runs."""
        self.db.ensure_schema()
        claims: list[Claim] = []
        with self.db.begin() as conn:
            for row in conn.execute(self._due_query(now, limit)).fetchall():
                claims.extend(self._claim_schedule(conn, row, now))
        return claims

    def _claim_schedule(self, conn: Connection, row: Any, now: datetime) -> list[Any]:
        to_run, skipped = choose_slots(row, now)
        claims: list[Any] = []
        for slot in to_run:
            if row.map_members is not None:
                claim = self._claim_group(conn, row, slot, now)
                if claim is not None:
                    claims.append(claim)
                continue
            run_id = uuid.uuid4().hex
            try:
                with conn.begin_nested():
                    conn.execute(
                        sa.insert(schedule_slots).values(
                            schedule_id=row.id,
                            slot=slot,
                            state="submitted",
                            run_id=run_id,
                            claimed_by=self.loop_id,
                            claimed_at=now,
                        )
                    )
                    conn.execute(sa.insert(runs).values(**new_run_values(run_id, row, slot, now)))
            except sa.exc.IntegrityError:
                continue  # another loop already ran this slot
            params = dict(row.parameters or {})
            claims.append(Claim(run_id, row.bucket, row.kind, row.target, params, slot, row.id))
        if claims:
            claims[0].skipped = skipped
        newest = max(to_run + skipped)
        following = timetable.next_times(row.cron, max(newest, now), 1, row.timezone)[0]
        conn.execute(
            sa.update(schedules)
            .where(schedules.c.id == row.id)
            .values(next_due=following, last_slot=newest)
        )
        return claims

    def _claim_group(
        self, conn: Connection, row: Any, slot: datetime, now: datetime
    ) -> GroupClaim | None:
        """The slot's run group: its row and the slot's in one savepoint (None: taken)."""
        common = dict(row.parameters or {})
        members = [{**common, **m} for m in row.map_members]
        try:
            with conn.begin_nested():
                group_id = GroupStore(self.db, row.bucket).create(
                    row.kind,
                    row.target,
                    members,
                    max_parallel=row.max_parallel or DEFAULT_SCHEDULED_PARALLEL,
                    max_retries=row.max_retries,
                    task={},
                    trigger="schedule",
                    schedule_id=row.id,
                    scheduled_for=slot,
                    conn=conn,
                )
                conn.execute(
                    sa.insert(schedule_slots).values(
                        schedule_id=row.id,
                        slot=slot,
                        state="submitted",
                        run_id=None,
                        group_id=group_id,
                        claimed_by=self.loop_id,
                        claimed_at=now,
                    )
                )
        except sa.exc.IntegrityError:
            return None  # another loop already started this slot's group
        return GroupClaim(group_id, row.bucket, row.kind, row.target, slot, row.id)

    def next_due(self) -> datetime | None:
        """The earliest next due time of the enabled schedules this loop serves."""
        query = sa.select(sa.func.min(schedules.c.next_due)).where(schedules.c.enabled)
        if self.buckets is not None:
            query = query.where(schedules.c.bucket.in_(self.buckets))
        self.db.ensure_schema()
        with self.db.connect() as conn:
            value = conn.execute(query).scalar()
        return aware(value) if value is not None else None


class ScheduleReconciler(RunReconciler):
    """The runtime's reconciler (lost runs of every kind failed, retried per max_retries)
    plus what only schedules have: a scheduled run's retry takes over its slot (the slot row
    names the retry, and this loop as the one that sends it), a run whose schedule was
    dropped is not retried, and queued runs of a loop that died before sending them are
    sent again (:meth:`_resend_queued`).
    """

    table = runs

    def __init__(
        self,
        db: Database,
        stale_after: float = STALE_AFTER_SECONDS,
        queued_after: float = QUEUED_AFTER_SECONDS,
        buckets: list[str] | None = None,
        loop_id: str | None = None,
        om: Any = None,
        dask: Any = None,
    ) -> None:
        super().__init__(db, stale_after, queued_after, buckets, loop_id, om, dask=dask)
        # A loop whose row has not beaten for this long is gone (it beats every 5 s).
        self.loop_gone_after = max(self.stale_after, timedelta(seconds=3 * LOOP_HEARTBEAT_SECONDS))

    def reconcile(self, now: datetime) -> list[Any]:
        """Fail lost runs, make their retries, take over orphaned claims and stalled groups;
        returns what to send."""
        return super().reconcile(now) + self._resend_queued(now) + self._stalled(now)

    def _stalled(self, now: datetime) -> list[GroupClaim]:
        """Run groups whose members stopped sending the next ones (``stalled_groups``)."""
        with self.db.connect() as conn:
            found = stalled_groups(conn, now - self.loop_gone_after, self.buckets)
        return [GroupClaim(group_id, bucket, "", "") for bucket, group_id in found]

    def _may_retry(self, conn: Connection, run: Any) -> bool:
        if not super()._may_retry(conn, run):
            return False
        if run.schedule_id is None:
            return True
        query = sa.select(schedules.c.id).where(schedules.c.id == run.schedule_id)
        return conn.execute(query).first() is not None  # a dropped schedule retries nothing

    def _after_retry(self, conn: Connection, run: Any, retry_id: str, now: datetime) -> None:
        if run.schedule_id is None:
            return
        conn.execute(  # the slot's latest run, and the loop that submits it
            sa.update(schedule_slots)
            .where(
                (schedule_slots.c.schedule_id == run.schedule_id)
                & (schedule_slots.c.run_id == run.id)
            )
            .values(run_id=retry_id, claimed_by=self.loop_id, claimed_at=now)
        )

    def _item(self, conn: Connection, run: Any, retry_id: str) -> Any:
        if run.schedule_id is None:
            return super()._item(conn, run, retry_id)
        return Claim(
            retry_id,
            run.bucket,
            run.kind,
            run.target,
            dict(run.parameters or {}),
            aware(run.scheduled_for),
            run.schedule_id,
            task=dict(run.task) if run.task is not None else None,
        )

    def _resend_queued(self, now: datetime) -> list[Claim]:
        """Scheduled runs still queued whose loop is gone: send them again.

        A loop killed between committing its claim and handing the task to Dask leaves the run
        queued until ``queued_after`` fails it. The slot row names the loop responsible for
        the slot's latest run; once that loop's row is gone or stale, one other loop takes the
        slot over (a conditional update) and sends the run again. Should the first copy still
        reach a cluster, only one copy executes it (``RunStore.begin``).
        """
        gone = now - self.loop_gone_after
        alive = sa.exists().where(
            (scheduler_loops.c.id == schedule_slots.c.claimed_by)
            & (scheduler_loops.c.heartbeat >= gone)
        )
        orphaned = (
            (runs.c.state == "queued")
            & (schedule_slots.c.run_id == runs.c.id)
            & (schedule_slots.c.claimed_by != self.loop_id)
            & (schedule_slots.c.claimed_at < gone)
            & ~alive
        )
        query = sa.select(
            runs.c.id,
            schedule_slots.c.schedule_id,
            schedule_slots.c.slot,
            schedule_slots.c.claimed_by,
        ).where(orphaned)
        if self.buckets is not None:
            query = query.where(runs.c.bucket.in_(self.buckets))
        with self.db.connect() as conn:
            candidates = conn.execute(query).fetchall()
        resent = []
        for run_id, schedule_id, slot, claimant in candidates:
            with self.db.begin() as conn:
                taken = conn.execute(
                    sa.update(schedule_slots)
                    .where(
                        (schedule_slots.c.schedule_id == schedule_id)
                        & (schedule_slots.c.slot == slot)
                        & (schedule_slots.c.claimed_by == claimant)
                    )
                    .values(claimed_by=self.loop_id, claimed_at=now)
                ).rowcount
                if not taken:
                    continue  # another loop took it over first
                run = conn.execute(sa.select(runs).where(runs.c.id == run_id)).one()
            if run.state != "queued":
                continue  # it started meanwhile
            resent.append(
                Claim(
                    run.id,
                    run.bucket,
                    run.kind,
                    run.target,
                    dict(run.parameters or {}),
                    aware(run.scheduled_for),
                    run.schedule_id,
                    resend=True,
                    task=dict(run.task) if run.task is not None else None,
                )
            )
        return resent
