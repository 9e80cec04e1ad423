"""A run that ends without its task — failed by the scheduler's reconciler, refused by an
unreachable Dask, cancelled before it started — still publishes ``finished`` to the stream it
names, once; the run row records that stream. SQLite and PostgreSQL; real Dask where a run is
submitted."""

from __future__ import annotations

import time
from datetime import timedelta

import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.linear_model import LogisticRegression

from omega_jupyter.client import Omega
from omega_jupyter.exceptions import RuntimeUnavailableError
from omega_jupyter.jobs.tables import runs
from omega_jupyter.runtime.reconcile import RunReconciler
from omega_jupyter.storage.metadata import now
from omega_jupyter.streams.store import StreamStore
from tests.jobs.test_jobs import make_notebook
from tests.scripts.test_scripts import RUN, put_script

WAIT = 120  # seconds; generous on a loaded machine, never reached when things work
UNREACHABLE = "tcp://127.0.0.1:9"


@pytest.fixture
def omd(om: Omega, dask_cluster) -> Omega:  # type: ignore[no-untyped-def]
    return Omega(om.settings.replace(dask_address=dask_cluster.scheduler_address))


def published(om: Omega, stream: str) -> list[dict]:
    if not om.streams.exists(stream):
        return []
    return [m.data for m in om.streams.get(stream).read()]


def finished(run_id: str, kind: str, name: str, state: str, error: str, **more: object) -> dict:
    """The ``finished`` message of a run that ended without its task (as a task's, with no
    duration and no result)."""
    return {
        "event": "finished",
        "run_id": run_id,
        "kind": kind,
        "name": name,
        "action": "run",
        "version": None,
        "state": state,
        "error": error,
        "duration": None,
        "result": None,
        **more,
    }


def _age(om: Omega, run_id: str, **values: object) -> None:
    with om.db.begin() as conn:
        conn.execute(sa.update(runs).where(runs.c.id == run_id).values(**values))


def test_reconciler_publishes_finished_for_the_runs_it_fails(om: Omega) -> None:
    store = om.runtime.runs_store
    stamp = now()
    running = store.create("job", "report", "run", target_version=2, result_stream="events")
    queued = store.create("script", "etl", "run", result_stream="events")
    silent = store.create("job", "report", "run")  # names no stream
    fresh = store.create("job", "report", "run", result_stream="events")
    # a worker started two of them, then died: heartbeats stop; one run was never picked up
    _age(om, running, state="running", heartbeat=stamp - timedelta(seconds=100))
    _age(om, silent, state="running", heartbeat=stamp - timedelta(seconds=100))
    _age(om, fresh, state="running", heartbeat=stamp)
    _age(om, queued, submitted=stamp - timedelta(seconds=1000))
    reconciler = RunReconciler(om.db, stale_after=10, queued_after=600, buckets=[om.bucket])
    assert reconciler.reconcile(stamp) == []

    records = {run_id: store.get(run_id) for run_id in (running, queued, silent, fresh)}
    assert [records[r].state for r in (running, queued, silent, fresh)] == [
        "failed",
        "failed",
        "failed",
        "running",
    ]
    error = records[running].error
    assert error.startswith("the worker running this run stopped sending heartbeats (last at ")
    assert error.endswith("; attempt 1")
    assert records[queued].error.startswith("the run waited over 600 s in the queue")
    messages = sorted(published(om, "events"), key=lambda m: m["run_id"] != running)
    assert messages == [
        {**finished(running, "job", "report", "failed", error), "version": 2},
        finished(queued, "script", "etl", "failed", records[queued].error),
    ]

    # reconciled once; late copies of their tasks skip them: nothing is published twice
    assert reconciler.reconcile(stamp + timedelta(seconds=1)) == []
    assert store.begin(queued, "late-worker")[0] == "skip"
    assert store.begin(running, "late-worker", watch_seconds=0)[0] == "skip"
    assert len(published(om, "events")) == 2


def test_reconciler_fails_lost_model_runs_too(om: Omega) -> None:
    store = om.runtime.runs_store
    stamp = now()
    run_id = store.create("model", "clf", "fit", target_version=1, result_stream="events")
    _age(om, run_id, state="running", heartbeat=stamp - timedelta(seconds=100))
    RunReconciler(om.db, stale_after=10, buckets=[om.bucket]).reconcile(stamp)
    record = store.get(run_id)
    assert record.state == "failed" and "stopped sending heartbeats" in record.error
    # published as its task would have: a model action's messages also name the model
    assert published(om, "events") == [
        {
            **finished(run_id, "model", "clf", "failed", record.error, model="clf"),
            "action": "fit",
            "version": 1,
        }
    ]


def test_reconciler_publishes_with_a_given_client_into_the_runs_bucket(om: Omega) -> None:
    run_id = om.runtime.runs_store.create("job", "report", "run", result_stream="events")
    _age(om, run_id, state="running", heartbeat=now() - timedelta(seconds=100))
    other = om["elsewhere"]
    reconciler = RunReconciler(om.db, stale_after=10, buckets=[om.bucket], om=other)
    reconciler.reconcile(now())
    (message,) = published(om, "events")
    assert (message["run_id"], message["state"]) == (run_id, "failed")
    assert not other.streams.exists("events")


def test_reconciler_fails_the_run_even_if_publishing_fails(
    om: Omega, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(self, obj, name, many=False):  # type: ignore[no-untyped-def]
        raise OSError("stream store unreachable")

    run_id = om.runtime.runs_store.create("job", "report", "run", result_stream="events")
    _age(om, run_id, state="running", heartbeat=now() - timedelta(seconds=100))
    monkeypatch.setattr(StreamStore, "put", unreachable)
    RunReconciler(om.db, stale_after=10, buckets=[om.bucket]).reconcile(now())
    assert om.runtime.runs_store.get(run_id).state == "failed"
    (line,) = om.logger.dataframe(level="WARNING", run=run_id)["message"].tolist()
    assert "could not publish 'finished'" in line and "stream store unreachable" in line


def test_unreachable_dask_publishes_finished_failed(om: Omega) -> None:
    om.jobs.put(make_notebook("y = 1"), "report")
    put_script(om, "VERSION = 1\n" + RUN)
    X = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    om.models.put(LogisticRegression().fit(X, [0, 0, 1, 1]), "tiny")
    om.datasets.put(X, "X")
    away = Omega(om.settings.replace(dask_address=UNREACHABLE))
    with pytest.raises(RuntimeUnavailableError):
        away.runtime.job("report").run(result_stream="events")
    with pytest.raises(RuntimeUnavailableError):
        away.runtime.script("myscript").run(result_stream="events")
    with pytest.raises(RuntimeUnavailableError) as refused:
        away.runtime.model("tiny").predict("X", result_stream="events")

    frame = om.runtime.runs()
    ids = dict(zip(frame["kind"], frame["id"], strict=True))
    records = {kind: om.runtime.run(run_id).record for kind, run_id in ids.items()}
    assert {k: (r.state, r.result_stream) for k, r in records.items()} == {
        "job": ("failed", "events"),
        "script": ("failed", "events"),
        "model": ("failed", "events"),
    }
    assert ids["model"] == refused.value.run_id  # type: ignore[attr-defined]
    assert all(UNREACHABLE.removeprefix("tcp://") in r.error for r in records.values())
    by_run = {m["run_id"]: m for m in published(om, "events")}
    job, script, model = (records[k].error for k in ("job", "script", "model"))
    assert by_run == {
        ids["job"]: {**finished(ids["job"], "job", "report", "failed", job), "version": 1},
        ids["script"]: {
            **finished(ids["script"], "script", "myscript", "failed", script),
            "version": 1,
        },
        # refused before its version was resolved: the row, like the message, has none
        ids["model"]: {
            **finished(ids["model"], "model", "tiny", "failed", model, model="tiny"),
            "action": "predict",
        },
    }


def test_cancel_of_a_queued_run_publishes_cancelled(omd: Omega) -> None:
    omd.jobs.put(make_notebook("y = 1"), "report")
    # no worker offers a TPU: the run stays queued until cancelled
    handle = omd.runtime.require("TPU").job("report").run(result_stream="events")
    assert handle.status == "queued" and handle.record.result_stream == "events"
    assert handle.cancel() and not handle.cancel()
    assert omd.runtime.run(handle.id).status == "cancelled"
    assert published(omd, "events") == [
        {**finished(handle.id, "job", "report", "cancelled", "cancelled"), "version": 1}
    ]

    # a run without a stream publishes nothing
    quiet = omd.runtime.require("TPU").job("report").run()
    assert quiet.record.result_stream is None and quiet.cancel()
    assert len(published(omd, "events")) == 1


def test_cancel_of_a_running_run_is_published_once(omd: Omega) -> None:
    omd.jobs.put(make_notebook("import time\ntime.sleep(2)"), "slow")
    events = omd.streams.create("events")
    follower = events.follow(group="reactor", timeout=WAIT)
    handle = omd.runtime.job("slow").run(result_stream="events")
    assert next(follower).data["event"] == "started"
    assert handle.cancel()
    message = next(follower).data  # published by the cancel
    follower.close()
    # the task goes on to the end of its notebook, keeps it, and publishes nothing
    deadline = time.monotonic() + WAIT
    while handle.id not in omd.jobs.results("slow")["run_id"].tolist():
        assert time.monotonic() < deadline, "the cancelled task never ended"
        time.sleep(0.2)
    time.sleep(1.0)  # the moment in which a task would publish after keeping its notebook
    assert omd.runtime.run(handle.id).status == "cancelled"
    assert (message["event"], message["run_id"], message["state"]) == (
        "finished",
        handle.id,
        "cancelled",
    )
    assert [m.data["event"] for m in events.read()] == ["started", "finished"]
