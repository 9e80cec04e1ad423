"""Apps through both mounts: ``om serve`` at ``/apps/{name}/`` (API key, then a session
cookie) and Jupyter at ``{base_url}omega/apps/{name}/``; HTTP and WebSockets; 401 and 404."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator

import pytest
import requests
import tornado.websocket
from tornado.httpclient import HTTPClientError, HTTPRequest

import omega_jupyter
from tests.apps.conftest import ASGI_APP, FLASK_APP, put_app, put_dashboard
from tests.server.test_server_standalone import Server, server  # noqa: F401 (fixture)


@pytest.fixture
def apps_bucket(server: Server, dask_cluster) -> Iterator[tuple]:  # noqa: F811
    """A bucket with a Flask and an ASGI app stored, its client on the session's cluster."""
    bucket = f"b{uuid.uuid4().hex[:8]}"
    om = omega_jupyter.setup(
        url=server.env["OMEGA_DATABASE_URL"],
        bucket=bucket,
        dask_address=dask_cluster.scheduler_address,
        home=server.env["OMEGA_HOME"],
    )
    put_app(om, "hello", FLASK_APP)
    put_app(om, "echo", ASGI_APP)
    put_dashboard(om, "dash")
    yield om, bucket
    for name in ("hello", "echo", "dash"):
        om.runtime.app(name).stop()


async def ws_round_trip(url: str, headers: dict, text: str) -> str:
    connection = await tornado.websocket.websocket_connect(HTTPRequest(url, headers=headers))
    try:
        await connection.write_message(text)
        return await asyncio.wait_for(connection.read_message(), 30)
    finally:
        connection.close()


def test_apps_through_om_serve(server: Server, apps_bucket) -> None:  # noqa: F811
    om, bucket = apps_bucket
    root = server.url.removesuffix("/api/v1")
    key, other = server.key(bucket), server.key(f"c{uuid.uuid4().hex[:8]}")
    auth = {"Authorization": f"Bearer {key}"}
    hello = om.runtime.app("hello").start()
    assert hello["serving"], hello

    assert requests.get(f"{root}/apps/hello/", timeout=30).status_code == 401
    assert (
        requests.get(
            f"{root}/apps/hello/", headers={"Authorization": f"Bearer {other}"}, timeout=30
        ).status_code
        == 404
    )  # another bucket's app
    page = requests.get(f"{root}/apps/hello/", headers=auth, timeout=30)
    assert page.status_code == 200, page.text
    assert "hello from flask" in page.text and bucket in page.text
    assert "href='/apps/hello/other'" in page.text  # the app's links go through the proxy
    assert requests.get(f"{root}/apps/hello/other", headers=auth, timeout=30).text == "other page"
    assert requests.get(f"{root}/apps/hello/nothing", headers=auth, timeout=30).status_code == 404
    assert requests.get(f"{root}/apps/nothing/", headers=auth, timeout=30).status_code == 404

    browser = requests.Session()  # one key check, then the session cookie
    first = browser.get(f"{root}/apps/hello/?api_key={key}", timeout=30, allow_redirects=False)
    assert first.status_code == 302 and "api_key" not in first.headers["Location"]
    assert "hello from flask" in browser.get(f"{root}/apps/hello/", timeout=30).text

    om.runtime.app("hello").stop()
    stopped = requests.get(f"{root}/apps/hello/", headers=auth, timeout=30)
    assert stopped.status_code in (502, 503)

    echo = om.runtime.app("echo").start()
    assert echo["serving"], echo
    page = requests.get(f"{root}/apps/echo/", headers=auth, timeout=30)
    assert "hello from starlette" in page.text and "/apps/echo/" in page.text
    ws = root.replace("http://", "ws://") + "/apps/echo/ws"
    assert asyncio.run(ws_round_trip(ws, auth, "hi")) == "echo: hi"
    with pytest.raises(HTTPClientError) as refused:
        asyncio.run(ws_round_trip(ws, {}, "hi"))
    assert refused.value.code == 401


KERNEL_INFO = {
    "header": {
        "msg_id": "omega-test-1",
        "msg_type": "kernel_info_request",
        "username": "test",
        "session": "omega-test",
        "version": "5.3",
        "date": "",
    },
    "parent_header": {},
    "metadata": {},
    "content": {},
    "channel": "shell",
    "buffers": [],
}


async def kernel_round_trip(url: str, headers: dict) -> dict:
    """Send a kernel_info_request over a Voilà kernel's WebSocket; the reply to it."""
    connection = await tornado.websocket.websocket_connect(HTTPRequest(url, headers=headers))
    try:
        await connection.write_message(json.dumps(KERNEL_INFO))
        while True:
            message = json.loads(await asyncio.wait_for(connection.read_message(), 60))
            if message.get("parent_header", {}).get("msg_id") == "omega-test-1" and (
                message["header"]["msg_type"] == "kernel_info_reply"
            ):
                return message
    finally:
        connection.close()


def kernel_id(page: str) -> str:
    match = re.search(r"kernelId[\"']?\s*[:=]\s*[\"']([0-9a-f-]{36})", page)
    assert match, page[:2000]
    return match[1]


def test_voila_dashboard_through_om_serve(server: Server, apps_bucket) -> None:  # noqa: F811
    om, bucket = apps_bucket
    root = server.url.removesuffix("/api/v1")
    auth = {"Authorization": f"Bearer {server.key(bucket)}"}
    dash = om.runtime.app("dash").start(timeout=300)
    assert dash["serving"] and dash["source"] == "notebook", dash
    page = requests.get(f"{root}/apps/dash/?greeting=hey&count=5", headers=auth, timeout=300)
    assert page.status_code == 200, page.text[:500]
    assert "hey dashboard x10" in page.text  # the URL query set the parameters
    assert "print(f" not in page.text  # outputs only, no code
    ws = (
        root.replace("http://", "ws://") + f"/apps/dash/api/kernels/{kernel_id(page.text)}/channels"
    )
    reply = asyncio.run(kernel_round_trip(ws, auth))
    assert reply["content"]["status"] == "ok"
    om.runtime.app("dash").stop()
