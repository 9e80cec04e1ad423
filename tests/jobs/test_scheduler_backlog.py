"""A backlog on Dask is not a loss: queued runs past ``queued_after`` that Dask still holds
are left to run; a queued run whose task Dask does not know is failed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from distributed import LocalCluster
from typer.testing import CliRunner

from omega_jupyter.client import Omega
from omega_jupyter.jobs.scheduler import Scheduler
from tests.jobs.test_jobs import make_notebook


def test_runs_queued_behind_a_long_run_are_not_failed(om):
    cluster = LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address="127.0.0.1:0"
    )
    try:
        client = Omega(om.settings.replace(dask_address=cluster.scheduler_address, warm_kernels=0))
        client.jobs.put(make_notebook("import time\ntime.sleep(8)"), "long")
        client.jobs.put(make_notebook("y = x"), "quick")
        long_run = client.runtime.job("long").run()
        backlog = [client.runtime.job("quick").run(parameters={"x": i}) for i in range(3)]
        lost = client.runtime.runs_store.create("job", "quick", "run")  # never sent to Dask
        _wait_state(long_run, "running")
        loop = Scheduler(client, buckets=[client.bucket], stale_after=3600, queued_after=1)
        later = datetime.now(UTC) + timedelta(minutes=10)  # far beyond the cutoff
        loop.reconciler.reconcile(later)
        states = {h.id: h.record.state for h in backlog}
        assert set(states.values()) == {"queued"}, states  # held by Dask: not failed
        record = client.runtime.run_record(lost)
        assert record.state == "failed"
        assert "queue and Dask no longer holds its task" in record.error
        for handle in [long_run, *backlog]:
            assert handle.wait(600).status == "succeeded", handle.record.error
    finally:
        cluster.close()


def _wait_state(handle, state: str, timeout: float = 300) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if handle.record.state == state:
            return
        time.sleep(0.1)
    pytest.fail(f"run never became {state}: {handle.record.state}")


def test_scheduler_timeouts_are_options_and_settings(monkeypatch):
    from omega_jupyter.cli import app

    result = CliRunner().invoke(app, ["scheduler", "--help"], env={"COLUMNS": "200"})
    assert "--queued-after" in result.output and "--stale-after" in result.output
    from omega_jupyter.settings import Settings

    monkeypatch.setenv("OMEGA_QUEUED_AFTER_SECONDS", "900")
    monkeypatch.setenv("OMEGA_STALE_AFTER_SECONDS", "30")
    settings = Settings.resolve()
    assert (settings.queued_after_seconds, settings.stale_after_seconds) == (900, 30)
