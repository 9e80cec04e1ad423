"""``POST /jobs/{name}/run`` and ``/scripts/{name}/run`` with ``"result_stream"``: the run's
started/finished messages land in that stream (a real Dask cluster and kernel)."""

from __future__ import annotations

import asyncio
import json

import pytest
from traitlets.config import Config

import omega_jupyter
from tests.scripts.test_scripts import RUN, put_script

from .conftest import extension_config
from .test_server_jobs import notebook
from .test_server_jupyter import call


@pytest.fixture
def jp_server_config(database_url: str, bucket: str, dask_cluster) -> Config:
    return extension_config(
        database_url=database_url,
        bucket=bucket,
        dask_address=dask_cluster.scheduler_address,
        run_scheduler=False,
    )


async def _ended(jp_fetch, run_id: str) -> dict:  # type: ignore[no-untyped-def]
    for _ in range(600):
        _, body = await call(jp_fetch, f"runs/{run_id}")
        run = json.loads(body)
        if run["state"] in ("succeeded", "failed", "cancelled"):
            return run
        await asyncio.sleep(0.2)
    raise AssertionError(f"run {run_id} did not end")


async def _read(om, count: int, since: int = 0) -> list:  # type: ignore[no-untyped-def]
    """The stream's messages once ``count`` are there: 'finished' is published just after the
    run's row ends, so a reader that sees the final state may be a moment ahead of it."""
    for _ in range(150):
        messages = om.streams.get("events").read(since=since)
        if len(messages) >= count:
            return messages
        await asyncio.sleep(0.2)
    return om.streams.get("events").read(since=since)


async def test_runs_publish_to_the_named_stream(jp_fetch, database_url: str, bucket: str) -> None:
    om = omega_jupyter.setup(url=database_url, bucket=bucket)
    await call(jp_fetch, "jobs/report", "PUT", notebook())
    body = {"parameters": {"x": 21}, "result_stream": "events"}
    status, out = await call(jp_fetch, "jobs/report/run", "POST", body)
    assert status == 202, out
    run_id = json.loads(out)["run"]
    run = await _ended(jp_fetch, run_id)
    assert run["state"] == "succeeded", run["error"]
    assert run["parameters"] == {"x": 21}  # the stream is not a notebook parameter
    messages = [m.data for m in await _read(om, 2)]
    assert [(m["event"], m["run_id"], m["kind"]) for m in messages] == [
        ("started", run_id, "job"),
        ("finished", run_id, "job"),
    ]
    assert messages[0]["parameters"] == {"x": 21} and messages[1]["state"] == "succeeded"

    put_script(om, "VERSION = 3\n" + RUN)
    body = {"day": "2024-01-01", "result_stream": "events"}
    status, out = await call(jp_fetch, "scripts/myscript/run", "POST", body)
    assert status == 202, out
    run_id = json.loads(out)["run"]
    run = await _ended(jp_fetch, run_id)
    assert run["state"] == "succeeded", run["error"]
    finished = await _read(om, 2, since=2)
    assert [m.data["event"] for m in finished] == ["started", "finished"]
    assert finished[1].data["result"]["value"]["kwargs"] == {"day": "2024-01-01"}


@pytest.mark.parametrize("path", ["jobs/report/run", "scripts/myscript/run"])
@pytest.mark.parametrize("stream", ["a@b", "", 7, ["x"]])
async def test_bad_stream_name_is_400_and_runs_nothing(
    jp_fetch, database_url: str, bucket: str, path: str, stream: object
) -> None:
    om = omega_jupyter.setup(url=database_url, bucket=bucket)
    await call(jp_fetch, "jobs/report", "PUT", notebook())
    put_script(om, "VERSION = 1\n" + RUN)
    status, out = await call(jp_fetch, path, "POST", {"result_stream": stream})
    assert status == 400, out
    assert set(json.loads(out)) == {"error", "message"}
    assert om.runtime.runs().empty and om.streams.list() == []
