"""Experiments on both databases: runs numbered by their start, typed events queryable in SQL,
batched writes that a normal exit never loses, runs of one experiment from several processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.linear_model import LogisticRegression

from omega_jupyter.client import Omega
from omega_jupyter.exceptions import (
    ExperimentRunError,
    InvalidNameError,
    InvalidParameterError,
    ObjectNotFoundError,
)
from omega_jupyter.experiments.experiment import DATA_COLUMNS, VegaLite
from omega_jupyter.experiments.recorder import recorder_for

ROOT = Path(__file__).resolve().parents[2]


def _count(om: Omega, name: str) -> int:
    with om.db.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT count(*) FROM om_experiment_events WHERE bucket = :b AND experiment = :e"
            ),
            {"b": om.bucket, "e": name},
        ).scalar()


def test_runs_log_typed_events(om: Omega) -> None:
    with om.runtime.experiment("iris") as exp:
        assert exp.run == 1
        exp.log_param("C", 1.0)
        exp.log_params({"kernel": "rbf", "degree": np.int64(3)})
        for step in range(3):
            exp.log_metric("accuracy", 0.9 + step / 100, step=step)
        exp.log_metrics({"f1": 0.95, "auc": np.float32(0.5)})
        exp.log_system()
    with om.runtime.experiment("iris") as exp:
        assert exp.run == 2
        exp.log_metric("accuracy", 0.5)
    exp = om.runtime.experiment("iris")
    data = exp.data(event="metric", key="accuracy", run="*")
    assert list(data.columns) == DATA_COLUMNS
    assert data["run"].tolist() == [1, 1, 1, 2]
    assert data["value"].tolist() == pytest.approx([0.9, 0.91, 0.92, 0.5])
    assert data["value"].dtype == float and data["step"].tolist()[:3] == [0, 1, 2]
    assert exp.data()["run"].unique().tolist() == [2]  # the latest run by default
    assert exp.data(run=1, event="param").set_index("key")["value"].to_dict() == {
        "C": 1.0,
        "kernel": "rbf",
        "degree": 3.0,
    }
    # numbers stay numbers in the database: SQL adds them up
    with om.db.connect() as conn:
        avg = conn.execute(
            sa.text(
                "SELECT avg(value) FROM om_experiment_events WHERE bucket = :b"
                " AND experiment = 'iris' AND event = 'metric' AND key = 'accuracy'"
            ),
            {"b": om.bucket},
        ).scalar()
    assert avg == pytest.approx((0.9 + 0.91 + 0.92 + 0.5) / 4)
    summary = exp.summary()
    assert summary.loc[("metric", "accuracy"), "count"] == 4
    assert summary.loc[("metric", "accuracy"), "max"] == pytest.approx(0.92)
    runs = exp.runs()
    assert runs["run"].tolist() == [1, 2] and runs["status"].tolist() == ["succeeded"] * 2
    assert runs["metric.accuracy"].tolist() == pytest.approx([0.92, 0.5])
    assert runs.loc[0, "param.kernel"] == "rbf" and (runs["duration"] >= 0).all()
    compared = exp.compare(1, 2)
    assert compared.loc["metric.accuracy", "diff"] == pytest.approx(-0.42)
    assert not compared.loc["metric.accuracy", "same"]
    listing = om.runtime.experiments()
    assert listing.set_index("name").loc["iris", "runs"] == 2


def test_a_failing_block_is_a_failed_run(om: Omega) -> None:
    with pytest.raises(ZeroDivisionError), om.runtime.experiment("fails") as exp:
        exp.log_metric("x", 1)
        1 / 0  # noqa: B018
    [run] = om.runtime.experiment("fails").runs().to_dict("records")
    assert run["status"] == "failed" and run["metric.x"] == 1.0
    stop = om.runtime.experiment("fails").data(event="stop", run=1)
    assert stop["value"].iloc[0] >= 0  # the duration


def test_bad_input_is_refused_and_writes_nothing(om: Omega) -> None:
    exp = om.runtime.experiment("strict")
    with pytest.raises(ExperimentRunError, match="no run of experiment 'strict' is open"):
        exp.log_metric("a", 1.0)
    with pytest.raises(InvalidNameError):
        om.runtime.experiment("bad[name")
    with pytest.raises(InvalidParameterError, match="unknown link"):
        om.runtime.experiment("x", colour="red")
    with exp:
        with pytest.raises(InvalidParameterError, match="must be a number"):
            exp.log_metric("a", "high")
        with pytest.raises(InvalidParameterError, match="must be a number"):
            exp.log_metrics({"a": 1.0, "b": "high"})  # none of them logged
        with pytest.raises(InvalidParameterError, match="step must be an integer"):
            exp.log_metric("a", 1.0, step=1.5)
        with pytest.raises(ExperimentRunError, match="still open"):
            exp.start()
    assert set(exp.data(run="*")["event"]) == {"start", "stop"}
    with pytest.raises(InvalidParameterError, match="run must be"):
        exp.data(run="latest")
    with pytest.raises(ObjectNotFoundError):
        exp.compare(1, 7)
    with pytest.raises(ObjectNotFoundError):
        exp.chart("nothing")


def test_artifacts_go_through_the_stores(om: Omega) -> None:
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    model = LogisticRegression().fit(X, [0, 0, 1, 1])
    with om.runtime.experiment("art") as exp:
        ref = exp.log_artifact(model, "model")
        frame_ref = exp.log_artifact(X, "train")
    assert ref == {"store": "models", "name": "experiments/art/1/model", "version": 1}
    assert om.models.get(ref["name"]).predict(X).tolist() == [0, 0, 1, 1]
    pd.testing.assert_frame_equal(om.datasets.get(frame_ref["name"]), X)
    rows = exp.data(event="artifact", run=1).set_index("key")
    assert rows.loc["model", "model"] == "experiments/art/1/model"
    assert rows.loc["model", "model_version"] == 1
    assert rows.loc["train", "dataset"] == "experiments/art/1/train"


def test_chart_is_vega_lite(om: Omega) -> None:
    for values in ([0.1, 0.2, 0.3], [0.2, 0.4]):
        with om.runtime.experiment("chart") as exp:
            for step, value in enumerate(values):
                exp.log_metric("loss", value, step=step)
    spec = exp.chart("loss")
    assert spec["mark"]["type"] == "line" and spec["encoding"]["color"]["field"] == "run"
    assert [(v["run"], v["step"]) for v in spec["data"]["values"]] == [
        (1, 0), (1, 1), (1, 2), (2, 0), (2, 1)
    ]  # fmt: skip
    plotted = exp.plot("loss")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert isinstance(plotted, VegaLite)
        assert "application/vnd.vegalite.v5+json" in plotted._repr_mimebundle_()
    with om.runtime.experiment("chart") as exp:
        exp.log_metric("acc", 0.5)
    assert exp.chart("acc")["mark"] == "bar"  # one value per run: across runs


def test_events_wait_in_a_batch_until_flushed(om: Omega) -> None:
    exp = om.runtime.experiment("batched")
    exp.start()
    recorder = recorder_for(om.db)
    before = _count(om, "batched")
    for i in range(50):
        exp.log_metric("m", i, step=i)
    assert recorder.pending >= 1 or _count(om, "batched") > before  # the flusher may be quick
    exp.stop()
    assert recorder.pending == 0
    assert _count(om, "batched") == before + 51
    assert exp.drop() == before + 51 and _count(om, "batched") == 0


def _python(code: str, om: Omega) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    script = (
        "import omega_jupyter\n"
        f"om = omega_jupyter.setup(url={om.settings.resolved_database_url!r},"
        f" bucket={om.bucket!r})\n" + code
    )
    return subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE)


def test_a_normal_exit_writes_what_is_pending(om: Omega) -> None:
    # the run is never stopped and nothing flushes: only the exit handler can write these
    code = (
        "exp = om.runtime.experiment('exit')\n"
        "exp.start()\n"
        "for i in range(1000): exp.log_metric('m', i, step=i)\n"
        "raise SystemExit(3)\n"
    )
    proc = _python(code, om)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err.decode()
    assert _count(om, "exit") == 1001  # the start event and every metric


def test_concurrent_runs_from_several_processes(om: Omega) -> None:
    code = (
        "for _ in range(3):\n"
        "    with om.runtime.experiment('shared') as exp:\n"
        "        exp.log_metric('run', exp.run)\n"
    )
    procs = [_python(code, om) for _ in range(3)]
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err.decode()
    runs = om.runtime.experiment("shared").runs()
    assert sorted(runs["run"]) == list(range(1, 10))
    assert (runs["metric.run"] == runs["run"]).all()  # each process logged into its own run
    assert set(runs["status"]) == {"succeeded"}
