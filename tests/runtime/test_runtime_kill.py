"""A worker process killed in the middle of a run: the run ends failed, nothing hangs.

Uses its own process-based LocalCluster (one worker process), since a thread worker cannot be
killed on its own.
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest
from sklearn.base import BaseEstimator

from omega_jupyter.client import Omega
from omega_jupyter.exceptions import RunFailedError

WAIT = 120


class SlowEstimator(BaseEstimator):
    """Fits for ``seconds``; stored with joblib (skops does not know it)."""

    def __init__(self, seconds: float = 60.0) -> None:
        self.seconds = seconds

    def fit(self, X, y=None):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + self.seconds
        while time.monotonic() < deadline:
            time.sleep(0.05)
        return self


@pytest.fixture(scope="module")
def process_cluster():  # type: ignore[no-untyped-def]
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    )
    yield cluster
    cluster.close()


def _wait_running(handle, timeout: float = WAIT) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while handle.status != "running":
        assert time.monotonic() < deadline, f"run stayed {handle.status}"
        time.sleep(0.05)


def test_killed_worker_fails_the_run(om: Omega, process_cluster) -> None:  # type: ignore[no-untyped-def]
    client = Omega(
        om.settings.replace(dask_address=process_cluster.scheduler_address, trust_pickle=True)
    )
    client.datasets.put(np.zeros((10, 2)), "X")
    client.models.put(SlowEstimator(), "slow", serializer="joblib")
    handle = client.runtime.model("slow").fit("X")
    _wait_running(handle)
    pid = int(handle.record.worker.rsplit("pid=", 1)[1])
    assert pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(RunFailedError) as info:
        handle.result(timeout=WAIT)
    assert info.value.state == "failed"
    rebuilt = client.runtime.run(handle.id)
    assert rebuilt.status == "failed" and rebuilt.record.error
    assert client.models.metadata("slow").version == 1
    # The restarted worker takes new work.
    client.models.put(SlowEstimator(seconds=0), "quick", serializer="joblib")
    assert client.runtime.model("quick").fit("X").result(timeout=WAIT).version == 2
