"""The thin surfaces of experiments: ``om experiments …`` and ``%om exp …`` render what the
Python API returns, and refuse bad input with a one-line error."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from omega_jupyter.cli import app
from omega_jupyter.client import Omega
from tests.magics_shell import make_shell, run, usage_error


@pytest.fixture
def logged(om: Omega) -> Omega:
    for accuracy in (0.5, 0.75):
        with om.runtime.experiment("iris") as exp:
            exp.log_param("C", 1.0)
            exp.log_metric("accuracy", accuracy, step=1)
    return om


def _cli(om: Omega, *args: str):
    url = om.settings.resolved_database_url
    return CliRunner().invoke(app, ["--url", url, "--bucket", om.bucket, *args])


def test_cli_lists_and_reads_experiments(logged: Omega, tmp_path) -> None:
    result = _cli(logged, "--json", "experiments", "ls")
    assert result.exit_code == 0, result.output
    assert [(e["name"], e["runs"]) for e in json.loads(result.output)] == [("iris", 2)]
    result = _cli(logged, "--json", "experiments", "runs", "iris")
    assert [r["metric.accuracy"] for r in json.loads(result.output)] == [0.5, 0.75]
    result = _cli(
        logged, "--json", "experiments", "data", "iris", "--run", "*", "--event", "metric"
    )
    assert [e["value"] for e in json.loads(result.output)] == [0.5, 0.75]
    result = _cli(logged, "experiments", "summary", "iris")
    assert result.exit_code == 0 and "accuracy" in result.output
    target = tmp_path / "iris.csv"
    result = _cli(logged, "experiments", "export", "iris", str(target))
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(target)) == len(logged.runtime.experiment("iris").data(run="*"))
    result = _cli(logged, "experiments", "data", "iris", "--run", "last")
    assert result.exit_code != 0 and "run must be" in result.output
    result = _cli(logged, "experiments", "runs", "nothing")
    assert result.exit_code != 0 and "no experiment 'nothing'" in result.output
    result = _cli(logged, "runtime", "model", "m", "predict", "X", "--experiment", "e")
    assert result.exit_code != 0 and "--experiment applies to fit" in result.output


def test_magics_list_show_data_and_plot(logged: Omega, database_url: str) -> None:
    shell = make_shell(database_url, logged.bucket)
    listing = run(shell, "%om exp ls")
    assert listing.frame["name"].tolist() == ["iris"]
    runs = run(shell, "%om exp show iris")
    assert runs.frame["metric.accuracy"].tolist() == [0.5, 0.75]
    data = run(shell, "%om exp data iris --run * --event metric")
    assert data["value"].tolist() == [0.5, 0.75]
    spec = run(shell, "%om exp plot iris accuracy")
    assert "accuracy" in json.dumps(dict(spec) if isinstance(spec, dict) else {"t": str(spec)})
    assert "needs an experiment name" in usage_error(shell, "%om exp runs")
    assert "no experiment 'nothing'" in usage_error(shell, "%om exp show nothing")
    assert "plot needs a metric" in usage_error(shell, "%om exp plot iris")


def test_fit_with_an_experiment_from_magics_and_cli(om: Omega, dask_cluster, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OMEGA_DASK_ADDRESS", dask_cluster.scheduler_address)
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]})
    om.datasets.put(X, "X")
    om.datasets.put(pd.DataFrame({"y": [0, 0, 0, 1, 1, 1]}), "Y")
    om.models.put(LogisticRegression(), "clf")
    shell = make_shell(om.settings.resolved_database_url, om.bucket)
    run(shell, "%om fit clf X Y --experiment magic --timeout 120")
    result = _cli(om, "runtime", "model", "clf", "fit", "X", "Y", "--experiment", "magic")
    assert result.exit_code == 0, result.output
    runs = om.runtime.experiment("magic").runs()
    assert runs["status"].tolist() == ["succeeded", "succeeded"]
    assert runs["model"].tolist() == ["clf"] * 2 and runs["model_version"].tolist() == [2, 3]
    assert runs["metric.rows"].tolist() == [6.0, 6.0]
