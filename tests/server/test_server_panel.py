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
