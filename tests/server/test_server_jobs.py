"""Jobs, schedules, runs, scripts and logs through the Jupyter mount (a real Dask cluster and
kernel for the run)."""

from __future__ import annotations

import asyncio
import json
import threading

import nbformat
import pytest
from traitlets.config import Config

from .test_server_jupyter import call


@pytest.fixture
def jp_server_config(database_url: str, bucket: str, dask_cluster) -> Config:
    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"omega_jupyter": True}},
            "OmegaExtensionApp": {
                "database_url": database_url,
                "bucket": bucket,
                "dask_address": dask_cluster.scheduler_address,
            },
        }
    )


def notebook() -> dict:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    params = nbformat.v4.new_code_cell("x = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("y = x * 2\nprint(y)")]
    return json.loads(nbformat.writes(nb))


async def test_job_store_schedule_and_run(jp_fetch) -> None:
    status, body = await call(jp_fetch, "jobs/report", "PUT", notebook())
    assert status == 201, body
    _, body = await call(jp_fetch, "jobs")
    assert [j["name"] for j in json.loads(body)["items"]] == ["report"]
    _, body = await call(jp_fetch, "jobs/report")
    assert json.loads(body)["cells"][1]["source"].startswith("y = x * 2")

    status, body = await call(jp_fetch, "jobs/report/schedule")
    assert status == 404
    status, body = await call(
        jp_fetch, "jobs/report/schedule", "PUT", {"when": "every 5 minutes", "parameters": {"x": 3}}
    )
    assert status == 200, body
    _, body = await call(jp_fetch, "jobs/report/schedule")
    assert json.loads(body)["parameters"] == {"x": 3}
    status, _ = await call(jp_fetch, "jobs/report/schedule", "DELETE")
    assert status == 200
    status, _ = await call(jp_fetch, "jobs/report/schedule", "DELETE")
    assert status == 404

    status, body = await call(jp_fetch, "jobs/report/run", "POST", {"parameters": {"x": 21}})
    assert status == 202, body
    run_id = json.loads(body)["run"]
    assert json.loads(body)["location"].endswith(f"/omega/api/v1/runs/{run_id}")
    for _ in range(600):
        _, body = await call(jp_fetch, f"runs/{run_id}")
        run = json.loads(body)
        if run["state"] in ("succeeded", "failed", "cancelled"):
            break
        await asyncio.sleep(0.2)
    assert run["state"] == "succeeded", (run["error"], run["traceback"])
    status, body = await call(jp_fetch, f"runs/{run_id}/notebook")
    executed = json.loads(body)
    assert any("42" in str(cell.get("outputs")) for cell in executed["cells"])
    _, body = await call(jp_fetch, "runs", job="report")
    assert [r["id"] for r in json.loads(body)["items"]] == [run_id]
    status, body = await call(jp_fetch, "logs", run=run_id)
    assert status == 200 and isinstance(json.loads(body)["items"], list)


@pytest.mark.parametrize(
    ("method", "path", "body", "params", "status"),
    [
        ("PUT", "jobs/bad", {"cells": "nope"}, {}, 400),
        ("PUT", "jobs/bad", [1, 2], {}, 400),
        ("GET", "jobs/missing", None, {}, 404),
        ("POST", "jobs/missing/run", {}, {}, 404),
        ("PUT", "jobs/missing/schedule", {"when": "every 5 minutes"}, {}, 404),
        ("PUT", "jobs/report/schedule", {"when": "whenever the moon is full"}, {}, 400),
        ("PUT", "jobs/report/schedule", {"cron": "* * * * *"}, {}, 400),
        ("POST", "jobs/report/run", {"parameters": [1]}, {}, 400),
        ("GET", "runs/nosuchrun", None, {}, 404),
        ("GET", "runs/nosuchrun/notebook", None, {}, 404),
        ("POST", "runs/nosuchrun/cancel", None, {}, 404),
        ("GET", "runs", None, {"state": "exploded"}, 400),
        ("GET", "logs", None, {"since": "not a time"}, 400),
        ("GET", "logs", None, {"level": "LOUD"}, 400),
        ("POST", "scripts/missing/run", {}, {}, 404),
    ],
)
async def test_bad_job_input(jp_fetch, method, path, body, params, status) -> None:
    await call(jp_fetch, "jobs/report", "PUT", notebook())
    got, out = await call(jp_fetch, path, method, body, **params)
    assert got == status, out
    assert set(json.loads(out)) == {"error", "message"}
    _, nb = await call(jp_fetch, "jobs/report")
    assert len(json.loads(nb)["cells"]) == 2


async def test_the_extension_runs_a_scheduler_loop(jp_fetch) -> None:
    status, _ = await call(jp_fetch, "ping")
    assert status == 200
    loops = [t for t in threading.enumerate() if t.name == "omega-scheduler" and t.is_alive()]
    assert loops


async def test_scripts_list(jp_fetch) -> None:
    status, body = await call(jp_fetch, "scripts")
    assert status == 200 and json.loads(body)["items"] == []


async def test_async_predict_is_a_run(jp_fetch, database_url: str, bucket: str) -> None:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    import omega_jupyter
    from omega_jupyter.runtime.tasks import signature_of

    X = pd.DataFrame(np.arange(20.0).reshape(10, 2), columns=["a", "b"])
    model = LogisticRegression().fit(X, [0, 1] * 5)
    om = omega_jupyter.setup(url=database_url, bucket=bucket)
    om.models.put(model, "m", signature=signature_of(X))
    om.datasets.put(X, "X")
    status, body = await call(
        jp_fetch, "model/m/predict", "POST", None, datax="X", **{"async": "true"}
    )
    assert status == 202, body
    run_id = json.loads(body)["run"]
    for _ in range(600):
        _, out = await call(jp_fetch, f"runs/{run_id}")
        run = json.loads(out)
        if run["state"] in ("succeeded", "failed", "cancelled"):
            break
        await asyncio.sleep(0.2)
    assert run["state"] == "succeeded", run["error"]
    assert run["result"]["data"] == model.predict(X).tolist()
