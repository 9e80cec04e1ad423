"""The runtime on a real Dask LocalCluster: fits and predictions as recorded runs, on both
databases. Workers read data and models from the database themselves."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from omega_jupyter.client import Omega
from omega_jupyter.exceptions import (
    ObjectNotFoundError,
    RunFailedError,
    RunNotFoundError,
    RunTimeoutError,
    RuntimeUnavailableError,
)
from omega_jupyter.storage.metadata import Metadata

WAIT = 120  # seconds; generous on a loaded 2-core machine, never reached when things work


@pytest.fixture
def omr(om: Omega, dask_cluster) -> Omega:  # type: ignore[no-untyped-def]
    """A client whose runtime uses the session's Dask cluster, with iris stored."""
    client = Omega(om.settings.replace(dask_address=dask_cluster.scheduler_address))
    X, y = load_iris(return_X_y=True, as_frame=True)
    client.datasets.put(X.assign(target=y), "iris")
    return client


def _iris() -> tuple[pd.DataFrame, pd.Series]:
    return load_iris(return_X_y=True, as_frame=True)


def test_fit_then_predict_records_runs(omr: Omega) -> None:
    omr.models.put(LogisticRegression(max_iter=500), "clf")
    handle = omr.runtime.model("clf").fit("iris[^target]", "iris[target]")
    fitted = handle.result(timeout=WAIT)
    assert isinstance(fitted, Metadata) and fitted.version == 2
    lineage = fitted.attributes["lineage"]
    assert lineage["run_id"] == handle.id and lineage["source_version"] == 1
    assert [(d["name"], d["version"], d["role"]) for d in lineage["datasets"]] == [
        ("iris", 1, "X"),
        ("iris", 1, "Y"),
    ]
    assert fitted.kind_meta["signature"]["columns"] == list(_iris()[0].columns)
    run = handle.record
    assert (run.state, run.kind, run.target, run.target_version) == ("succeeded", "model", "clf", 1)
    assert run.action == "fit" and run.attempt == 1 and "pid=" in run.worker
    assert run.submitted <= run.started <= run.finished
    assert run.parameters["X"] == "iris[^target]"

    X, y = _iris()
    expected = LogisticRegression(max_iter=500).fit(X, y).predict(X)
    predicted = omr.runtime.model("clf").predict("iris[^target]").result(timeout=WAIT)
    np.testing.assert_array_equal(predicted, expected)
    proba = omr.runtime.model("clf@2").predict_proba("iris[^target]").result(timeout=WAIT)
    assert proba.shape == (150, 3)
    score = omr.runtime.model("clf").score("iris[^target]", "iris[target]").result(timeout=WAIT)
    assert isinstance(score, float) and score > 0.9
    runs = omr.runtime.runs()
    assert runs["action"].tolist() == ["score", "predict_proba", "predict", "fit"]
    assert set(runs["state"]) == {"succeeded"}
    assert "1" in omr.models.versions("clf")["lineage"].iloc[1]


def test_predict_result_as_dataset_and_in_memory_inputs(omr: Omega) -> None:
    X, y = _iris()
    omr.models.put(make_pipeline(StandardScaler(), LogisticRegression()), "pipe")
    omr.runtime.model("pipe").fit(X, y).result(timeout=WAIT)
    assert omr.models.metadata("pipe").attributes["lineage"]["datasets"][0]["name"] == "(in-memory)"
    handle = omr.runtime.model("pipe").predict(X.iloc[:10], result_name="scores")
    out = handle.result(timeout=WAIT)
    assert handle.record.result["type"] == "dataset"
    assert omr.datasets.exists("scores") and len(out) == 10
    assert not [n for n in omr.datasets.list() if n.startswith("_tmp/")]


def test_transform_and_fit_transform(omr: Omega) -> None:
    omr.models.put(StandardScaler(), "scaler")
    out = omr.runtime.model("scaler").fit_transform("iris[^target]").result(timeout=WAIT)
    assert out.shape == (150, 4) and abs(out.mean()) < 1e-9
    assert omr.models.metadata("scaler").version == 2
    again = omr.runtime.model("scaler").transform("iris[^target]").result(timeout=WAIT)
    np.testing.assert_allclose(again, out)


def test_stdout_of_a_run_is_logged_with_its_run_id(omr: Omega) -> None:
    omr.models.put(MLPClassifier(hidden_layer_sizes=(3,), max_iter=3, verbose=True), "mlp")
    handle = omr.runtime.model("mlp").fit("iris[^target]", "iris[target]")
    handle.result(timeout=WAIT)
    lines = omr.logger.dataframe(run=handle.id)
    assert lines["message"].str.contains("Iteration 1, loss").any()
    assert (lines["run_id"] == handle.id).all()


def test_handle_rebuilt_in_another_process(omr: Omega) -> None:
    omr.models.put(LogisticRegression(max_iter=500), "clf")
    handle = omr.runtime.model("clf").fit("iris[^target]", "iris[target]")
    handle.wait(timeout=WAIT)
    code = (
        "import json, sys, omega_jupyter as o\n"
        "om = o.setup(url=sys.argv[1], bucket=sys.argv[2], home=sys.argv[3])\n"
        "h = om.runtime.run(sys.argv[4])\n"
        "print(json.dumps([h.status, h.result().version]))\n"
    )
    args = [omr.settings.resolved_database_url, omr.bucket, str(omr.settings.home), handle.id]
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=WAIT
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["succeeded", 2]
    with pytest.raises(RunNotFoundError):
        omr.runtime.run("0" * 32)


def test_bad_input_is_a_failed_run(omr: Omega) -> None:
    with pytest.raises(ObjectNotFoundError, match="model 'nope' does not exist"):
        omr.runtime.model("nope").fit("iris[^target]", "iris[target]")
    omr.models.put(StandardScaler(), "scaler")
    with pytest.raises(ObjectNotFoundError, match="dataset 'missing' does not exist"):
        omr.runtime.model("scaler").fit("missing")
    failed = omr.runtime.runs(state="failed")
    assert len(failed) == 2 and failed["error"].str.contains("does not exist").all()
    assert omr.models.metadata("scaler").version == 1

    handle = omr.runtime.model("scaler").predict("iris[^target]")
    with pytest.raises(RunFailedError, match="has no method 'predict'"):
        handle.result(timeout=WAIT)
    assert handle.status == "failed" and "Traceback" in handle.record.traceback


def test_predict_input_is_checked_against_the_signature(omr: Omega) -> None:
    omr.models.put(LogisticRegression(max_iter=500), "clf")
    omr.runtime.model("clf").fit("iris[^target]", "iris[target]").result(timeout=WAIT)
    X, _y = _iris()
    shuffled = X[X.columns[::-1]]  # reordered columns are put back in order
    assert len(omr.runtime.model("clf").predict(shuffled).result(timeout=WAIT)) == 150
    handle = omr.runtime.model("clf").predict(X.drop(columns=["petal width (cm)"]))
    with pytest.raises(RunFailedError, match=r"lacks column\(s\) petal width \(cm\)"):
        handle.result(timeout=WAIT)


def test_untrusted_pickle_fails_the_run(omr: Omega) -> None:
    omr.models.put(LogisticRegression(), "pickled", serializer="joblib")
    handle = omr.runtime.model("pickled").fit("iris[^target]", "iris[target]")
    with pytest.raises(RunFailedError, match="OMEGA_TRUST_PICKLE"):
        handle.result(timeout=WAIT)
    trusting = Omega(omr.settings.replace(trust_pickle=True))
    meta = trusting.runtime.model("pickled").fit("iris[^target]", "iris[target]").result(WAIT)
    assert meta.kind_meta["format"] == "joblib" and meta.version == 2


def test_unreachable_scheduler_names_the_address(omr: Omega) -> None:
    omr.models.put(StandardScaler(), "scaler")
    away = Omega(omr.settings.replace(dask_address="tcp://127.0.0.1:9"))
    with pytest.raises(RuntimeUnavailableError, match=r"tcp://127\.0\.0\.1:9"):
        away.runtime.model("scaler").fit("iris[^target]")
    run = omr.runtime.runs().iloc[0]
    assert run["state"] == "failed" and "127.0.0.1:9" in run["error"]
    assert omr.datasets.list() == ["iris"]


def test_resources_route_and_cancel_never_hangs(omr: Omega) -> None:
    omr.models.put(StandardScaler(), "scaler")
    gpu = omr.runtime.require(resources={"GPU": 1})
    handle = gpu.model("scaler").fit("iris[^target]")
    assert handle.result(timeout=WAIT).version == 2
    assert handle.record.resources == {"GPU": 1}

    stuck = omr.runtime.require("TPU").model("scaler").fit("iris[^target]")
    with pytest.raises(RunTimeoutError):
        stuck.result(timeout=0.5)
    assert stuck.status == "queued"
    assert stuck.cancel() and not stuck.cancel()
    with pytest.raises(RunFailedError, match="cancelled") as info:
        stuck.result(timeout=WAIT)
    assert info.value.state == "cancelled"
    assert omr.runtime.run(stuck.id).status == "cancelled"
    assert omr.models.metadata("scaler").version == 2


def test_gridsearch_saves_the_best_estimator(omr: Omega) -> None:
    omr.models.put(LogisticRegression(max_iter=500), "clf")
    handle = omr.runtime.model("clf").gridsearch(
        "iris[^target]", "iris[target]", {"C": [0.1, 1.0]}, cv=3
    )
    best = handle.result(timeout=WAIT)
    lineage = best.attributes["lineage"]
    assert best.version == 2 and lineage["action"] == "gridsearch"
    assert lineage["best_params"]["C"] in (0.1, 1.0) and 0 < lineage["best_score"] <= 1
    assert isinstance(omr.models.get("clf"), LogisticRegression)
