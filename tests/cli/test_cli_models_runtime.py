"""``om models``, ``om runtime`` and ``om cluster`` against real databases and Dask."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import skops.io as sio
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from omega_jupyter.cli import app
from omega_jupyter.client import Omega


@pytest.fixture
def om_cli(om: Omega, dask_cluster, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run ``om`` in-process on the test database, bucket and Dask cluster."""
    monkeypatch.setenv("OMEGA_DASK_ADDRESS", dask_cluster.scheduler_address)
    X, y = load_iris(return_X_y=True, as_frame=True)
    om.datasets.put(X.assign(target=y), "iris")
    om.models.put(LogisticRegression(max_iter=500), "clf")
    runner = CliRunner()
    url = om.settings.resolved_database_url

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, ["--url", url, "--bucket", om.bucket, *args])
        return result.exit_code, result.stdout, result.stderr

    return run


def _ok(outcome: tuple[int, str, str]) -> str:
    code, out, err = outcome
    assert code == 0, (out, err)
    return out


def test_models_commands(om_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert "clf" in _ok(om_cli("models", "ls"))
    fit = json.loads(
        _ok(om_cli("--json", "runtime", "model", "clf", "fit", "iris[^target]", "iris[target]"))
    )
    assert fit["result"] == {"model": "clf", "version": 2}
    assert "prod" in _ok(om_cli("models", "tag", "clf", "2", "prod"))
    versions = json.loads(_ok(om_cli("--json", "models", "versions", "clf")))
    assert [(v["version"], v["tags"]) for v in versions] == [(1, ""), (2, "prod")]
    assert "fit of v1 on iris@1" in versions[1]["lineage"]
    info = json.loads(_ok(om_cli("--json", "models", "info", "clf@prod")))
    assert info["version"] == 2 and info["kind_meta"]["format"] == "skops"
    target = tmp_path / "clf.skops"
    _ok(om_cli("models", "get", "clf@prod", str(target)))
    assert hasattr(sio.load(target, trusted=[]), "coef_")
    _ok(om_cli("models", "drop", "clf", "--version", "1"))
    code, _out, err = om_cli("models", "info", "clf@1")
    assert code == 1 and "error: model 'clf' has no version 1" in err


def test_runtime_commands(om_cli) -> None:  # type: ignore[no-untyped-def]
    _ok(om_cli("runtime", "model", "clf", "fit", "iris[^target]", "iris[target]"))
    out = _ok(om_cli("runtime", "model", "clf", "predict", "iris[^target]", "--result", "pred"))
    assert "(150,)" in out
    runs = json.loads(_ok(om_cli("--json", "runtime", "runs")))
    assert [r["action"] for r in runs] == ["predict", "fit"]
    assert {r["state"] for r in runs} == {"succeeded"}
    again = json.loads(_ok(om_cli("--json", "runtime", "result", runs[1]["id"])))
    assert again["result"] == {"model": "clf", "version": 2}
    status = json.loads(_ok(om_cli("--json", "runtime", "status")))
    assert status["workers"] == 1 and status["address"]
    assert "runs" not in _ok(om_cli("runtime", "log"))
    code, _out, err = om_cli("runtime", "model", "clf", "predict", "nothere")
    assert code == 1 and "dataset 'nothere' does not exist" in err
    failed = json.loads(_ok(om_cli("--json", "runtime", "runs", "--state", "failed")))
    assert len(failed) == 1


def test_cluster_start_status_stop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMEGA_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'o.db'}"

    def run(*args: str) -> str:
        result = runner.invoke(app, ["--url", url, "--json", *args])
        assert result.exit_code == 0, (result.stdout, result.stderr)
        return json.loads(result.stdout)

    assert run("cluster", "status") == {"running": False}
    started = run("cluster", "start", "--threads", "1")
    try:
        assert started["address"].startswith("tcp://127.0.0.1:")
        assert run("cluster", "status")["address"] == started["address"]
        assert run("runtime", "status")["address"] == started["address"]
    finally:
        assert run("cluster", "stop") == {"stopped": True}
    assert run("cluster", "status") == {"running": False}
