"""Apps inside Jupyter at ``{base_url}omega/apps/{name}/``, under Jupyter's auth."""

from __future__ import annotations

import asyncio
import json

import pytest
from tornado.httpclient import HTTPClientError

import omega_jupyter
from tests.apps.conftest import ASGI_APP, FLASK_APP, put_app, put_dashboard
from tests.server.conftest import extension_config
from tests.server.test_server_apps import KERNEL_INFO, kernel_id


@pytest.fixture
def jp_server_config(database_url: str, bucket: str, dask_cluster):
    """The extension on the parametrized database and the session's Dask cluster."""
    return extension_config(
        database_url=database_url,
        bucket=bucket,
        dask_address=dask_cluster.scheduler_address,
        run_scheduler=False,
    )


@pytest.fixture
def started_apps(database_url, bucket, dask_cluster):
    om = omega_jupyter.setup(
        url=database_url, bucket=bucket, dask_address=dask_cluster.scheduler_address
    )
    put_app(om, "hello", FLASK_APP)
    put_app(om, "echo", ASGI_APP)
    put_dashboard(om, "dash")
    yield om
    for name in ("hello", "echo", "dash"):
        om.runtime.app(name).stop()


async def test_apps_inside_jupyter(jp_fetch, jp_ws_fetch, jp_base_url, started_apps) -> None:
    om = started_apps
    await asyncio.to_thread(om.runtime.app("hello").start)
    page = await jp_fetch("omega", "apps", "hello/")
    body = page.body.decode()
    assert "hello from flask" in body
    assert f"href='{jp_base_url}omega/apps/hello/other'" in body
    with pytest.raises(HTTPClientError) as missing:
        await jp_fetch("omega", "apps", "nothing/")
    assert missing.value.code == 404
    with pytest.raises(HTTPClientError) as anonymous:
        await jp_fetch("omega", "apps", "hello/", headers={"Authorization": ""})
    assert anonymous.value.code in (401, 403)
    await asyncio.to_thread(om.runtime.app("hello").stop)

    await asyncio.to_thread(om.runtime.app("echo").start)
    ws = await jp_ws_fetch("omega", "apps", "echo", "ws")
    await ws.write_message("hi")
    assert await asyncio.wait_for(ws.read_message(), 30) == "echo: hi"
    ws.close()
    await asyncio.to_thread(om.runtime.app("echo").stop)


async def test_voila_dashboard_inside_jupyter(jp_fetch, jp_ws_fetch, jp_base_url, started_apps):
    om = started_apps
    await asyncio.to_thread(om.runtime.app("dash").start, timeout=300)
    page = await jp_fetch("omega", "apps", "dash/", params={"count": "4"}, request_timeout=300)
    body = page.body.decode()
    assert "hello dashboard x8" in body
    # the page's own URLs point through Jupyter's mount
    assert f'"baseUrl": "{jp_base_url}omega/apps/dash/"' in body and '"/apps/dash/' not in body
    ws = await jp_ws_fetch("omega", "apps", "dash", "api", "kernels", kernel_id(body), "channels")
    await ws.write_message(json.dumps(KERNEL_INFO))
    while True:
        message = json.loads(await asyncio.wait_for(ws.read_message(), 60))
        if message["header"]["msg_type"] == "kernel_info_reply":
            break
    assert message["content"]["status"] == "ok"
    ws.close()


async def rest(jp_fetch, *path: str, method: str = "GET", body: dict | None = None) -> dict:
    kwargs = {"method": method}
    if method == "POST":
        kwargs["body"] = json.dumps(body or {})
    response = await jp_fetch("omega", "api", "v1", "apps", *path, **kwargs)
    return json.loads(response.body)


async def test_apps_over_rest(jp_fetch, started_apps) -> None:
    status = await rest(jp_fetch, "hello", "start", method="POST", body={"wait": True})
    assert status["serving"] and status["name"] == "hello" and status["path"] == "/apps/hello/"
    assert (await rest(jp_fetch, "hello"))["run_id"] == status["run_id"]
    listed = await rest(jp_fetch)
    assert [a["name"] for a in listed["items"]] == ["hello"] and listed["total"] == 1
    logs = await rest(jp_fetch, "hello", "logs")
    assert any("serving 'hello'" in line for line in logs["lines"])
    with pytest.raises(HTTPClientError) as bad:
        await rest(jp_fetch, "hello", "start", method="POST", body={"wait": "yes"})
    assert bad.value.code == 400
    with pytest.raises(HTTPClientError) as missing:
        await rest(jp_fetch, "nothing")
    assert missing.value.code == 404
    stopped = await rest(jp_fetch, "hello", "stop", method="POST")
    assert stopped["state"] == "cancelled" and not stopped["serving"]
