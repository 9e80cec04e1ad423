"""The routes the JupyterLab panel adds: schedule preview, notebook parameters, model details
(through the Jupyter mount, on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import datetime

import nbformat
import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

from .test_server_jupyter import call


def _notebook(parameters: str | None) -> dict:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    cells = []
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        cells.append(cell)
    cells.append(nbformat.v4.new_code_cell("print(1)"))
    nb.cells = cells
    return json.loads(nbformat.writes(nb))


async def test_schedule_preview_text_and_cron(jp_fetch) -> None:
    status, body = await call(jp_fetch, "panel/schedule-preview", when="weekdays at 08:30")
    assert status == 200, body
    preview = json.loads(body)
    assert preview["cron"] == "30 8 * * 1-5"
    assert "08:30" in preview["description"]
    times = [datetime.fromisoformat(t) for t in preview["next_times"]]
    assert len(times) == 5 and times == sorted(times)
    assert all(t.weekday() < 5 and (t.hour, t.minute) == (8, 30) for t in times)

    status, body = await call(
        jp_fetch, "panel/schedule-preview", when="0 6 * * *", timezone="Europe/Zurich"
    )
    assert status == 200, body
    assert json.loads(body)["timezone"] == "Europe/Zurich"


async def test_schedule_preview_bad_input_is_400(jp_fetch) -> None:
    for params in (
        {},
        {"when": ""},
        {"when": "every blue moon"},
        {"when": "x" * 500},
        {"when": "hourly", "timezone": "Mars/Olympus"},
    ):
        status, body = await call(jp_fetch, "panel/schedule-preview", **params)
        assert status == 400, (params, body)
        assert json.loads(body)["message"]


async def test_notebook_parameters(jp_fetch) -> None:
    source = "day = '2024-01-01'  # the day to report\nn: int = 7\nrate = 0.5\nflag = True"
    status, _ = await call(jp_fetch, "jobs/reports/daily", "PUT", _notebook(source))
    assert status == 201
    status, body = await call(jp_fetch, "panel/parameters/reports/daily")
    assert status == 200, body
    found = json.loads(body)
    assert found["cell"] is True
    params = {p["name"]: p for p in found["parameters"]}
    assert list(params) == ["day", "n", "rate", "flag"]
    assert params["n"]["default"] == "7" and params["n"]["type"] == "int"
    assert params["day"]["help"] == "the day to report"

    await call(jp_fetch, "jobs/plain", "PUT", _notebook(None))
    _, body = await call(jp_fetch, "panel/parameters/plain")
    assert json.loads(body) == {"name": "plain", "cell": False, "parameters": []}

    status, body = await call(jp_fetch, "panel/parameters/missing")
    assert status == 404 and json.loads(body)["error"] == "not_found"


async def test_model_details_with_lineage(jp_fetch, om) -> None:
    X = pd.DataFrame({"a": np.arange(10.0), "b": np.arange(10.0) * 2})
    om.models.put(LinearRegression().fit(X, X["a"] * 3), "reg", tag="prod")
    om.models.put(
        LinearRegression(), "reg", lineage={"datasets": [{"name": "train", "version": 1}]}
    )
    status, body = await call(jp_fetch, "panel/models/reg")
    assert status == 200, body
    details = json.loads(body)
    assert details["version"] == 2
    assert [v["version"] for v in details["versions"]] == [1, 2]
    assert details["lineage"] == {"datasets": [{"name": "train", "version": 1}]}
    assert "sklearn" in json.dumps(details["libraries"])
    status, _ = await call(jp_fetch, "panel/models/nope")
    assert status == 404


async def test_routes_are_documented(jp_fetch) -> None:
    _, body = await call(jp_fetch, "openapi.json")
    paths = json.loads(body)["paths"]
    for path in ("/panel/schedule-preview", "/panel/parameters/{name}", "/panel/models/{name}"):
        assert path in paths


async def test_model_details_per_version_lineage_and_experiment_metrics(jp_fetch, om) -> None:
    X = pd.DataFrame({"a": np.arange(10.0)})
    om.models.put(LinearRegression().fit(X, X["a"]), "lin")
    om.models.put(
        LinearRegression().fit(X, X["a"]),
        "lin",
        lineage={"action": "fit", "run_id": "r1", "datasets": [{"name": "train", "version": 3}]},
    )
    with om.runtime.experiment("lin-exp", model="lin", model_version=2) as exp:
        exp.log_metric("rmse", 0.25)
        exp.log_metric("rmse", 0.125)  # the last value is shown
    with om.runtime.experiment("other") as exp:  # names no model: not shown
        exp.log_metric("rmse", 9.0)
    status, body = await call(jp_fetch, "panel/models/lin")
    assert status == 200, body
    details = json.loads(body)
    lineage = {v["version"]: v["lineage"] for v in details["versions"]}
    assert lineage[1] == {} and lineage[2]["datasets"] == [{"name": "train", "version": 3}]
    [run] = details["experiments"]
    assert run["experiment"] == "lin-exp" and run["model_version"] == 2
    assert run["metrics"] == {"rmse": 0.125} and run["status"] == "succeeded"

    om.models.put(LinearRegression().fit(X, X["a"]), "plain")
    _, body = await call(jp_fetch, "panel/models/plain")
    assert json.loads(body)["experiments"] == []


async def test_notebook_versions_and_restore(jp_fetch) -> None:
    first = _notebook("n = 1")
    second = _notebook("n = 2")
    assert (await call(jp_fetch, "jobs/hist/nb", "PUT", first))[0] == 201
    assert (await call(jp_fetch, "jobs/hist/nb", "PUT", second))[0] == 201
    status, body = await call(jp_fetch, "jobs/hist/nb/versions")
    assert status == 200, body
    listing = json.loads(body)
    assert [v["version"] for v in listing["items"]] == [2, 1] and listing["total"] == 2
    assert listing["items"][0]["cells"] == 2 and listing["items"][0]["restored_from"] is None

    # an older version reads by name@N; restoring it makes a new version with its content
    _, body = await call(jp_fetch, "jobs/hist/nb@1")
    assert json.loads(body)["cells"][0]["source"] == "n = 1"
    status, body = await call(jp_fetch, "jobs/hist/nb/restore", "POST", {"version": 1})
    assert status == 201, body
    restored = json.loads(body)
    assert restored["version"] == 3 and restored["restored_from"] == 1
    _, body = await call(jp_fetch, "jobs/hist/nb")
    assert json.loads(body)["cells"][0]["source"] == "n = 1"
    _, body = await call(jp_fetch, "jobs/hist/nb/versions")
    items = json.loads(body)["items"]
    assert [(v["version"], v["restored_from"]) for v in items] == [(3, 1), (2, None), (1, None)]
    # restoring the newest version again still makes a version (a restore is always one)
    status, body = await call(jp_fetch, "jobs/hist/nb/restore", "POST", {"version": 3})
    assert status == 201 and json.loads(body)["version"] == 4

    for bad in ({}, {"version": "1"}, {"version": True}, {"version": 1, "x": 2}, {"version": 0}):
        status, body = await call(jp_fetch, "jobs/hist/nb/restore", "POST", bad)
        assert status == 400, (bad, body)
    status, _ = await call(jp_fetch, "jobs/hist/nb/restore", "POST", {"version": 99})
    assert status == 404
    status, _ = await call(jp_fetch, "jobs/nope/versions")
    assert status == 404
    _, body = await call(jp_fetch, "openapi.json")
    paths = json.loads(body)["paths"]
    assert "/jobs/{name}/versions" in paths and "/jobs/{name}/restore" in paths
