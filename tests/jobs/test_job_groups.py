"""Run groups: one notebook over many parameter sets on a real Dask LocalCluster and a real
kernel, on both databases (runtime/groups.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from omega_jupyter.client import Omega
from omega_jupyter.exceptions import (
    GroupNotFoundError,
    InvalidParameterError,
    InvalidScheduleError,
    ObjectNotFoundError,
    RunTimeoutError,
)
from omega_jupyter.jobs.claims import GroupClaim
from omega_jupyter.jobs.scheduler import Scheduler
from omega_jupyter.jobs.tables import schedule_slots
from omega_jupyter.runtime.groups import GroupStore
from omega_jupyter.runtime.tables import runs
from omega_jupyter.storage.metadata import now
from tests.jobs.test_jobs import make_notebook
from tests.runtime.test_runtime_lost import _eventually, _kill_worker_of, _process_cluster

WAIT = 300  # seconds; generous on a loaded 2-core machine, never reached when things work
STORES = [f"s{i:02d}" for i in range(20)]
REPORT = (
    "import omega_jupyter as om\n"
    "if store == 's07' and om.datasets.get('mode')['mode'] == 'fail':\n"
    "    raise ValueError('no data for ' + store)",
)
TOTAL = "{'store': store, 'total': len(store) * 10}"


@pytest.fixture
def omr(om: Omega, dask_cluster) -> Omega:  # type: ignore[no-untyped-def]
    """A client whose runtime uses the session's Dask cluster, with the report stored."""
    client = Omega(om.settings.replace(dask_address=dask_cluster.scheduler_address))
    nb = make_notebook(*REPORT, TOTAL, parameters="store = 'x'")
    nb.cells[-1].metadata["tags"] = ["total"]
    client.jobs.put(nb, "reports/store")
    client.datasets.put({"mode": "fail"}, "mode")
    return client


def _most_at_once(records: pd.DataFrame) -> int:
    """The most members that were running at the same moment (from their run rows)."""
    moments = [(t, 1) for t in records.started] + [(t, -1) for t in records.finished]
    running = most = 0
    for _t, step in sorted(moments, key=lambda m: (m[0], m[1])):
        running += step
        most = max(most, running)
    return most


def _group_runs(om: Omega, group_id: str) -> list:
    with om.db.connect() as conn:
        query = sa.select(runs).where(runs.c.group_id == group_id).order_by(runs.c.submitted)
        return conn.execute(query).fetchall()


def test_a_20_member_map_with_one_failure_restarts_only_that_member(omr: Omega, tmp_path):
    group = omr.runtime.job("reports/store").map([{"store": s} for s in STORES], max_parallel=3)
    seen = []
    group.wait(WAIT, progress=lambda status: seen.append(status.finished))
    status = group.status()
    assert status.done and status.total == 20
    assert status.counts["succeeded"] == 19 and status.counts["failed"] == 1
    assert seen[-1] == 20 and seen == sorted(seen)
    failed = status.members[status.members.state == "failed"].iloc[0]
    assert failed["index"] == 7 and failed.parameters == {"store": "s07"}
    assert "ValueError: no data for s07" in failed.error
    # every member is an ordinary run with its own executed notebook
    first_runs = _group_runs(omr, group.id)
    assert len(first_runs) == 20 and len({r.id for r in first_runs}) == 20
    assert {r.kind for r in first_runs} == {"job"} and {r.attempt for r in first_runs} == {1}
    executed = omr.jobs.result(first_runs[0].id)
    assert "store = " in executed.cells[2].source
    assert all(omr.jobs.result(r.id) for r in first_runs)  # also the failed one's
    # max_parallel bounded how many ran at once
    assert _most_at_once(pd.DataFrame([r._mapping for r in first_runs])) <= 3
    # results: the executed notebooks (None for the failed member), or a stated output
    notebooks = group.results()
    assert len(notebooks) == 20 and notebooks[7] is None and notebooks[3].cells
    totals = group.results(output="total")
    assert len(totals) == 19 and "s07" not in totals.store.tolist()
    assert totals.set_index("store").loc["s12", "total"] == 30
    with pytest.raises(ObjectNotFoundError, match="no cell tagged"):
        group.results(output="nope")

    # reloaded from its id in another process
    script = (
        "import json, omega_jupyter as om\n"
        f"g = om.runtime.group({group.id!r})\n"
        "s = g.status()\n"
        "print(json.dumps({'counts': s.counts, 'target': g.target, 'n': len(g.members)}))"
    )
    env = {
        "OMEGA_DATABASE_URL": omr.settings.database_url,
        "OMEGA_BUCKET": omr.bucket,
        "OMEGA_HOME": str(tmp_path / "other"),
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    reloaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert reloaded["counts"]["succeeded"] == 19 and reloaded["counts"]["failed"] == 1
    assert reloaded["target"] == "reports/store" and reloaded["n"] == 20

    # restart runs only the member without a result
    omr.datasets.put({"mode": "ok"}, "mode")
    again = omr.runtime.group(group.id)
    assert again.restart() == [7]
    again.wait(WAIT)
    after = again.status()
    assert after.counts["succeeded"] == 20 and after.counts["failed"] == 0
    all_runs = _group_runs(omr, group.id)
    assert len(all_runs) == 21
    [rerun] = [r for r in all_runs if r.id not in {f.id for f in first_runs}]
    assert (rerun.group_index, rerun.retry_of, rerun.state) == (7, failed.run_id, "succeeded")
    assert again.restart() == []  # nothing is left without a result
    assert len(_group_runs(omr, group.id)) == 21


def test_map_binds_plain_values_to_a_parameter_and_cancel_stops_sending(omr: Omega):
    omr.datasets.put({"mode": "ok"}, "mode")
    group = omr.runtime.job("reports/store").map(
        ["a", "b", "c", "d", "e"], param="store", max_parallel=1
    )
    assert group.parameters[1] == {"store": "b"}
    assert group.cancel() >= 0
    status = group.status()
    assert status.cancelled and status.done
    assert status.counts["pending"] == 4  # never sent
    assert status.counts["succeeded"] + status.counts["cancelled"] == 1
    restarted = group.restart()
    assert set(restarted) >= {1, 2, 3, 4}
    group.wait(WAIT)
    assert group.status().counts["succeeded"] == 5
    assert [r.store for r in group.results(output="total").itertuples()] == list("abcde")


@pytest.mark.parametrize(
    ("members", "options", "message"),
    [
        ([], {}, "at least one member"),
        ({"store": "a"}, {}, "list of parameter dicts"),
        ("abc", {}, "list of parameter dicts"),
        ([1, 2], {}, "param='name'"),
        ([{"store": object()}], {}, "JSON values"),
        ([1], {"param": "not a name"}, "param must name"),
        ([{"store": "a"}], {"max_parallel": 0}, "max_parallel"),
        ([{"store": "a"}], {"max_parallel": True}, "max_parallel"),
        ([{"store": "a"}], {"max_retries": -1}, "max_retries"),
    ],
)
def test_bad_maps_are_refused_and_record_nothing(omr: Omega, members, options, message):
    options = {"max_parallel": 2, **options}
    with pytest.raises(InvalidParameterError, match=message):
        omr.runtime.job("reports/store").map(members, **options)
    assert omr.runtime.groups().empty and omr.runtime.runs().empty


def test_unknown_job_and_group(omr: Omega):
    with pytest.raises(ObjectNotFoundError):
        omr.runtime.job("nope").map([{"x": 1}], max_parallel=1)
    with pytest.raises(GroupNotFoundError):
        omr.runtime.group("0" * 32)
    assert omr.runtime.groups().empty


def test_wait_times_out_and_the_group_goes_on(omr: Omega):
    omr.datasets.put({"mode": "ok"}, "mode")
    group = omr.runtime.job("reports/store").map(["a", "b"], param="store", max_parallel=1)
    with pytest.raises(RunTimeoutError, match="members ended"):
        group.wait(0.01)
    group.wait(WAIT)
    assert group.status().counts["succeeded"] == 2
    assert omr.runtime.groups().id.tolist() == [group.id]


def test_another_buckets_group_is_not_found(omr: Omega):
    other = omr[omr.bucket + "x"]
    group_id = GroupStore(other.db, other.bucket).create(
        "job", "reports/store", [{"store": "a"}], max_parallel=1
    )
    with pytest.raises(GroupNotFoundError):
        omr.runtime.group(group_id)
    assert omr.runtime.groups().empty
    assert other.runtime.group(group_id).size == 1


# -- scheduled maps ------------------------------------------------------------------------------
T0 = datetime(2030, 1, 7, 8, 0, 0, tzinfo=UTC)


def _map_schedule(om: Omega, **options) -> None:
    om.jobs.schedules_store.put(
        "job",
        "reports/store",
        "every 2 seconds",
        parameters={"mode": "ok"},
        map=[{"store": "a"}, {"store": "b"}, {"store": "c"}],
        start=T0,
        **options,
    )


def test_a_scheduled_map_starts_one_group_per_slot_under_two_loops(omr: Omega):
    _map_schedule(omr, max_parallel=2)
    assert omr.jobs.schedule_info("reports/store")["map"][1] == {"store": "b"}
    loops = [Scheduler(omr, buckets=[omr.bucket], loop_id=f"loop{i}") for i in (1, 2)]
    slot = T0 + timedelta(seconds=2)
    barrier = threading.Barrier(2)
    claimed: list = []

    def tick(loop: Scheduler) -> None:
        barrier.wait()
        claimed.extend(c for c in loop.tick(slot) if c.scheduled_for == slot)

    threads = [threading.Thread(target=tick, args=(loop,)) for loop in loops]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(claimed) == 1  # one loop got the slot
    [group_id] = omr.runtime.groups().id.tolist()
    schedule_id = omr.jobs.schedule_info("reports/store")["id"]
    with omr.db.connect() as conn:  # this schedule's slots (other tests' share the database)
        slots = conn.execute(
            sa.select(schedule_slots).where(schedule_slots.c.schedule_id == schedule_id)
        ).fetchall()
    assert [(s.group_id, s.run_id) for s in slots] == [(group_id, None)]
    group = omr.runtime.group(group_id).wait(WAIT)
    status = group.status()
    assert status.counts["succeeded"] == 3
    assert status.members.parameters.tolist() == [
        {"mode": "ok", "store": s} for s in ("a", "b", "c")
    ]
    member_runs = _group_runs(omr, group_id)
    assert len(member_runs) == 3 and {r.trigger for r in member_runs} == {"schedule"}
    assert _most_at_once(pd.DataFrame([r._mapping for r in member_runs])) <= 2
    for loop in loops:
        loop.stop()


def test_an_unscheduled_maps_slots_go_with_it(omr: Omega):
    _map_schedule(omr)
    schedule_id = omr.jobs.schedule_info("reports/store")["id"]
    loop = Scheduler(omr, buckets=[omr.bucket])
    assert loop.tick(T0 + timedelta(seconds=2))  # one slot claimed: a group
    omr.jobs.unschedule("reports/store")
    with omr.db.connect() as conn:
        left = conn.execute(
            sa.select(schedule_slots).where(schedule_slots.c.schedule_id == schedule_id)
        ).fetchall()
    assert left == []
    loop.stop()


def test_a_stalled_group_is_sent_by_a_scheduler_loop(omr: Omega):
    omr.datasets.put({"mode": "ok"}, "mode")
    group_id = GroupStore(omr.db, omr.bucket).create(
        "job", "reports/store", [{"store": "a"}, {"store": "b"}], max_parallel=1
    )  # recorded, never sent: as if its submitter died before sending
    loop = Scheduler(omr, buckets=[omr.bucket])
    assert loop.tick(now() + timedelta(seconds=5)) == []  # not quiet long enough yet
    sent = loop.tick(now() + timedelta(seconds=60))
    assert [c.group_id for c in sent if isinstance(c, GroupClaim)] == [group_id]
    assert omr.runtime.group(group_id).wait(WAIT).status().counts["succeeded"] == 2
    loop.stop()


@pytest.mark.parametrize(
    "options",
    [{"map": []}, {"map": [1]}, {"map": [{"a": 1}], "max_parallel": 0}, {"max_parallel": 2}],
)
def test_bad_scheduled_maps_are_refused(omr: Omega, options):
    with pytest.raises(InvalidScheduleError):
        omr.jobs.schedule("reports/store", "hourly", **options)
    assert omr.jobs.schedules().empty


# -- a worker killed during a map ----------------------------------------------------------------
@pytest.fixture(scope="module")
def process_cluster():  # type: ignore[no-untyped-def]
    cluster = _process_cluster()
    yield cluster
    cluster.close()


def test_a_member_whose_worker_is_killed_is_retried_and_nothing_runs_twice(
    om: Omega, process_cluster, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    client = Omega(om.settings.replace(dask_address=process_cluster.scheduler_address))
    slow_once = (
        "import pathlib, time\n"
        "mark = pathlib.Path(marker)\n"
        "if store == 'b' and not mark.exists():\n"
        "    mark.touch()\n"
        "    time.sleep(60)"
    )
    client.jobs.put(make_notebook(slow_once, parameters="store = 'x'\nmarker = ''"), "slow")
    marker = str(tmp_path / "b-started-once")
    group = client.runtime.job("slow").map(
        [{"store": s, "marker": marker} for s in "abcd"], max_parallel=1, max_retries=1
    )
    member_b = _eventually(
        lambda: next((r for r in _group_runs(client, group.id) if r.group_index == 1), None),
        "member b sent",
    )
    _kill_worker_of(client, member_b.id)
    status = group.wait(WAIT).status()
    assert status.counts["succeeded"] == 4, status.members.error.tolist()
    member_runs = _group_runs(client, group.id)
    by_index = {i: [r for r in member_runs if r.group_index == i] for i in range(4)}
    assert [len(by_index[i]) for i in range(4)] == [1, 2, 1, 1]  # only b ran again
    lost, retry = by_index[1]
    assert lost.state == "failed" and lost.error.endswith("(retried)")
    assert "stopped sending heartbeats" in lost.error
    assert (retry.retry_of, retry.state, retry.attempt) == (lost.id, "succeeded", 2)
    assert sum(r.state == "succeeded" for r in member_runs) == 4  # none ran twice
