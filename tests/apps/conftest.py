"""Apps stored in a bucket, served from real processes on the session's Dask cluster."""

from __future__ import annotations

import tempfile
import textwrap
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from omega_jupyter.client import Omega

FLASK_APP = """
from flask import Flask, url_for
import os

app = Flask(__name__)

@app.route("/")
def index():
    link = url_for("other")
    return f"<h1>hello from flask</h1><a href='{link}'>other</a> " + os.environ["OMEGA_BUCKET"]

@app.route("/other")
def other():
    return "other page"
"""

ASGI_APP = """
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route, WebSocketRoute

async def index(request):
    return HTMLResponse("<h1>hello from starlette</h1> " + request.url_for("index").path)

async def echo(websocket):
    await websocket.accept()
    while True:
        text = await websocket.receive_text()
        await websocket.send_text("echo: " + text)

app = Starlette(routes=[Route("/", index, name="index"), WebSocketRoute("/ws", echo)])
"""

CRASHING_APP = """
import sys
sys.exit(7)
"""


def make_wheel(folder: Path, module: str, body: str, version: str = "0.1") -> Path:
    """A minimal wheel of one module, written directly (a real build takes seconds)."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{module}-{version}-py3-none-any.whl"
    info = f"{module}-{version}.dist-info"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(f"{module}/__init__.py", textwrap.dedent(body))
        zf.writestr(
            f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {module}\nVersion: {version}\n"
        )
        zf.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        zf.writestr(f"{info}/RECORD", "")
    return wheel


def put_app(om: Omega, name: str, body: str, module: str = "myapp") -> None:
    tmp = Path(tempfile.mkdtemp(prefix="omega-wheel-"))
    wheel = make_wheel(tmp / uuid.uuid4().hex, module, body)
    meta = {"filename": wheel.name, "modules": [module], "source": "test"}
    om.scripts._store(wheel, name, meta, None)


def put_dashboard(om: Omega, name: str) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("greeting = 'hello'\ncount = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell("print(f'{greeting} dashboard x{count * 2}')"),
    ]
    om.jobs.put(nb, name)


@pytest.fixture
def oma(om: Omega, dask_cluster) -> Iterator[Omega]:
    """A client on the session's Dask cluster; its apps are stopped afterwards."""
    client = Omega(om.settings.replace(dask_address=dask_cluster.scheduler_address))
    yield client
    from omega_jupyter.apps.app_run import list_apps

    for app in list_apps(client):
        if app["state"] in ("queued", "running"):
            client.runtime.app(app["name"]).stop()
