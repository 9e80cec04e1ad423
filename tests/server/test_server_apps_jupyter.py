"""Apps inside Jupyter at ``{base_url}omega/apps/{name}/``, under Jupyter's auth."""

from __future__ import annotations

import asyncio

import pytest
from tornado.httpclient import HTTPClientError

import omega_jupyter
from tests.apps.conftest import ASGI_APP, FLASK_APP, put_app


@pytest.fixture
def started_apps(database_url, bucket, dask_cluster):
    om = omega_jupyter.setup(
        url=database_url, bucket=bucket, dask_address=dask_cluster.scheduler_address
    )
    put_app(om, "hello", FLASK_APP)
    put_app(om, "echo", ASGI_APP)
    yield om
    for name in ("hello", "echo"):
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
