"""Runtime results published to a stream (``predict(..., result_stream=)``) on a real Dask
LocalCluster, on both databases: a follower reacts to each run's outcome."""

from __future__ import annotations

import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from omega_jupyter.client import Omega
from omega_jupyter.exceptions import InvalidNameError, RunFailedError

WAIT = 120  # seconds; generous on a loaded machine, never reached when things work


@pytest.fixture
def omr(om: Omega, dask_cluster) -> Omega:  # type: ignore[no-untyped-def]
    client = Omega(om.settings.replace(dask_address=dask_cluster.scheduler_address))
    X, y = load_iris(return_X_y=True, as_frame=True)
    client.datasets.put(X.assign(target=y), "iris")
    client.models.put(LogisticRegression(max_iter=500), "clf")
    client.runtime.model("clf").fit("iris[^target]", "iris[target]").result(timeout=WAIT)
    return client


def test_predict_publishes_its_outcome_to_a_stream(omr: Omega) -> None:
    events = omr.streams.create("predictions")
    follower = events.follow(group="reactor", timeout=WAIT)
    handle = omr.runtime.model("clf").predict("iris[^target]", result_stream="predictions")
    predicted = handle.result(timeout=WAIT)
    message = next(follower)
    assert message.data["run_id"] == handle.id and message.data["state"] == "succeeded"
    assert (message.data["model"], message.data["action"]) == ("clf", "predict")
    assert message.data["version"] == 2
    # the shape notebook and script runs publish too (model actions publish "finished" only)
    assert (message.data["event"], message.data["kind"], message.data["name"]) == (
        "finished",
        "model",
        "clf",
    )
    assert message.data["error"] is None and message.data["duration"] >= 0
    assert message.data["result"]["data"] == predicted.tolist()
    # a failing run is published too, with its error
    bad = omr.runtime.model("clf").predict("iris[target]", result_stream="predictions")
    with pytest.raises(RunFailedError):
        bad.result(timeout=WAIT)
    failed = next(follower)
    assert failed.data["run_id"] == bad.id and failed.data["state"] == "failed"
    assert failed.data["error"]
    follower.close()
    with pytest.raises(InvalidNameError):
        omr.runtime.model("clf").predict("iris[^target]", result_stream="a@b")
