"""The apps' CLI (``om runtime app``, ``om runtime restart apps/NAME``, ``om runtime apps``)
and magics (``%om app``) on the service of ``om.runtime.app``."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from omega_jupyter.cli import app as cli
from tests.apps.conftest import FLASK_APP, put_app
from tests.magics_shell import make_shell


@pytest.fixture
def om_cli(oma, monkeypatch):
    monkeypatch.setenv("OMEGA_DASK_ADDRESS", oma.settings.dask_address)
    runner = CliRunner()
    url = oma.settings.resolved_database_url

    def run(*args: str):
        result = runner.invoke(cli, ["--url", url, "--bucket", oma.bucket, *args])
        assert result.exit_code == 0, result.output
        return result.output

    return run


def test_cli_app_start_status_logs_restart_stop(oma, om_cli) -> None:
    put_app(oma, "hello", FLASK_APP)
    assert "app hello: running on 127.0.0.1:" in om_cli("runtime", "app", "hello", "start")
    status = json.loads(om_cli("--json", "runtime", "app", "hello", "status"))
    assert status["serving"] and status["source"] == "script"
    assert "serving 'hello' (wsgi)" in om_cli("runtime", "app", "hello", "logs")
    assert "hello" in om_cli("runtime", "apps")
    restarted = om_cli("runtime", "restart", "apps/hello")
    assert "app hello: running" in restarted
    assert oma.runtime.app("hello").status()["run_id"] != status["run_id"]
    assert "app hello: cancelled" in om_cli("runtime", "app", "hello", "stop")
    bad = CliRunner().invoke(cli, ["runtime", "restart", "models/hello"])
    assert bad.exit_code != 0


def test_magics_app(oma, monkeypatch) -> None:
    monkeypatch.setenv("OMEGA_DASK_ADDRESS", oma.settings.dask_address)
    put_app(oma, "hello", FLASK_APP)
    shell = make_shell(oma.settings.resolved_database_url, oma.bucket)
    started = shell.run_cell("%om app hello start").result
    assert started.frame["serving"].tolist() == [True], started.frame
    listed = shell.run_cell("%om app").result
    assert listed.frame["name"].tolist() == ["hello"]
    logs = shell.run_cell("%om app hello logs").result
    assert any("serving 'hello'" in line for line in logs.frame["line"])
    stopped = shell.run_cell("%om app hello stop").result
    assert stopped.frame["state"].tolist() == ["cancelled"]
