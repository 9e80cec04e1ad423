"""Tracked fits and predictions on a real Dask LocalCluster, on both databases: a fit with
``experiment=`` is a run of that experiment linked to the runtime run and the new model
version; a tracked model's predictions log inputs, outputs and latency."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from omega_jupyter.client import Omega
from omega_jupyter.exceptions import InvalidNameError, ObjectNotFoundError
from omega_jupyter.experiments.tables import events

WAIT = 120


@pytest.fixture
def omr(om: Omega, dask_cluster) -> Omega:  # type: ignore[no-untyped-def]
    client = Omega(om.settings.replace(dask_address=dask_cluster.scheduler_address))
    X, y = load_iris(return_X_y=True, as_frame=True)
    client.datasets.put(X, "iris_X")
    client.datasets.put(y.to_frame("target"), "iris_y")
    client.models.put(LogisticRegression(max_iter=300, C=0.5), "iris_lr")
    return client


def test_a_fit_with_an_experiment_logs_a_linked_run(omr: Omega) -> None:
    handle = omr.runtime.model("iris_lr").fit("iris_X", "iris_y", experiment="iris")
    fitted = handle.result(timeout=WAIT)
    exp = omr.runtime.experiment("iris")
    [run] = exp.runs().to_dict("records")
    assert run["status"] == "succeeded" and run["runtime_run"] == handle.id
    assert (run["model"], run["dataset"]) == ("iris_lr", "iris_X")
    assert run["param.C"] == 0.5 and run["param.max_iter"] == 300
    assert run["metric.fit_seconds"] > 0 and run["metric.rows"] == 150
    assert 0.8 < run["metric.train_score"] <= 1.0
    artifact = exp.data(event="artifact", run=1)
    assert artifact["value"].iloc[0]["version"] == fitted.version
    assert artifact["model_version"].iloc[0] == fitted.version
    assert handle.record.parameters["experiment"] == "iris"
    # bad input: a clear error, no run recorded, no event written
    runs_before = omr.runtime.run_count()
    with pytest.raises(InvalidNameError):
        omr.runtime.model("iris_lr").fit("iris_X", "iris_y", experiment="bad[")
    assert omr.runtime.run_count() == runs_before


def test_a_tracked_model_logs_its_fits_and_predictions(omr: Omega) -> None:
    assert omr.models.track("iris_lr", "iris-prod") == [1]
    assert omr.models.tracking("iris_lr") == "iris-prod"
    fitted = omr.runtime.model("iris_lr").fit("iris_X", "iris_y").result(timeout=WAIT)
    assert omr.models.tracking("iris_lr") == "iris-prod"  # the new version inherits it
    X = load_iris(as_frame=True).data.head(7)
    handle = omr.runtime.model("iris_lr").predict(X)
    predicted = handle.result(timeout=WAIT)
    exp = omr.runtime.experiment("iris-prod")
    assert exp.runs()["run"].tolist() == [1]  # the fit
    [event] = exp.data(event="predict", run="*").to_dict("records")
    assert (event["model"], event["model_version"]) == ("iris_lr", fitted.version)
    assert event["runtime_run"] == handle.id and event["key"] == "predict"
    assert pd.isna(event["run"])  # predictions are outside the experiment's runs
    data = exp.data(event="predict", run="*")["value"]
    assert data.dtype == float and data.iloc[0] >= 0  # latency in seconds
    # the sample of inputs and outputs is in the JSON column
    with omr.db.connect() as conn:
        stored = conn.execute(
            sa.select(events.c.data).where(
                events.c.bucket == omr.bucket, events.c.event == "predict"
            )
        ).scalar_one()
    assert stored["rows"] == 7 and stored["inputs"]["columns"] == list(X.columns)
    assert stored["inputs"]["data"][0] == X.iloc[0].tolist()
    assert stored["outputs"] == list(predicted)
    assert omr.models.track("iris_lr", None) == [1, 2]
    assert omr.models.tracking("iris_lr") is None
    with pytest.raises(ObjectNotFoundError):
        omr.models.track("nothing", "x")
