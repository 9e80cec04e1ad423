"""Schedules: text → cron, the schedule API, exactly-once claiming, missed policies, reconciling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from omega_jupyter.exceptions import InvalidScheduleError, ObjectNotFoundError
from omega_jupyter.jobs import timetable
from omega_jupyter.jobs.claims import ScheduleClaimer, ScheduleReconciler
from omega_jupyter.jobs.tables import runs, schedule_slots
from tests.jobs.test_jobs import make_notebook

T0 = datetime(2030, 1, 7, 8, 0, 0, tzinfo=UTC)  # a Monday


@pytest.mark.parametrize(
    ("text", "cron"),
    [
        ("*/5 * * * *", "*/5 * * * *"),
        ("every minute", "* * * * *"),
        ("every 5 minutes", "*/5 * * * *"),
        ("hourly", "0 * * * *"),
        ("daily at 06:00", "0 6 * * *"),
        ("weekdays at 08:30", "30 8 * * 1-5"),
        ("Mondays and Fridays at 06:00", "0 6 * * 1,5"),
        ("every 2 hours on weekends", "0 */2 * * 0,6"),
        ("every 2 seconds", "* * * * * */2"),
    ],
)
def test_text_to_cron(text, cron):
    assert timetable.to_cron(text) == cron
    assert timetable.describe(cron)


@pytest.mark.parametrize("text", ["", "sometimes", "daily at 25:00", "* * * * 9", "every 0 hours"])
def test_unparsable_text_shows_examples(text):
    with pytest.raises(InvalidScheduleError, match="weekdays at 08:30"):
        timetable.to_cron(text)


def test_schedule_api(om):
    om.jobs.put(make_notebook(), "report")
    info = om.jobs.schedule("report", "weekdays at 08:30", parameters={"x": 2}, missed="skip")
    assert info["cron"] == "30 8 * * 1-5" and "Monday through Friday" in info["description"]
    times = info["next_times"]
    assert len(times) == 5 and times == sorted(times)
    assert all(t.weekday() < 5 and (t.hour, t.minute) == (8, 30) for t in times)
    frame = om.jobs.schedules()
    assert frame.name.tolist() == ["report"] and frame.missed.tolist() == ["skip"]
    # bad input changes nothing
    for bad in (
        dict(when="whenever"),
        dict(when="hourly", missed="sometimes"),
        dict(when="hourly", max_retries=-1),
        dict(when="hourly", timezone="Mars/Base"),
    ):
        with pytest.raises(InvalidScheduleError):
            om.jobs.schedule("report", **bad)
    assert om.jobs.schedules().when.tolist() == ["weekdays at 08:30"]
    with pytest.raises(ObjectNotFoundError):
        om.jobs.schedule("nope", "hourly")
    assert om.jobs.unschedule("report") is True
    assert om.jobs.schedules().empty
    with pytest.raises(ObjectNotFoundError):
        om.jobs.unschedule("report")


# -- claiming with an injected clock ---------------------------------------------------------
def _scheduled(om, when_text="every 2 seconds", missed="once", max_retries=0):
    om.jobs.put(make_notebook(), "report")
    om.jobs.schedules_store.put(
        "job", "report", when_text, missed=missed, max_retries=max_retries, start=T0
    )
    return ScheduleClaimer(om.db, "test-loop", buckets=[om.bucket])


def _slot_owner(om, run_id: str) -> str | None:
    """The loop a slot row names for ``run_id`` (None: the row names another run)."""
    with om.db.connect() as conn:
        return conn.execute(
            sa.select(schedule_slots.c.claimed_by).where(schedule_slots.c.run_id == run_id)
        ).scalar()


def _slots(om):
    with om.db.connect() as conn:
        rows = conn.execute(
            sa.select(runs.c.scheduled_for, runs.c.trigger, runs.c.state)
            .where(runs.c.bucket == om.bucket)
            .order_by(runs.c.scheduled_for)
        ).all()
    return [(r.scheduled_for.replace(tzinfo=UTC), r.trigger, r.state) for r in rows]


def test_each_slot_claimed_once(om):
    claimer = _scheduled(om)
    other = ScheduleClaimer(om.db, "other-loop", buckets=[om.bucket])
    assert claimer.claim(T0 + timedelta(seconds=1)) == []  # not due yet
    first = claimer.claim(T0 + timedelta(seconds=2))
    assert [c.scheduled_for for c in first] == [T0 + timedelta(seconds=2)]
    assert other.claim(T0 + timedelta(seconds=2)) == []  # the same slot again: nothing
    assert claimer.next_due() == T0 + timedelta(seconds=4)
    assert [c.scheduled_for for c in other.claim(T0 + timedelta(seconds=4))] == [
        T0 + timedelta(seconds=4)
    ]
    assert [s[:2] for s in _slots(om)] == [
        (T0 + timedelta(seconds=2), "schedule"),
        (T0 + timedelta(seconds=4), "schedule"),
    ]


@pytest.mark.parametrize(
    ("missed", "expected"),
    [
        ("all", [4, 6, 8, 10, 12, 14, 16, 18, 20]),  # every slot of the downtime
        ("once", [20]),  # one run to catch up
        ("skip", []),  # the downtime's slots are dropped; the next on-time slot runs
    ],
)
def test_missed_policy_after_downtime(om, missed, expected):
    claimer = _scheduled(om, missed=missed)
    claimer.claim(T0 + timedelta(seconds=2))
    # schedulers down from t=3 to t=21.5: slots 4..20 were missed
    claims = claimer.claim(T0 + timedelta(seconds=21.5))
    assert [int((c.scheduled_for - T0).total_seconds()) for c in claims] == expected
    assert claimer.next_due() == T0 + timedelta(seconds=22)
    assert [
        int((c.scheduled_for - T0).total_seconds())
        for c in claimer.claim(T0 + timedelta(seconds=22))
    ] == [22]
    # a slot just due (within grace) is on time, also for 'skip'
    assert len(claimer.claim(T0 + timedelta(seconds=24.5))) == 1


def test_schedule_change_resets_next_due(om):
    claimer = _scheduled(om)
    claimer.claim(T0 + timedelta(seconds=2))
    om.jobs.schedules_store.put("job", "report", "hourly", start=T0 + timedelta(seconds=3))
    assert claimer.next_due() == T0 + timedelta(hours=1)
    assert claimer.claim(T0 + timedelta(seconds=30)) == []


def test_reconcile_stale_runs_fail_or_retry(om):
    claimer = _scheduled(om, max_retries=1)
    (claim,) = claimer.claim(T0 + timedelta(seconds=2))
    with om.db.begin() as conn:  # the worker started it, then died: heartbeats stop
        conn.execute(
            sa.update(runs)
            .where(runs.c.id == claim.run_id)
            .values(state="running", heartbeat=T0 + timedelta(seconds=3))
        )
    reconciler = ScheduleReconciler(om.db, stale_after=10, buckets=[om.bucket])
    assert reconciler.reconcile(T0 + timedelta(seconds=5)) == []  # still fresh
    (retry,) = reconciler.reconcile(T0 + timedelta(seconds=20))
    assert retry.scheduled_for == claim.scheduled_for and retry.run_id != claim.run_id
    failed = om.runtime.runs_store.get(claim.run_id)
    assert failed.state == "failed" and "heartbeat" in failed.error
    assert reconciler.reconcile(T0 + timedelta(seconds=20)) == []  # reconciled once only
    with om.db.begin() as conn:  # the retry dies too: max_retries=1 is used up
        conn.execute(
            sa.update(runs)
            .where(runs.c.id == retry.run_id)
            .values(state="running", heartbeat=T0 + timedelta(seconds=21))
        )
    assert reconciler.reconcile(T0 + timedelta(seconds=60)) == []
    states = [s[2] for s in _slots(om)]
    assert states == ["failed", "failed"]
    with om.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schedule_slots)).scalar() >= 1


def test_scheduler_tick_runs_a_notebook(om):
    from omega_jupyter.jobs.scheduler import Scheduler

    om.jobs.put(
        make_notebook("import omega_jupyter as om\nom.datasets.put({'x': x}, 'tick')"), "nb"
    )
    info = om.jobs.schedule("nb", "every minute", parameters={"x": 5})
    loop = Scheduler(om, buckets=[om.bucket])
    (claim,) = loop.tick(now=info["next_due"] + timedelta(milliseconds=10))
    assert loop.tick(now=info["next_due"] + timedelta(milliseconds=20)) == []
    assert om.runtime.run(claim.run_id).wait(120).status == "succeeded"
    row = om.jobs.runs("nb").iloc[0]
    assert (row.trigger, row.scheduled_for) == ("schedule", info["next_due"])
    assert om.datasets.get("tick") == {"x": 5}


def test_scheduled_run_failed_by_a_dead_worker_is_retried_once(om):
    """Dask re-runs a task whose worker died; the task then fails its run with a 'worker died'
    error. The reconciler retries such scheduled runs per max_retries, exactly once each."""
    claimer = _scheduled(om, max_retries=1)
    (claim,) = claimer.claim(T0 + timedelta(seconds=2))
    with om.db.begin() as conn:
        conn.execute(
            sa.update(runs)
            .where(runs.c.id == claim.run_id)
            .values(state="failed", error="the worker running this notebook died")
        )
    reconciler = ScheduleReconciler(om.db, stale_after=10, buckets=[om.bucket], loop_id="loop-r")
    (retry,) = reconciler.reconcile(T0 + timedelta(seconds=5))
    assert retry.scheduled_for == claim.scheduled_for and retry.run_id != claim.run_id
    assert not retry.resend  # a new run, submitted by the loop that made it:
    assert _slot_owner(om, retry.run_id) == "loop-r" and _slot_owner(om, claim.run_id) is None
    assert reconciler.reconcile(T0 + timedelta(seconds=6)) == []  # retried once only
    assert om.runtime.runs_store.get(claim.run_id).error.endswith("(retried)")
    with om.db.begin() as conn:  # the retry's worker dies too: max_retries=1 is used up
        conn.execute(
            sa.update(runs)
            .where(runs.c.id == retry.run_id)
            .values(state="failed", error="the worker running this run died (attempt 1)")
        )
    assert reconciler.reconcile(T0 + timedelta(seconds=7)) == []
    assert [s[2] for s in _slots(om)] == ["failed", "failed"]


# -- pause and resume --------------------------------------------------------------------------
def _changes(om):
    from omega_jupyter.jobs.schedules import read_changes

    with om.db.connect() as conn:
        return read_changes(conn)


def test_paused_schedule_is_not_claimed_and_resume_skips_the_pause(om):
    claimer = _scheduled(om, missed="all")  # every 2 s from T0; 'all' would catch up on downtime
    before = _changes(om)
    info = om.jobs.pause("report")
    assert info["paused"] is True and _changes(om) > before
    assert om.jobs.schedules().paused.tolist() == [True]
    assert om.jobs.pause("report")["paused"] is True  # pausing again changes nothing
    assert claimer.claim(T0 + timedelta(seconds=2)) == []  # due, but paused
    assert claimer.claim(T0 + timedelta(seconds=10)) == []
    assert claimer.next_due() is None
    assert _slots(om) == []

    resumed = om.jobs.schedules_store.resume("job", "report", start=T0 + timedelta(seconds=11))
    assert resumed["paused"] is False and resumed["next_due"] == T0 + timedelta(seconds=12)
    # the slots 2..10 fell during the pause: not run, even with missed='all'
    claims = claimer.claim(T0 + timedelta(seconds=12))
    assert [c.scheduled_for for c in claims] == [T0 + timedelta(seconds=12)]
    assert om.jobs.schedules().paused.tolist() == [False]


def test_resume_computes_the_next_slot_from_now(om):
    _scheduled(om)  # next due at T0 + 2 s, in 2030
    om.jobs.pause("report")
    start = datetime.now(UTC)
    info = om.jobs.resume("report")
    assert info["paused"] is False
    assert start <= info["next_due"] <= datetime.now(UTC) + timedelta(seconds=2)
    changes = _changes(om)
    assert om.jobs.resume("report") == info  # resuming an active schedule changes nothing
    assert _changes(om) == changes


def test_pause_and_resume_of_an_unknown_schedule(om):
    om.jobs.put(make_notebook(), "report")
    for action in (om.jobs.pause, om.jobs.resume, om.scripts.pause, om.scripts.resume):
        for name in ("report", "nope"):
            with pytest.raises(ObjectNotFoundError, match="has no schedule"):
                action(name)
    assert om.jobs.schedules().empty


def test_changing_a_schedule_keeps_it_paused(om):
    om.jobs.put(make_notebook(), "report")
    assert om.jobs.schedule("report", "hourly")["paused"] is False  # new: active
    om.jobs.pause("report")
    changed = om.jobs.schedule("report", "daily at 06:00", parameters={"x": 2})
    assert changed["paused"] is True and changed["cron"] == "0 6 * * *"
    with pytest.raises(InvalidScheduleError, match="paused"):
        om.jobs.schedule("report", "hourly", paused="no")
    assert om.jobs.schedules().when.tolist() == ["daily at 06:00"]  # bad input changed nothing
    assert om.jobs.schedules().paused.tolist() == [True]
    assert om.jobs.schedule("report", "hourly", paused=False)["paused"] is False
    assert om.jobs.schedule("report", "hourly")["paused"] is False  # still active
    om.jobs.unschedule("report")
    assert om.jobs.schedule("report", "hourly", paused=True)["paused"] is True  # new, paused
    claimer = ScheduleClaimer(om.db, "test-loop", buckets=[om.bucket])
    assert claimer.claim(datetime.now(UTC) + timedelta(hours=3)) == []


def test_script_schedules_pause_and_resume(om):
    from tests.scripts.test_scripts import RUN, put_script

    put_script(om, RUN)
    om.scripts.schedule("myscript", "every 5 minutes", parameters={"day": "today"})
    assert om.scripts.pause("myscript")["paused"] is True
    assert om.scripts.schedules().paused.tolist() == [True]
    assert om.jobs.schedules().empty  # jobs and scripts are told apart
    info = om.scripts.resume("myscript")
    assert info["paused"] is False and info["parameters"] == {"day": "today"}


def test_scheduled_runs_are_submitted_by_the_schedules_owner(om) -> None:
    from omega_jupyter.runtime.runs import RunStore
    from omega_jupyter.storage.audit import acting_as

    om.jobs.put(make_notebook(), "report")
    with acting_as("jupyter:alice"):
        info = om.jobs.schedules_store.put("job", "report", "every 2 seconds", start=T0)
    assert info["created_by"] == "jupyter:alice"
    claimer = ScheduleClaimer(om.db, "test-loop", buckets=[om.bucket])
    with acting_as("os:scheduler"):  # the loop's own process: not who the run is for
        [claim] = claimer.claim(T0 + timedelta(seconds=2))
    store = RunStore(om.db, om.bucket)
    assert store.get(claim.run_id).submitted_by == "jupyter:alice"
    with acting_as("key:k2"):  # whoever sets the schedule last owns its runs
        om.jobs.schedules_store.put("job", "report", "every 2 seconds", start=T0 + timedelta(1))
    [claim] = claimer.claim(T0 + timedelta(days=1, seconds=2))
    assert store.get(claim.run_id).submitted_by == "key:k2"
    assert om.jobs.schedules_store.get("job", "report")["created_by"] == "key:k2"
