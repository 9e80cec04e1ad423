"""``max_retries`` through REST: ``POST /jobs/{name}/run``, ``/scripts/{name}/run`` (in the
body) and ``/model/{name}/predict?async=true&max_retries=N``; ``GET /runs/{id}`` shows it and
the run's attempt. A server that runs no scheduler loop reconciles lost runs itself."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from traitlets.config import Config

import omega_jupyter
from tests.scripts.test_scripts import RUN, put_script

from .conftest import extension_config
from .test_server_jobs import notebook
from .test_server_jupyter import call
from .test_server_run_events import _ended


@pytest.fixture
def jp_server_config(database_url: str, bucket: str, dask_cluster) -> Config:
    return extension_config(
        database_url=database_url,
        bucket=bucket,
        dask_address=dask_cluster.scheduler_address,
        run_scheduler=False,
    )


async def test_runs_take_max_retries(
    jp_fetch, jp_serverapp, database_url: str, bucket: str
) -> None:
    om = omega_jupyter.setup(url=database_url, bucket=bucket)
    app = jp_serverapp.extension_manager.extension_apps["omega_jupyter"]
    (extension,) = app
    assert extension.reconcile_loop.thread.is_alive()  # no scheduler loop here: it reconciles
    await call(jp_fetch, "jobs/report", "PUT", notebook())
    status, out = await call(
        jp_fetch, "jobs/report/run", "POST", {"parameters": {"x": 2}, "max_retries": 2}
    )
    assert status == 202, out
    run = await _ended(jp_fetch, json.loads(out)["run"])
    assert (run["state"], run["max_retries"], run["attempt"], run["retry_of"]) == (
        "succeeded",
        2,
        1,
        None,
    )
    assert run["parameters"] == {"x": 2}  # not a notebook parameter

    put_script(om, "VERSION = 4\n" + RUN)
    body = {"day": "2024-01-01", "max_retries": 1}
    status, out = await call(jp_fetch, "scripts/myscript/run", "POST", body)
    assert status == 202, out
    run = await _ended(jp_fetch, json.loads(out)["run"])
    assert (run["state"], run["max_retries"]) == ("succeeded", 1)
    assert run["parameters"] == {"day": "2024-01-01"}  # not passed to run()

    om.datasets.put(np.zeros((3, 1)), "X")
    om.models.put(LinearRegression().fit(np.zeros((3, 1)), np.zeros(3)), "lr")
    for params, expected in (({}, 1), ({"max_retries": "0"}, 0)):
        status, out = await call(
            jp_fetch, "model/lr/predict", "POST", None, datax="X", **{"async": "true"}, **params
        )
        assert status == 202, out
        run = await _ended(jp_fetch, json.loads(out)["run"])
        assert (run["state"], run["max_retries"]) == ("succeeded", expected)


@pytest.mark.parametrize("path", ["jobs/report/run", "scripts/myscript/run"])
@pytest.mark.parametrize("retries", [-1, "2", 1.5, True])
async def test_bad_max_retries_is_400_and_runs_nothing(
    jp_fetch, database_url: str, bucket: str, path: str, retries: object
) -> None:
    om = omega_jupyter.setup(url=database_url, bucket=bucket)
    await call(jp_fetch, "jobs/report", "PUT", notebook())
    put_script(om, "VERSION = 1\n" + RUN)
    status, out = await call(jp_fetch, path, "POST", {"max_retries": retries})
    assert status == 400, out
    assert "max_retries" in json.loads(out)["message"]
    assert om.runtime.runs().empty
