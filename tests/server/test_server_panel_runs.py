"""``GET /panel/runs`` (the panel's Runs section and Runs view) and ``GET /runs/{id}/export``
through the Jupyter mount, with a real Dask cluster and kernels, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from traitlets.config import Config

import omega_jupyter

from .conftest import extension_config
from .test_server_jobs import _group_done, notebook
from .test_server_jupyter import call


@pytest.fixture
def jp_server_config(database_url: str, bucket: str, dask_cluster) -> Config:
    return extension_config(
        database_url=database_url, bucket=bucket, dask_address=dask_cluster.scheduler_address
    )


async def _page(jp_fetch, **query) -> dict:
    status, body = await call(jp_fetch, "panel/runs", **query)
    assert status == 200, body
    return json.loads(body)


async def test_a_group_is_one_item_with_counts_and_failed_members(
    jp_fetch, database_url: str, bucket: str
) -> None:
    om = omega_jupyter.setup(url=database_url, bucket=bucket)
    single = om.runtime.runs_store.create("model", "m", "fit", state="failed", error="no data")
    await call(jp_fetch, "jobs/report", "PUT", notebook())
    status, body = await call(
        jp_fetch, "jobs/report/map", "POST", {"members": [1, 2, None], "param": "x"}
    )
    assert status == 202, body
    group_id = json.loads(body)["group"]
    await _group_done(jp_fetch, group_id)

    page = await _page(jp_fetch, collapse="true")
    assert page["total"] == 2  # the group (newest) and the single run, no member on its own
    group, run = page["items"]
    assert (group["type"], group["id"], group["target"]) == ("group", group_id, "report")
    assert group["counts"]["succeeded"] == 2 and group["counts"]["failed"] == 1
    assert group["total"] == 3 and group["done"] is True
    [failed] = group["failed"]
    assert failed["parameters"] == {"x": None} and "TypeError" in failed["error"]
    assert (run["type"], run["id"], run["trigger"]) == ("run", single, "api")
    # A state filter keeps the groups with a member in that state.
    assert (await _page(jp_fetch, collapse="true", state="failed"))["total"] == 2
    assert (await _page(jp_fetch, collapse="true", state="running"))["total"] == 0
    assert (await _page(jp_fetch, collapse="true", kind="model"))["total"] == 1
    # The panel's search box: runs and groups whose target holds the text, any case.
    found = await _page(jp_fetch, collapse="true", search="REP")
    assert [(i["type"], i["target"]) for i in found["items"]] == [("group", "report")]
    assert [i["id"] for i in (await _page(jp_fetch, collapse="true", search="m"))["items"]] == [
        single
    ]
    assert (await _page(jp_fetch, collapse="true", search="%"))["total"] == 0  # a literal %
    assert (await _page(jp_fetch, search="repo"))["total"] == 3  # the view: every member

    # The Runs view: every run; the members say trigger "map".
    members = await _page(jp_fetch, trigger="map", sort="state", order="asc")
    assert members["total"] == 3
    assert [m["state"] for m in members["items"]] == ["failed", "succeeded", "succeeded"]
    assert {m["trigger"] for m in members["items"]} == {"map"}
    assert (await _page(jp_fetch, group=group_id))["total"] == 3
    assert (await _page(jp_fetch, target="m"))["total"] == 1
    by_duration = await _page(jp_fetch, sort="duration")
    assert by_duration["items"][-1]["id"] == single  # never started: last
    assert (await _page(jp_fetch, limit="2", offset="2"))["items"][0]["type"] == "run"

    # The executed notebook of a member, as HTML.
    ok = next(m for m in members["items"] if m["state"] == "succeeded")
    response = await jp_fetch(
        "omega", "api", "v1", "runs", ok["id"], "export", params={"format": "html"}
    )
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert f'filename="run-{ok["id"]}.html"' in response.headers["Content-Disposition"]
    assert "<html" in response.body.decode()


@pytest.mark.parametrize(
    "query",
    [
        {"sort": "bogus"},
        {"order": "up"},
        {"state": "done"},
        {"trigger": "cron"},
        {"limit": "0"},
        {"search": "x" * 256},
    ],
)
async def test_bad_panel_runs_query_is_400(jp_fetch, query) -> None:
    status, body = await call(jp_fetch, "panel/runs", **query)
    assert status == 400 and json.loads(body)["message"], body


async def test_export_of_an_unknown_run_is_404(jp_fetch) -> None:
    status, body = await call(jp_fetch, "runs/nope/export")
    assert status == 404, body
