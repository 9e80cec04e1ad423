"""Scheduled runs left queued by a loop that died between its claim and its Dask submission:
another loop sends them again, under the same task key, so they run once — never twice."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from omega_jupyter.jobs.claims import RunReconciler
from omega_jupyter.jobs.runner import submit
from omega_jupyter.jobs.scheduler import Scheduler
from omega_jupyter.jobs.tables import runs
from tests.test_jobs import make_notebook
from tests.test_scheduler import T0, _scheduled


def test_a_queued_scheduled_run_is_resent_once_per_period(om):
    claimer = _scheduled(om)
    (claim,) = claimer.claim(T0 + timedelta(seconds=2))  # claimed; its loop died before submit
    reconciler = RunReconciler(om.db, stale_after=10, buckets=[om.bucket])
    assert reconciler.reconcile(T0 + timedelta(seconds=5)) == []  # its own loop may still send it
    (resent,) = reconciler.reconcile(T0 + timedelta(seconds=13))
    assert (resent.run_id, resent.scheduled_for) == (claim.run_id, claim.scheduled_for)
    assert (resent.kind, resent.target, resent.schedule_id) == ("job", "report", claim.schedule_id)
    other = RunReconciler(om.db, stale_after=10, buckets=[om.bucket])
    assert other.reconcile(T0 + timedelta(seconds=14)) == []  # one loop per period resends it
    assert [c.run_id for c in other.reconcile(T0 + timedelta(seconds=24))] == [claim.run_id]
    assert om.runtime.runs_store.get(claim.run_id).state == "queued"  # nothing failed, no new run
    with om.db.begin() as conn:  # it started: never resent again
        conn.execute(sa.update(runs).where(runs.c.id == claim.run_id).values(state="running"))
    assert [r for r in other.reconcile(T0 + timedelta(seconds=40)) if not r.run_id] == []
    assert all(r.run_id != claim.run_id for r in other.reconcile(T0 + timedelta(seconds=40)))


def test_a_run_orphaned_before_submission_runs_once(om):
    """The claim is committed but never submitted; a scheduler loop resends it, and a late
    second submission under the same key (the dead loop's, say) does not run it again."""
    om.jobs.put(make_notebook("import time\ntime.sleep(1.5)"), "nb")
    om.jobs.schedule("nb", "every minute")
    loop = Scheduler(om, buckets=[om.bucket], stale_after=10)
    due = om.jobs.schedules_store.get("job", "nb")["next_due"]
    (claim,) = loop.claimer.claim(due + timedelta(milliseconds=10))  # claimed, not submitted
    assert om.runtime.runs_store.get(claim.run_id).state == "queued"
    (resent,) = loop.tick(now=due + timedelta(seconds=11))
    assert resent.run_id == claim.run_id
    late = submit(om.runtime, "job", claim.run_id, "nb", {})  # the same task key again
    record = om.runtime.run(claim.run_id).wait(120)
    assert record.status == "succeeded"
    late.result(timeout=120)
    run = om.runtime.runs_store.get(claim.run_id)
    assert run.state == "succeeded" and run.attempt == 1  # executed by one task only
    assert len(om.jobs.runs("nb", limit=None)) == 1
