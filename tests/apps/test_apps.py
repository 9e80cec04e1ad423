"""om.runtime.app(name): start, status, logs, stop (the port is freed), crashes."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from omega_jupyter.exceptions import ObjectNotFoundError
from tests.apps.conftest import ASGI_APP, CRASHING_APP, FLASK_APP, put_app


def fetch(status: dict, path: str = "") -> str:
    url = f"http://{status['host']}:{status['port']}/{path}"
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()


def port_is_free(port: int) -> bool:
    """Nothing listens on ``port``: a server can bind it (as servers do, with SO_REUSEADDR:
    the connections the app closed may linger in TIME_WAIT)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_flask_app_starts_serves_and_stops(oma):
    put_app(oma, "hello", FLASK_APP)
    app = oma.runtime.app("hello")
    assert app.status()["state"] == "stopped"
    status = app.start()
    assert status["serving"] and status["state"] == "running", status
    assert status["source"] == "script" and status["host"] == "127.0.0.1"
    page = fetch(status)
    assert "hello from flask" in page and oma.bucket in page
    assert app.start()["run_id"] == status["run_id"]  # already running: left alone
    run = oma.runtime.run_record(status["run_id"])
    assert run.kind == "app" and run.heartbeat is not None
    stopped = app.stop()
    assert stopped["state"] == "cancelled" and not stopped["serving"]
    assert port_is_free(status["port"])
    assert any("serving 'hello' (wsgi)" in line for line in app.logs())


def test_asgi_app_and_restart(oma):
    put_app(oma, "asgi", ASGI_APP)
    app = oma.runtime.app("asgi")
    first = app.start()
    assert "hello from starlette" in fetch(first)
    second = app.restart()
    assert second["serving"] and second["run_id"] != first["run_id"]
    assert first["port"] == second["port"] or port_is_free(first["port"])
    assert "hello from starlette" in fetch(second)
    app.stop()


def test_crashing_app_is_restarted_then_failed(oma):
    put_app(oma, "crash", CRASHING_APP)
    status = oma.runtime.app("crash").start(max_crashes=2, timeout=60)
    assert status["state"] == "failed", status
    assert status["crashes"] == 2 and "crashed 2 times" in status["error"]
    assert any("exited with code 7 (crash 1)" in line for line in oma.runtime.app("crash").logs())


def test_unknown_app(oma):
    with pytest.raises(ObjectNotFoundError):
        oma.runtime.app("nothing").start()
