"""Scheduler loops in separate processes: exactly once per slot, and a killed loop reconciled."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from omega_jupyter.jobs.tables import runs, schedule_slots
from tests.jobs.test_jobs import make_notebook
from tests.scripts.test_scripts import put_script

T0 = datetime(2030, 1, 7, 8, 0, 0, tzinfo=UTC)

CLAIM_LOOP = """
import sys
from datetime import UTC, datetime, timedelta
import omega_jupyter
from omega_jupyter.jobs.claims import ScheduleClaimer
url, bucket, name, start, count = sys.argv[1:6]
om = omega_jupyter.setup(url=url, bucket=bucket)
claimer = ScheduleClaimer(om.db, name, buckets=[bucket])
t0 = datetime.fromisoformat(start)
n = 0
for i in range(int(count) + 1):
    n += len(claimer.claim(t0 + timedelta(seconds=i)))
print(n)
"""

SCHEDULER = """
import sys
import omega_jupyter
from omega_jupyter.jobs.scheduler import Scheduler
url, bucket, home, stale = sys.argv[1:5]
om = omega_jupyter.setup(url=url, bucket=bucket, home=home)
Scheduler(om, buckets=[bucket], stale_after=float(stale), queued_after=float(stale)).run()
"""


def _spawn(code: str, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMEGA_")}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _runs(om):
    with om.db.connect() as conn:
        return conn.execute(
            sa.select(runs).where(runs.c.bucket == om.bucket).order_by(runs.c.scheduled_for)
        ).all()


def _wait(predicate, timeout: float, what: str, procs=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        for proc in procs:
            if proc.poll() is not None:
                raise AssertionError(f"scheduler exited: {proc.communicate()[1][-2000:]}")
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_processes_claim_each_slot_exactly_once(om, database_url):
    om.jobs.put(make_notebook(), "report")
    om.jobs.schedules_store.put("job", "report", "every 1 seconds", missed="all", start=T0)
    count = 60
    procs = [
        _spawn(CLAIM_LOOP, database_url, om.bucket, f"loop{i}", T0.isoformat(), str(count))
        for i in range(2)
    ]
    claimed = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        claimed.append(int(out))
    assert sum(claimed) == count  # slots 1..count, each claimed by exactly one process
    slots = [r.scheduled_for for r in _runs(om)]
    assert len(slots) == len(set(slots)) == count
    with om.db.connect() as conn:
        owners = conn.execute(
            sa.select(schedule_slots.c.claimed_by, sa.func.count())
            .where(schedule_slots.c.run_id.in_([r.id for r in _runs(om)]))
            .group_by(schedule_slots.c.claimed_by)
        ).all()
    assert sum(n for _, n in owners) == count


def test_two_scheduler_loops_run_each_slot_once(om, database_url, tmp_path):
    # a script: scheduled like a notebook, without a kernel start per run
    put_script(om, "def run(om, **kw):\n    return kw\n", "tick", tmp_path)
    loops = [
        _spawn(SCHEDULER, database_url, om.bucket, str(tmp_path / f"h{i}"), "60") for i in range(2)
    ]
    try:
        # missed="all": a slot claimed late (two loops starting on two cores) still runs
        om.scripts.schedule("tick", "every 1 seconds", parameters={"n": 1}, missed="all")
        _wait(lambda: len(_runs(om)) >= 4, 90, "four scheduled runs", loops)
        om.scripts.unschedule("tick")
        _wait(lambda: all(r.state in ("succeeded", "failed") for r in _runs(om)), 120, "runs")
    finally:
        for proc in loops:
            proc.terminate()
        for proc in loops:
            proc.communicate(timeout=30)
    rows = _runs(om)
    slots = [r.scheduled_for for r in rows]
    assert len(slots) == len(set(slots)), "a slot ran twice"
    gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(slots)}
    assert gaps <= {1.0}, f"a slot was lost: {slots}"
    assert {r.trigger for r in rows} == {"schedule"}
    assert {r.state for r in rows} == {"succeeded"}, [r.error for r in rows]
    assert all(r.result["value"] == {"n": 1} for r in rows)


def test_killed_scheduler_run_is_reconciled(om, database_url, tmp_path):
    put_script(om, "import time\ndef run(om, **kw):\n    time.sleep(120)\n", "long", tmp_path)
    first = _spawn(SCHEDULER, database_url, om.bucket, str(tmp_path / "a"), "60")
    try:
        om.scripts.schedule("long", "every 2 seconds")
        _wait(lambda: any(r.state == "running" for r in _runs(om)), 90, "a running run", [first])
        om.scripts.unschedule("long")
    finally:
        first.send_signal(signal.SIGKILL)  # the loop and its in-process workers die mid-run
        first.communicate(timeout=30)
    second = _spawn(SCHEDULER, database_url, om.bucket, str(tmp_path / "b"), "3")
    try:
        _wait(
            lambda: all(r.state in ("succeeded", "failed") for r in _runs(om)),
            60,
            "reconciliation",
            [second],
        )
    finally:
        second.terminate()
        second.communicate(timeout=30)
    rows = _runs(om)
    assert rows and all(r.state == "failed" for r in rows)
    assert any("stopped sending heartbeats" in (r.error or "") for r in rows)
    assert all(r.finished is not None for r in rows)
    assert datetime.now(UTC) - rows[0].scheduled_for.replace(tzinfo=UTC) < timedelta(minutes=5)
