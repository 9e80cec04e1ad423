"""The scheduler loop: sleep until the next due time, claim, submit, reconcile, repeat.

It wakes early when schedules change (a cheap counter polled about once a second), so a new
schedule's first slot starts within ~1 s; it never polls the schedules themselves on a fixed
60 s beat. Any number of loops can run against one database (see :mod:`claims`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from omega_jupyter.jobs.claims import (
    LOOP_HEARTBEAT_SECONDS,
    Claim,
    GroupClaim,
    ScheduleClaimer,
    ScheduleReconciler,
)
from omega_jupyter.jobs.schedules import read_changes
from omega_jupyter.jobs.tables import scheduler_loops
from omega_jupyter.runtime.reconcile import QUEUED_AFTER_SECONDS, STALE_AFTER_SECONDS, send
from omega_jupyter.storage.gc import PeriodicSweep

log = logging.getLogger("omega_jupyter.scheduler")

CHANGE_POLL_SECONDS = 1.0
MAX_SLEEP_SECONDS = 60.0


def utcnow() -> datetime:
    return datetime.now(UTC)


class Scheduler:
    """One scheduler loop for a database (all buckets, or those in ``buckets``).

    ``clock`` returns the current UTC time (inject one in tests); ``stale_after`` is how long a
    running run of any kind may go without a heartbeat before it is failed (or retried; three
    missed beats by default); ``queued_after`` how long a run may stay queued before it is
    failed — only if the loop's Dask scheduler no longer holds its task: runs queued behind
    others on the cluster wait as long as it takes (``runtime/reconcile.py``); on stop, the
    loop waits up to ``drain_seconds`` for the runs it submitted.
    """

    def __init__(
        self,
        om: Any,
        *,
        buckets: list[str] | None = None,
        stale_after: float = STALE_AFTER_SECONDS,
        queued_after: float = QUEUED_AFTER_SECONDS,
        clock: Callable[[], datetime] = utcnow,
        poll: float = CHANGE_POLL_SECONDS,
        loop_id: str | None = None,
        drain_seconds: float = 30.0,
    ) -> None:
        self.om = om
        self.db = om.db
        self.clock = clock
        self.poll = poll
        self.loop_id = loop_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.claimer = ScheduleClaimer(self.db, self.loop_id, buckets)
        self.reconciler = ScheduleReconciler(
            self.db, stale_after, queued_after, buckets, self.loop_id, om=om, dask=self._dask
        )
        self.reconcile_every = max(1.0, stale_after / 4)
        self.stop_event = threading.Event()
        self._last_reconcile: datetime | None = None
        self._last_beat: datetime | None = None
        self.submitted: list[Claim] = []
        self.drain_seconds = drain_seconds
        self._inflight: list[Any] = []
        self.sweeper = PeriodicSweep(self.db, buckets=buckets)  # orphaned data, hourly

    def _dask(self) -> Any:
        """The Dask client this loop sends runs with: asked whether a queued run is held."""
        return self.om.runtime.client

    # -- one pass ---------------------------------------------------------------------------
    def tick(self, now: datetime | None = None) -> list[Claim]:
        """Claim and submit what is due, reconcile stale runs when it is time; returns claims."""
        now = now or self.clock()
        claims = self.claimer.claim(now)
        if self._last_reconcile is None or (now - self._last_reconcile) >= timedelta(
            seconds=self.reconcile_every
        ):
            self._last_reconcile = now
            claims += self.reconciler.reconcile(now)
        for claim in claims:
            self._submit(claim)
        self._beat(now)
        self.sweeper.maybe_run(now)
        return claims

    def _submit(self, claim: Any) -> None:
        """Send a claim, a resent claim or a retry (of a run of any kind)."""
        if getattr(claim, "skipped", None):
            log.info(
                "%s %s: %d missed slot(s) skipped", claim.kind, claim.target, len(claim.skipped)
            )
        if isinstance(claim, GroupClaim):
            self._send_group(claim)
            return
        try:
            handle = send(self.om, claim)
            self.submitted.append(claim)
            self._inflight = [f for f in self._inflight if not f.done()] + [handle.future]
        except Exception as exc:  # the run row already says why; keep the loop alive
            log.error("could not submit run %s: %s", claim.run_id, exc)

    def _send_group(self, claim: GroupClaim) -> None:
        """Send the members of a slot's run group that may run now (the rest follow)."""
        om = self.om if claim.bucket == self.om.bucket else self.om[claim.bucket]
        try:
            handles = om.runtime.group(claim.group_id).advance()
            self.submitted.append(claim)
            self._inflight = [f for f in self._inflight if not f.done()]
            self._inflight += [h.future for h in handles if h.future is not None]
        except Exception as exc:  # the group stays pending: the next reconcile sends it
            log.error("could not send run group %s: %s", claim.group_id, exc)

    def _beat(self, now: datetime) -> None:
        if self._last_beat and now - self._last_beat < timedelta(seconds=LOOP_HEARTBEAT_SECONDS):
            return
        self._last_beat = now
        with self.db.begin() as conn:
            done = conn.execute(
                sa.update(scheduler_loops)
                .where(scheduler_loops.c.id == self.loop_id)
                .values(heartbeat=now)
            ).rowcount
            if not done:
                conn.execute(
                    sa.insert(scheduler_loops).values(id=self.loop_id, started=now, heartbeat=now)
                )

    # -- the loop ---------------------------------------------------------------------------
    def run(self, until: Callable[[], bool] | None = None) -> None:
        """Loop until :meth:`stop` (or ``until()`` is true)."""
        self.db.ensure_schema()
        while not self.stop_event.is_set() and not (until and until()):
            try:
                self.tick()
            except Exception as exc:  # e.g. the database restarting: retry after a pause
                log.error("scheduler pass failed: %s", exc)
                self.stop_event.wait(self.poll)
                continue
            self._sleep()
        self._leave()

    def _sleep(self) -> None:
        """Sleep until the next due time or reconcile time, waking early on schedule changes."""
        now = self.clock()
        wake = now + timedelta(seconds=min(MAX_SLEEP_SECONDS, self.reconcile_every))
        due = self.claimer.next_due()
        if due is not None:
            wake = min(wake, due)
        with self.db.connect() as conn:
            seen = read_changes(conn)
        while not self.stop_event.is_set():
            left = (wake - self.clock()).total_seconds()
            if left <= 0:
                return
            self.stop_event.wait(min(self.poll, left))
            with self.db.connect() as conn:
                if read_changes(conn) != seen:
                    return

    def stop(self) -> None:
        self.stop_event.set()

    def _leave(self) -> None:
        # Runs on this process's own local cluster die with it: give them time to finish.
        # (On a shared cluster they go on regardless; the rest are reconciled by heartbeat.)
        pending = [f for f in self._inflight if not f.done()]
        if pending and self.drain_seconds > 0:
            from distributed import wait

            log.info("waiting up to %g s for %d run(s)", self.drain_seconds, len(pending))
            try:
                wait(pending, timeout=self.drain_seconds)
            except Exception:
                pass  # timed out: those runs are reconciled by their stopped heartbeat
        try:
            with self.db.begin() as conn:
                conn.execute(sa.delete(scheduler_loops).where(scheduler_loops.c.id == self.loop_id))
        except Exception:
            pass  # leaving is best effort; the row's stale heartbeat says the same
