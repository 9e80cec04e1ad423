"""Runs that may be sent twice execute once.

A scheduled run left queued by a loop that died between its claim and its Dask submission is
taken over and sent again by another loop; a copy of a task that finds its run already started
either leaves it alone (the run is alive: the task was sent twice) or fails it (the run's
heartbeat stopped: its worker died and Dask re-ran the task).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import sqlalchemy as sa

from omega_jupyter.jobs.claims import ScheduleReconciler
from omega_jupyter.jobs.scheduler import Scheduler
from omega_jupyter.jobs.tables import runs, schedule_slots, scheduler_loops
from omega_jupyter.runtime.lifecycle import run_task
from omega_jupyter.runtime.runs import RunStore
from omega_jupyter.runtime.worker import settings_payload
from tests.jobs.test_jobs import make_notebook
from tests.jobs.test_scheduler import T0, _scheduled, _slot_owner


def test_a_queued_run_of_a_gone_loop_is_taken_over_once(om):
    claimer = _scheduled(om)  # claims as "test-loop", which has no om_scheduler_loops row
    (claim,) = claimer.claim(T0 + timedelta(seconds=2))  # claimed; its loop died before submit
    first = ScheduleReconciler(om.db, stale_after=10, buckets=[om.bucket], loop_id="loop-a")
    second = ScheduleReconciler(om.db, stale_after=10, buckets=[om.bucket], loop_id="loop-b")
    # a loop counts as gone after max(stale_after, 3 beats) = 15 s without a beat
    assert first.reconcile(T0 + timedelta(seconds=10)) == []
    (resent,) = first.reconcile(T0 + timedelta(seconds=18))
    assert resent.resend and (resent.run_id, resent.scheduled_for) == (
        claim.run_id,
        claim.scheduled_for,
    )
    assert (resent.kind, resent.target, resent.schedule_id) == ("job", "report", claim.schedule_id)
    assert _slot_owner(om, claim.run_id) == "loop-a"
    assert second.reconcile(T0 + timedelta(seconds=19)) == []  # loop-a just took it over
    assert first.reconcile(T0 + timedelta(seconds=40)) == []  # never from itself
    assert [c.run_id for c in second.reconcile(T0 + timedelta(seconds=40))] == [claim.run_id]
    record = om.runtime.runs_store.get(claim.run_id)
    assert (record.state, record.attempt) == ("queued", 0)  # nothing failed, no new run
    assert len(om.jobs.runs("report", limit=None)) == 1


def test_a_live_loop_keeps_its_queued_runs(om):
    claimer = _scheduled(om)
    (claim,) = claimer.claim(T0 + timedelta(seconds=2))
    reconciler = ScheduleReconciler(om.db, stale_after=10, buckets=[om.bucket], loop_id="other")
    with om.db.begin() as conn:  # "test-loop" is alive: it beat a moment ago
        conn.execute(
            sa.insert(scheduler_loops).values(
                id="test-loop", started=T0, heartbeat=T0 + timedelta(seconds=55)
            )
        )
    assert reconciler.reconcile(T0 + timedelta(seconds=60)) == []
    with om.db.begin() as conn:  # a queued run that started is never sent again
        conn.execute(
            sa.update(runs)
            .where(runs.c.id == claim.run_id)
            .values(state="running", heartbeat=T0 + timedelta(seconds=99))
        )
        conn.execute(sa.delete(scheduler_loops).where(scheduler_loops.c.id == "test-loop"))
    assert reconciler.reconcile(T0 + timedelta(seconds=100)) == []


def test_begin_lets_one_copy_run_and_tells_dead_from_duplicate(om):
    store = RunStore(om.db, om.bucket)
    run_id = store.create("job", "report", "run", parameters={})
    with ThreadPoolExecutor(4) as pool:  # four copies start at once: one gets the run
        records = list(pool.map(lambda i: store.start(run_id, f"w{i}"), range(4)))
    assert sum(r.started_here for r in records) == 1
    owner = next(r.worker for r in records if r.started_here)
    assert store.get(run_id).attempt == 1

    beating = threading.Event()

    def beat() -> None:  # the first copy is alive
        while not beating.wait(0.1):
            store.beat([run_id])

    thread = threading.Thread(target=beat)
    thread.start()
    try:
        verdict, record = store.begin(run_id, "late-copy", watch_seconds=1.5)
    finally:
        beating.set()
        thread.join()
    assert verdict == "skip"
    assert (record.state, record.attempt, record.worker) == ("running", 1, owner)
    verdict, record = store.begin(run_id, "rerun", watch_seconds=0.5)  # no beat: it died
    assert verdict == "dead" and record.worker == owner
    store.finish(run_id, "failed", error="the worker running this notebook died")
    verdict, record = store.begin(run_id, "later", watch_seconds=5)  # finished: at once
    assert verdict == "skip" and (record.state, record.attempt) == ("failed", 1)


def test_two_copies_of_a_notebook_task_execute_it_once(om, tmp_path):
    """Both copies run the task function for real (each with its own kernel)."""
    marks = tmp_path / "marks"
    marks.mkdir()
    source = f"import pathlib, uuid\npathlib.Path({str(marks)!r}, uuid.uuid4().hex).touch()"
    om.jobs.put(make_notebook(source, "import time\ntime.sleep(6)"), "nb")
    run_id = om.runtime.runs_store.create("job", "nb", "run", parameters={})
    spec = {"settings": settings_payload(om.settings), "run_id": run_id, "name": "nb"}
    spec["kind"] = "job"
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(run_task, [dict(spec), dict(spec)]))
    assert len(list(marks.iterdir())) == 1  # executed once
    # the copy that did not run it returned as soon as it saw the run alive (or finished)
    assert {o["state"] for o in outcomes} <= {"running", "succeeded"}
    record = om.runtime.runs_store.get(run_id)
    assert (record.state, record.attempt, record.error) == ("succeeded", 1, None)


def test_a_run_orphaned_before_submission_runs_once(om):
    """The claim is committed but never submitted; another loop sends it again, and a late
    second submission under the same key (the dead loop's, say) does not run it again."""
    om.jobs.put(make_notebook("import time\ntime.sleep(1.5)"), "nb")
    om.jobs.schedule("nb", "every minute")
    loop = Scheduler(om, buckets=[om.bucket], stale_after=10)
    due = om.jobs.schedules_store.get("job", "nb")["next_due"]
    (claim,) = loop.claimer.claim(due + timedelta(milliseconds=10))  # claimed, not submitted
    with om.db.begin() as conn:  # ... by a loop that is gone
        conn.execute(
            sa.update(schedule_slots)
            .where(schedule_slots.c.run_id == claim.run_id)
            .values(claimed_by="gone-loop")
        )
    assert om.runtime.runs_store.get(claim.run_id).state == "queued"
    (resent,) = loop.tick(now=due + timedelta(seconds=16))
    assert resent.run_id == claim.run_id and resent.resend
    late = om.runtime.submit("job", claim.run_id, "nb", {})  # the same task key again
    assert om.runtime.run(claim.run_id).wait(120).status == "succeeded"
    late.future.result(timeout=120)
    run = om.runtime.runs_store.get(claim.run_id)
    assert run.state == "succeeded" and run.attempt == 1  # executed by one task only
    assert len(om.jobs.runs("nb", limit=None)) == 1
