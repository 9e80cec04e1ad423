"""Jobs, schedules, runs, scripts and logs through the Jupyter mount (a real Dask cluster and
kernel for the run)."""

from __future__ import annotations

import asyncio
import json
import threading

import nbformat
import pytest
from traitlets.config import Config

from .conftest import extension_config
from .test_server_jupyter import call


@pytest.fixture
def jp_server_config(database_url: str, bucket: str, dask_cluster) -> Config:
    return extension_config(
        database_url=database_url, bucket=bucket, dask_address=dask_cluster.scheduler_address
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


async def test_put_unchanged_notebook_answers_200_and_no_version(jp_fetch) -> None:
    """The panel's Ctrl+S of an unchanged notebook: no new version, and the answer says
    which version the notebook is (``created`` false, 200 instead of 201)."""
    status, body = await call(jp_fetch, "jobs/same", "PUT", notebook())
    assert status == 201, body
    assert (json.loads(body)["version"], json.loads(body)["created"]) == (1, True)
    status, body = await call(jp_fetch, "jobs/same", "PUT", notebook())
    assert status == 200, body
    assert (json.loads(body)["version"], json.loads(body)["created"]) == (1, False)
    changed = notebook()
    changed["cells"][1]["source"] = "y = x * 3"
    status, body = await call(jp_fetch, "jobs/same", "PUT", changed)
    assert status == 201, body
    assert (json.loads(body)["version"], json.loads(body)["created"]) == (2, True)


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
    # The panel's filter by kind of run.
    _, body = await call(jp_fetch, "runs", kind="job")
    assert [r["id"] for r in json.loads(body)["items"]] == [run_id]
    _, body = await call(jp_fetch, "runs", kind="script")
    assert (json.loads(body)["items"], json.loads(body)["total"]) == ([], 0)
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
        ("GET", "runs", None, {"kind": "teleport"}, 400),
        ("GET", "logs", None, {"since": "not a time"}, 400),
        ("GET", "logs", None, {"level": "LOUD"}, 400),
        ("POST", "scripts/missing/run", {}, {}, 404),
        ("POST", "jobs/missing/map", {"members": [{"x": 1}]}, {}, 404),
        ("POST", "jobs/report/map", {}, {}, 400),
        ("POST", "jobs/report/map", [1], {}, 400),
        ("POST", "jobs/report/map", {"members": []}, {}, 400),
        ("POST", "jobs/report/map", {"members": {"x": 1}}, {}, 400),
        ("POST", "jobs/report/map", {"members": [1, 2]}, {}, 400),
        ("POST", "jobs/report/map", {"members": [1], "param": "x", "max_parallel": 0}, {}, 400),
        ("POST", "jobs/report/map", {"members": [1], "param": "x", "max_parallel": "2"}, {}, 400),
        ("POST", "jobs/report/map", {"members": [1], "param": "x", "max_retries": -1}, {}, 400),
        ("POST", "jobs/report/map", {"members": [1], "param": "x", "timeout": "soon"}, {}, 400),
        ("POST", "jobs/report/map", {"members": [1], "param": "x", "bogus": 1}, {}, 400),
        ("GET", "groups/nosuchgroup", None, {}, 404),
        ("POST", "groups/nosuchgroup/cancel", None, {}, 404),
        ("POST", "groups/nosuchgroup/restart", None, {}, 404),
        ("GET", "groups", None, {"limit": "many"}, 400),
    ],
)
async def test_bad_job_input(jp_fetch, method, path, body, params, status) -> None:
    await call(jp_fetch, "jobs/report", "PUT", notebook())
    got, out = await call(jp_fetch, path, method, body, **params)
    assert got == status, out
    assert set(json.loads(out)) == {"error", "message"}
    _, nb = await call(jp_fetch, "jobs/report")
    assert len(json.loads(nb)["cells"]) == 2


async def _group_done(jp_fetch, group_id: str) -> dict:
    for _ in range(1500):
        _, body = await call(jp_fetch, f"groups/{group_id}")
        group = json.loads(body)
        if group["done"]:
            return group
        await asyncio.sleep(0.2)
    raise AssertionError(f"run group {group_id} did not end: {group['counts']}")


async def test_job_map_and_group(jp_fetch) -> None:
    await call(jp_fetch, "jobs/report", "PUT", notebook())
    status, body = await call(
        jp_fetch,
        "jobs/report/map",
        "POST",
        {"members": [1, 2, None], "param": "x", "max_parallel": 2},
    )
    assert status == 202, body
    started = json.loads(body)
    assert started["members"] == 3
    assert started["location"].endswith(f"/omega/api/v1/groups/{started['group']}")
    group = await _group_done(jp_fetch, started["group"])
    assert (group["target"], group["total"]) == ("report", 3)
    assert group["counts"]["succeeded"] == 2 and group["counts"]["failed"] == 1
    failed = [m for m in group["members"] if m["state"] == "failed"]
    assert failed[0]["parameters"] == {"x": None} and "TypeError" in failed[0]["error"]
    status, body = await call(jp_fetch, f"runs/{group['members'][0]['run_id']}/notebook")
    assert status == 200 and "2" in body.decode()
    _, body = await call(jp_fetch, "groups")
    assert [g["id"] for g in json.loads(body)] == [group["id"]]
    status, body = await call(jp_fetch, f"groups/{group['id']}/restart", "POST", {"bogus": 1})
    assert status == 400, body
    status, body = await call(jp_fetch, f"groups/{group['id']}/restart", "POST", {})
    assert status == 200 and json.loads(body)["pending"] == [2]
    group = await _group_done(jp_fetch, group["id"])
    assert group["counts"]["failed"] == 1  # the same parameters fail again, as a new run
    assert group["members"][2]["run_id"] != failed[0]["run_id"]
    status, body = await call(jp_fetch, f"groups/{group['id']}/cancel", "POST")
    assert status == 200 and json.loads(body)["cancelled"] == 0


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
    from omega_jupyter.models.actions import signature_of

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


# -- pause / resume, runs paging, script resources ---------------------------------------------
async def _schedule(jp_fetch) -> dict:
    await call(jp_fetch, "jobs/report", "PUT", notebook())
    status, body = await call(
        jp_fetch, "jobs/report/schedule", "PUT", {"when": "every 5 minutes", "parameters": {"x": 3}}
    )
    assert status == 200, body
    return json.loads(body)


async def test_schedule_pause_and_resume(jp_fetch) -> None:
    from datetime import UTC, datetime

    assert (await _schedule(jp_fetch))["paused"] is False
    status, body = await call(jp_fetch, "jobs/report/schedule", "PATCH", {"paused": True})
    assert status == 200, body
    assert json.loads(body)["paused"] is True and json.loads(body)["when"] == "every 5 minutes"
    _, body = await call(jp_fetch, "jobs/report/schedule")
    assert json.loads(body)["paused"] is True
    # changing the schedule keeps it paused unless the body says otherwise
    status, body = await call(jp_fetch, "jobs/report/schedule", "PUT", {"when": "hourly"})
    assert status == 200 and json.loads(body)["paused"] is True
    before = datetime.now(UTC)
    status, body = await call(jp_fetch, "jobs/report/schedule", "PATCH", {"paused": False})
    resumed = json.loads(body)
    assert status == 200 and resumed["paused"] is False
    assert datetime.fromisoformat(resumed["next_due"]) >= before
    status, body = await call(
        jp_fetch, "jobs/report/schedule", "PUT", {"when": "hourly", "paused": True}
    )
    assert status == 200 and json.loads(body)["paused"] is True

    await call(jp_fetch, "jobs/report/schedule", "DELETE")
    for path in ("jobs/report/schedule", "jobs/missing/schedule"):
        status, body = await call(jp_fetch, path, "PATCH", {"paused": True})
        assert status == 404 and json.loads(body)["error"] == "not_found", body


async def test_job_list_items_carry_their_schedule(jp_fetch) -> None:
    await _schedule(jp_fetch)
    await call(jp_fetch, "jobs/other", "PUT", notebook())
    _, body = await call(jp_fetch, "jobs")
    items = {j["name"]: j for j in json.loads(body)["items"]}
    assert items["other"]["schedule"] is None
    brief = items["report"]["schedule"]
    assert (brief["when"], brief["paused"]) == ("every 5 minutes", False)
    assert "5 minutes" in brief["description"] and brief["next_due"]
    await call(jp_fetch, "jobs/report/schedule", "PATCH", {"paused": True})
    _, body = await call(jp_fetch, "jobs", name="rep*")
    (item,) = json.loads(body)["items"]
    assert item["schedule"]["paused"] is True and item["schedule"]["next_due"] is None


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"paused": "yes"},
        {"paused": 1},
        {"paused": None},
        {"paused": True, "when": "hourly"},
        {"enabled": False},
        [True],
        "true",
        b"{not json",
        b"",
    ],
)
async def test_bad_pause_body_changes_nothing(jp_fetch, body) -> None:
    await _schedule(jp_fetch)
    status, out = await call(jp_fetch, "jobs/report/schedule", "PATCH", body)
    assert status == 400, out
    assert set(json.loads(out)) == {"error", "message"}
    if isinstance(body, dict) and set(body) != {"paused"}:
        assert "'paused'" in json.loads(out)["message"]
    _, out = await call(jp_fetch, "jobs/report/schedule")
    schedule = json.loads(out)
    assert (schedule["when"], schedule["paused"]) == ("every 5 minutes", False)


async def test_put_schedule_refuses_a_bad_paused(jp_fetch) -> None:
    await _schedule(jp_fetch)
    status, out = await call(
        jp_fetch, "jobs/report/schedule", "PUT", {"when": "hourly", "paused": "no"}
    )
    assert status == 400 and "paused" in json.loads(out)["message"]
    _, out = await call(jp_fetch, "jobs/report/schedule")
    assert json.loads(out)["when"] == "every 5 minutes"


async def test_pause_needs_auth_and_is_documented(jp_fetch) -> None:
    for creds in ("", "token wrong-token"):
        status, _ = await call(
            jp_fetch,
            "jobs/report/schedule",
            "PATCH",
            {"paused": True},
            headers={"Authorization": creds},
        )
        assert status == 403
    _, body = await call(jp_fetch, "openapi.json")
    paths = json.loads(body)["paths"]
    assert {"get", "put", "patch", "delete"} <= set(paths["/jobs/{name}/schedule"])
    assert {"get", "delete"} <= set(paths["/scripts/{name}"])
    assert "offset" in [p["name"] for p in paths["/runs"]["get"]["parameters"]]


async def test_runs_are_paged_with_a_total(jp_fetch, database_url: str, bucket: str) -> None:
    import omega_jupyter

    om = omega_jupyter.setup(url=database_url, bucket=bucket)
    for _ in range(5):
        om.runtime.runs_store.create("job", "report", "run", trigger="manual")
    om.runtime.runs_store.create("model", "m", "fit", state="failed", error="no data")
    _, body = await call(jp_fetch, "runs")
    every = [r["id"] for r in json.loads(body)["items"]]
    assert len(every) == 6 and json.loads(body)["total"] == 6
    seen = []
    for offset in (0, 2, 4, 6):
        status, body = await call(jp_fetch, "runs", limit="2", offset=str(offset))
        page = json.loads(body)
        assert status == 200 and (page["total"], page["limit"], page["offset"]) == (6, 2, offset)
        seen += [r["id"] for r in page["items"]]
    assert seen == every
    _, body = await call(jp_fetch, "runs", job="report", limit="1", offset="1")
    page = json.loads(body)
    assert page["total"] == 5 and len(page["items"]) == 1
    _, body = await call(jp_fetch, "runs", state="failed")
    assert json.loads(body)["total"] == 1
    for name, bad in [("offset", "-1"), ("offset", "x"), ("offset", "9" * 20), ("limit", "9" * 20)]:
        status, body = await call(jp_fetch, "runs", **{name: bad})
        assert status == 400 and name in json.loads(body)["message"], body
    for name in ("offset", "limit"):  # the other lists too
        status, body = await call(jp_fetch, "jobs", **{name: "9" * 20})
        assert status == 400 and name in json.loads(body)["message"], body


async def test_runs_search_a_part_of_the_target(jp_fetch, database_url: str, bucket: str) -> None:
    """?search= (the panel's search box) keeps the runs whose target contains the text, in any
    case; % and _ are plain characters; the total counts the same runs."""
    import omega_jupyter

    om = omega_jupyter.setup(url=database_url, bucket=bucket)
    for target in ("reports/Daily", "reports/weekly", "iris_model", "100%_done"):
        om.runtime.runs_store.create("job", target, "run", trigger="manual")
    found = {}
    for text in ("daily", "REPORTS", "_", "%", "nothing"):
        status, body = await call(jp_fetch, "runs", search=text)
        page = json.loads(body)
        assert status == 200 and page["total"] == len(page["items"]), body
        found[text] = sorted(r["target"] for r in page["items"])
    assert found == {
        "daily": ["reports/Daily"],
        "REPORTS": ["reports/Daily", "reports/weekly"],
        "_": ["100%_done", "iris_model"],
        "%": ["100%_done"],
        "nothing": [],
    }
    _, body = await call(jp_fetch, "runs", search="report", limit="1")
    assert json.loads(body)["total"] == 2
    status, _ = await call(jp_fetch, "runs", search="x" * 256)
    assert status == 400


async def test_script_metadata_and_delete(jp_fetch, database_url: str, bucket: str) -> None:
    import omega_jupyter
    from tests.scripts.test_scripts import RUN, put_script

    om = omega_jupyter.setup(url=database_url, bucket=bucket)
    put_script(om, RUN, name="etl/daily")
    put_script(om, RUN, name="etl/daily")
    om.scripts.schedule("etl/daily", "hourly")
    status, body = await call(jp_fetch, "scripts/etl/daily")
    info = json.loads(body)
    assert status == 200, body
    assert (info["name"], info["version"], info["versions"]) == ("etl/daily", 2, [1, 2])
    assert info["kind"] == "python.package" and info["kind_meta"]["modules"] == ["myscript"]
    assert "location" not in info
    status, body = await call(jp_fetch, "scripts/etl/daily", "DELETE")
    assert status == 200 and json.loads(body) == {"name": "etl/daily", "deleted": True}
    assert om.scripts.list() == [] and om.scripts.schedules().empty
    for method in ("GET", "DELETE"):
        status, body = await call(jp_fetch, "scripts/etl/daily", method)
        assert status == 404 and json.loads(body)["error"] == "not_found", body


async def test_put_schedule_with_a_map(jp_fetch) -> None:
    """A schedule whose every slot starts a run group, set over REST; bad maps change nothing."""
    await _schedule(jp_fetch)
    members = [{"x": 1}, {"x": 2}, {"x": 3}]
    status, body = await call(
        jp_fetch,
        "jobs/report/schedule",
        "PUT",
        {"when": "hourly", "map": members, "max_parallel": 2},
    )
    assert status == 200, body
    assert (json.loads(body)["map"], json.loads(body)["max_parallel"]) == (members, 2)
    _, body = await call(jp_fetch, "jobs/report/schedule")
    assert json.loads(body)["map"] == members
    for bad in (
        {"when": "daily", "map": []},
        {"when": "daily", "map": [1, 2]},
        {"when": "daily", "map": "x=1,2"},
        {"when": "daily", "max_parallel": 2},  # max_parallel without a map
        {"when": "daily", "map": members, "max_parallel": 0},
    ):
        status, out = await call(jp_fetch, "jobs/report/schedule", "PUT", bad)
        assert status == 400, (bad, out)
        assert set(json.loads(out)) == {"error", "message"}
    _, body = await call(jp_fetch, "jobs/report/schedule")
    assert (json.loads(body)["when"], json.loads(body)["map"]) == ("hourly", members)
