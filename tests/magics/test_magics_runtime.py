"""``%om fit/predict/run/runs/log`` on a real Dask cluster, on SQLite and PostgreSQL."""

from __future__ import annotations

import io

import pytest
from nbformat.v4 import new_code_cell, new_notebook
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from omega_jupyter.runtime.handle import RunHandle
from omega_jupyter.storage.metadata import Metadata
from omega_jupyter.widgets.runs import RunProgress
from tests.magics_shell import make_shell, run, usage_error

WAIT = 120


@pytest.fixture
def shell(om, database_url, bucket, dask_cluster, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OMEGA_DASK_ADDRESS", dask_cluster.scheduler_address)
    X, y = load_iris(return_X_y=True, as_frame=True)
    om.datasets.put(X.assign(target=y), "iris")
    return make_shell(database_url, bucket)


def test_fit_predict_runs_log(shell, om) -> None:
    shell.user_ns["clf"] = LogisticRegression(max_iter=500)
    run(shell, "%om put clf clf")
    fitted = run(shell, "%om fit clf iris[^target] iris[target] --timeout 120")
    assert isinstance(fitted, Metadata) and fitted.version == 2
    run(shell, "y = %om predict clf iris[^target] --result preds")
    assert len(shell.user_ns["y"]) == 150 and len(om.datasets.get("preds")) == 150
    X = om.datasets.get("iris[^target]")
    shell.user_ns["Xmem"] = X.head(5)
    assert len(run(shell, "%om predict clf Xmem")) == 5  # a variable, not a dataset
    handle = run(shell, "%om predict clf iris[^target] --no-wait")
    assert isinstance(handle, RunHandle) and handle.wait(WAIT).status == "succeeded"
    assert "om-badge" in shell.display_formatter.format(handle)[0]["text/html"]
    table = run(shell, "%om runs clf")
    assert [r["state"] for r in table.rows] == ["succeeded"] * 4
    assert "om-succeeded" in table._repr_html_()
    assert "neither a dataset nor a variable" in usage_error(shell, "%om fit clf nothing")
    assert "model 'nomodel' does not exist" in usage_error(shell, "%om fit nomodel iris")
    assert len(om.runtime.runs()) == 4  # refused calls started nothing


def test_run_job_with_parameters_and_progress(shell, om) -> None:
    nb = new_notebook(
        cells=[
            new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
            new_code_cell("import omega_jupyter as om\nom.datasets.put({'x': x}, 'out')"),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "python3", "language": "python"}
    shell.user_ns["nb"] = nb
    run(shell, "%om put nb report")
    handle = run(shell, "%om run report -p x=41 --timeout 120")
    assert handle.status == "succeeded" and om.datasets.get("out") == {"x": 41}
    record = handle.record
    assert record.progress["cells_done"] == record.progress["cells_total"]
    text = io.StringIO()
    final = RunProgress(handle, widget=False, stream=text).follow(timeout=5)
    assert final.state == "succeeded" and "cells" in text.getvalue()
    runs = run(shell, "%om runs report")
    assert [r["state"] for r in runs.rows] == ["succeeded"]
    assert "does not exist" in usage_error(shell, "%om run nojob")


def test_max_retries_options(shell, om) -> None:
    shell.user_ns["clf"] = LogisticRegression(max_iter=500)
    run(shell, "%om put clf clf")
    fit = run(shell, "%om fit clf iris[^target] iris[target] --no-wait --max-retries 2")
    predict = run(shell, "%om predict clf iris[^target] --no-wait")  # 1: changes nothing
    never = run(shell, "%om predict clf iris[^target] --no-wait --max-retries 0")
    nb = new_notebook(cells=[new_code_cell("x = 1", metadata={"tags": ["parameters"]})])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "python3", "language": "python"}
    shell.user_ns["nb"] = nb
    run(shell, "%om put nb report")
    job = run(shell, "%om run report --no-wait --max-retries 3")
    handles = (fit, predict, never, job)
    assert [h.wait(WAIT).record.max_retries for h in handles] == [2, 1, 0, 3]
    assert "max_retries" in usage_error(shell, "%om run report --max-retries -1")
    assert "max-retries" in usage_error(shell, "%om fit clf iris --max-retries x")


def test_run_map_is_a_group_with_one_bar(shell, om, tmp_path) -> None:
    nb = new_notebook(
        cells=[
            new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
            new_code_cell("assert x != 3, 'three'\nx * 10", metadata={"tags": ["out"]}),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "python3", "language": "python"}
    om.jobs.put(nb, "fan")
    group = run(shell, "%om run fan --map x=1,2 --max-parallel 2 --timeout 200")
    assert group.status().counts["succeeded"] == 2
    assert group.results("out").value.tolist() == [10, 20]
    path = tmp_path / "members.jsonl"
    path.write_text('{"x": 3}\n{"x": 4}\n')
    error = usage_error(shell, f"%om run fan --map {path} --timeout 200")
    assert "1 of 2 members did not succeed" in error and ".restart()" in error
    queued = run(shell, "%om run fan --map x=5 --no-wait")
    assert queued.wait(WAIT).status().counts["succeeded"] == 1
    assert "applies to --map" in usage_error(shell, "%om run fan --max-parallel 2")
    assert "key=a,b,c" in usage_error(shell, "%om run fan --map nofile.jsonl")
    assert len(om.runtime.groups()) == 3
