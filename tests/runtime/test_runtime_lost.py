"""Runs that lose their worker, whatever their kind: failed with a clear reason within a few
missed heartbeats whoever watches, retried per ``max_retries`` (a new attempt that names the
previous one), and retried once however many reconcilers look. SQLite and PostgreSQL; real
worker processes are killed (a process-based LocalCluster, as in test_runtime_kill.py).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from sklearn.base import BaseEstimator
from sklearn.linear_model import LinearRegression

from omega_jupyter.client import Omega
from omega_jupyter.exceptions import InvalidParameterError
from omega_jupyter.runtime.reconcile import ReconcileLoop, RunReconciler
from omega_jupyter.runtime.tables import runs
from omega_jupyter.storage.metadata import now
from tests.jobs.test_jobs import make_notebook
from tests.scripts.test_scripts import RUN, put_script

WAIT = 120  # seconds; generous on a loaded machine, never reached when things work


def _process_cluster():  # type: ignore[no-untyped-def]
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    )


@pytest.fixture(scope="module")
def process_cluster():  # type: ignore[no-untyped-def]
    cluster = _process_cluster()
    yield cluster
    cluster.close()


def _client(om: Omega, cluster) -> Omega:  # type: ignore[no-untyped-def]
    settings = om.settings.replace(dask_address=cluster.scheduler_address, trust_pickle=True)
    return Omega(settings)


def _eventually(predicate, what: str, timeout: float = WAIT):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.1)
    return value


def _kill_worker_of(om: Omega, run_id: str) -> None:
    """SIGKILL the worker process running ``run_id`` (once it runs)."""
    store = om.runtime.runs_store
    record = _eventually(lambda: (r := store.get(run_id)).state == "running" and r, "running run")
    pid = int(record.worker.rsplit("pid=", 1)[1])
    assert pid != os.getpid()
    os.kill(pid, signal.SIGKILL)


# -- real workers killed ---------------------------------------------------------------------
class OnceSlowEstimator(BaseEstimator):
    """Its first fit (no ``marker`` file yet) takes a minute; later fits are quick."""

    def __init__(self, marker: str = "") -> None:
        self.marker = marker

    def fit(self, X, y=None):  # type: ignore[no-untyped-def]
        marker = Path(self.marker)
        if not marker.exists():
            marker.touch()
            time.sleep(60)
        return self


def test_a_fit_whose_worker_is_killed_is_retried_and_records_its_attempts(
    om: Omega, process_cluster, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    client = _client(om, process_cluster)
    client.datasets.put(np.zeros((10, 2)), "X")
    model = OnceSlowEstimator(str(tmp_path / "fitted-once"))
    client.models.put(model, "once", serializer="joblib")
    handle = client.runtime.model("once").fit("X", max_retries=1)
    _kill_worker_of(client, handle.id)
    assert handle.result(timeout=WAIT).version == 2  # the retry fitted and saved it
    first, second = handle.attempts
    assert (first.id, second.retry_of, handle.record.id) == (handle.id, handle.id, second.id)
    assert first.state == "failed" and second.state == "succeeded"
    assert first.error.startswith("the worker running this run stopped sending heartbeats")
    assert first.error.endswith("; attempt 1 (retried)")
    assert (second.attempt, second.max_retries) == (2, 1)
    assert client.runtime.run(second.id).attempts == handle.attempts
    # the input staged for the run is dropped once the retry ended
    assert not [n for n in client.datasets.list() if n.startswith("_tmp")]


def test_a_notebook_whose_worker_is_killed_fails_with_the_reason(
    om: Omega, process_cluster
) -> None:  # type: ignore[no-untyped-def]
    client = _client(om, process_cluster)
    client.jobs.put(make_notebook("import time\ntime.sleep(30)"), "sleepy")
    handle = client.runtime.job("sleepy").run()  # max_retries defaults to 0 for notebooks
    _kill_worker_of(client, handle.id)
    record = handle.wait(WAIT).record
    assert record.id == handle.id and record.state == "failed"
    assert record.error.startswith(
        "the worker running this notebook stopped sending heartbeats (last at "
    )
    assert record.error.endswith("; attempt 1")
    assert [a.id for a in handle.attempts] == [handle.id]


def test_a_notebook_retried_after_its_worker_died_succeeds(
    om: Omega, process_cluster, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    client = _client(om, process_cluster)
    marker = tmp_path / "attempted"
    source = (
        f"import pathlib, time\nmarker = pathlib.Path({str(marker)!r})\n"
        "first = not marker.exists()\nmarker.touch()\nif first:\n    time.sleep(60)"
    )
    client.jobs.put(make_notebook(source), "once-slow")
    handle = client.runtime.job("once-slow").run(max_retries=2)
    _eventually(marker.exists, "first attempt")
    _kill_worker_of(client, handle.id)
    assert handle.wait(WAIT).status == "succeeded"
    first, second = handle.attempts
    assert first.state == "failed" and first.error.endswith("; attempt 1 (retried)")
    assert (second.state, second.attempt, second.retry_of) == ("succeeded", 2, handle.id)
    assert client.jobs.result(second.id)  # the retry's executed notebook is kept


def test_all_workers_gone_fails_the_run_with_nobody_watching(om: Omega, tmp_path) -> None:
    """No handle is polled: a server's reconcile loop fails the run within a few beats."""
    cluster = _process_cluster()
    try:
        client = _client(om, cluster)
        client.jobs.put(make_notebook("import time\ntime.sleep(30)"), "sleepy")
        run_id = client.runtime.job("sleepy").run().id  # the handle is dropped here
        _kill_worker_of(client, run_id)
    finally:
        cluster.close()  # the nanny, the scheduler: nothing re-runs the task
    loop = ReconcileLoop(Omega(om.settings), every=1).start()  # as in a server
    try:
        store = om.runtime.runs_store
        record = _eventually(lambda: (r := store.get(run_id)).done and r, "failed run")
    finally:
        loop.stop()
    assert record.state == "failed"
    assert record.error.startswith("the worker running this run stopped sending heartbeats")
    assert record.finished - record.heartbeat < timedelta(seconds=WAIT)


# -- policy and concurrency ------------------------------------------------------------------
def test_max_retries_defaults_and_bad_values(om: Omega, dask_cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    client = Omega(om.settings.replace(dask_address=dask_cluster.scheduler_address))
    client.datasets.put(np.zeros((4, 1)), "X")
    client.datasets.put(np.zeros(4), "Y")
    client.models.put(LinearRegression(), "lr")
    model = client.runtime.model("lr")
    fit = model.fit("X", "Y")
    fit.result(timeout=WAIT)
    predict = model.predict("X")
    never = model.predict("X", max_retries=0)
    twice = model.fit("X", "Y", max_retries=2)
    client.jobs.put(make_notebook(), "nb")
    job = client.runtime.job("nb").run()
    put_script(client, RUN, "etl", tmp_path)
    script = client.runtime.script("etl").run(max_retries=3)
    store = client.runtime.runs_store
    retries = {h.id: store.get(h.id).max_retries for h in (fit, predict, never, twice, job, script)}
    assert list(retries.values()) == [0, 1, 0, 2, 0, 3]
    assert "max_retries" not in store.get(script.id).parameters  # not passed to run()
    for handle in (predict, never, twice, job, script):
        handle.wait(WAIT)
    before = store.count()
    for bad in (-1, 1.5, "2", True):
        with pytest.raises(InvalidParameterError, match="max_retries"):
            model.predict("X", max_retries=bad)
        with pytest.raises(InvalidParameterError, match="max_retries"):
            client.runtime.job("nb").run(max_retries=bad)
    assert store.count() == before  # refused before anything was recorded


def _lost_run(om: Omega, max_retries: int, **values: object) -> str:
    store = om.runtime.runs_store
    run_id = store.create("model", "clf", "predict", max_retries=max_retries, task={})
    stamp = now() - timedelta(seconds=100)
    values = {"state": "running", "started": stamp, "attempt": 1, "heartbeat": stamp, **values}
    with om.db.begin() as conn:
        conn.execute(sa.update(runs).where(runs.c.id == run_id).values(**values))
    return run_id


def _concurrently(om: Omega, count: int = 4) -> list:
    """``count`` reconcilers (as many loops, servers and handles) reconcile at once."""
    barrier = threading.Barrier(count)
    found: list = []

    def reconcile() -> None:
        reconciler = RunReconciler(om.db, buckets=[om.bucket])
        barrier.wait()
        found.extend(reconciler.reconcile(now()))

    threads = [threading.Thread(target=reconcile) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return found


def test_concurrent_reconcilers_retry_a_lost_run_once(om: Omega) -> None:
    store = om.runtime.runs_store
    stale = _lost_run(om, max_retries=1)
    (retry,) = _concurrently(om)
    assert (retry.kind, retry.target, retry.task) == ("model", "clf", {})
    first, second = store.attempts(stale)
    assert first.error.endswith("; attempt 1 (retried)") and second.id == retry.run_id
    assert (second.state, second.attempt, second.retry_of, second.max_retries) == (
        "queued",
        1,
        stale,
        1,
    )
    assert _concurrently(om) == []  # nothing left to do


def test_concurrent_reconcilers_retry_a_run_failed_by_its_task_once(om: Omega) -> None:
    """A copy of the task that Dask re-ran failed the run (its worker died): retried once."""
    error = "the worker running this run stopped sending heartbeats (last at …); attempt 1"
    run_id = _lost_run(om, max_retries=1, state="failed", error=error)
    (retry,) = _concurrently(om)
    assert om.runtime.runs_store.retry(run_id) == retry.run_id
    assert om.runtime.runs_store.get(run_id).error == error + " (retried)"
    assert _concurrently(om) == []


def test_retries_used_up_or_not_lost_are_not_retried(om: Omega) -> None:
    store = om.runtime.runs_store
    exhausted = _lost_run(om, max_retries=1, attempt=2)  # the second attempt was lost too
    never = _lost_run(om, max_retries=0)
    own_error = _lost_run(om, max_retries=3, state="failed", error="ValueError: bad input")
    assert _concurrently(om, 2) == []
    for run_id in (exhausted, never):
        record = store.get(run_id)
        assert record.state == "failed" and not record.error.endswith("(retried)")
        assert store.retry(run_id) is None
    assert store.get(exhausted).error.endswith("; attempt 2")
    assert store.retry(own_error) is None  # a run whose own code failed fails for good


def test_a_handle_retries_its_lost_run_where_it_was_routed(om: Omega, dask_cluster) -> None:  # type: ignore[no-untyped-def]
    """Nobody else reconciles: waiting on the handle fails the lost run and sends its retry,
    with what the first attempt was sent, to workers with the resources it asked for."""
    client = Omega(om.settings.replace(dask_address=dask_cluster.scheduler_address))
    client.models.put(LinearRegression().fit(np.arange(4.0)[:, None], np.arange(4.0)), "lr")
    gpu = client.runtime.require({"GPU": 1})
    done = gpu.model("lr").predict(np.ones((2, 1)))  # staged in memory, dropped at its end
    expected = done.result(timeout=WAIT)
    # the same call once more, as if its worker had died a minute after it started
    store = client.runtime.runs_store
    first = store.get(done.id)
    with client.db.begin() as conn:
        row = conn.execute(sa.select(runs).where(runs.c.id == first.id)).one()._mapping
        stamp = now() - timedelta(seconds=60)
        values = {**row, "id": "lost" + first.id[4:], "state": "running", "finished": None}
        values.update(result=None, started=stamp, heartbeat=stamp, attempt=1)
        task = dict(values["task"])
        task["X"] = {"ref": "Xlost", "role": "X", "temporary": True}
        values["task"] = {**task, "temporary": ["Xlost"]}
        conn.execute(sa.insert(runs).values(**values))
    client.datasets.put(np.ones((2, 1)), "Xlost")
    handle = client.runtime.run(values["id"])
    np.testing.assert_allclose(handle.result(timeout=WAIT), expected)
    lost, retry = handle.attempts
    assert lost.error.startswith("the worker running this run stopped sending heartbeats")
    assert (retry.retry_of, retry.resources, retry.state) == (lost.id, {"GPU": 1}, "succeeded")
    assert not client.datasets.exists("Xlost")  # the retry dropped the input staged for both
