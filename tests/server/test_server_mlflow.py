"""MLflow clients log into omega experiments: the real ``mlflow`` client (a subprocess with
MLFLOW_TRACKING_URI/TOKEN) against a real ``om serve`` at ``/mlflow`` and against the Jupyter
extension at ``{base_url}omega/mlflow``, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid

import pytest
import requests

import omega_jupyter
from omega_jupyter.server.apikeys import ApiKeyService
from omega_jupyter.storage.engine import get_database
from tests.server.test_server_standalone import Server, server  # noqa: F401 (the fixture)

pytest.importorskip("mlflow", reason="the test extra installs mlflow-skinny")

# The client: MLflow's fluent API, then its own reads; prints what it saw as JSON.
CLIENT = """
import json, sys
import mlflow
from mlflow.exceptions import MlflowException

name = sys.argv[1]
out = {}
try:
    exp_id = mlflow.set_experiment(name).experiment_id
    with mlflow.start_run(run_name="first") as run:
        mlflow.log_param("C", 1.0)
        mlflow.log_params({"solver": "lbfgs", "max_iter": 100})
        for step in range(5):
            mlflow.log_metric("acc", 0.5 + step / 10, step=step)
        mlflow.log_metrics({"f1": 0.9, "auc": 0.95}, step=4)
        mlflow.set_tag("team", "a")
    with mlflow.start_run() as second:
        mlflow.log_metric("acc", 0.1)
    client = mlflow.MlflowClient()
    got = client.get_run(run.info.run_id)
    out["experiment_id"] = exp_id
    out["run_id"] = run.info.run_id
    out["status"] = got.info.status
    out["params"] = got.data.params
    out["metrics"] = got.data.metrics
    out["tags"] = {k: v for k, v in got.data.tags.items() if not k.startswith("mlflow.source")}
    found = mlflow.search_runs(experiment_ids=[exp_id], filter_string="metrics.acc > 0.5")
    out["found"] = found["run_id"].tolist()
    ordered = mlflow.search_runs(experiment_ids=[exp_id], order_by=["metrics.acc ASC"])
    out["ordered"] = ordered["tags.mlflow.runName"].tolist()
    history = client.get_metric_history(run.info.run_id, "acc")
    out["history"] = [(m.step, m.value) for m in history]
    out["by_param"] = len(client.search_runs([exp_id], "params.solver = 'lbfgs'"))
except MlflowException as exc:
    out["error"] = exc.error_code
    out["message"] = exc.message
print(json.dumps(out))
"""

# Another bucket's view: the experiment is not there, by name or by id.
PEEK = """
import json, sys
import mlflow
from mlflow.exceptions import MlflowException

client = mlflow.MlflowClient()
out = {}
try:
    out["by_name"] = client.get_experiment_by_name(sys.argv[1]) is not None
except MlflowException as exc:
    out["by_name"] = exc.error_code
try:
    client.search_runs([sys.argv[2]])
    out["search"] = "ok"
except MlflowException as exc:
    out["search"] = exc.error_code
print(json.dumps(out))
"""


def run_client(script: str, uri: str, token: str, *args: str, cwd: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMEGA_", "MLFLOW_"))}
    env.update(
        MLFLOW_TRACKING_URI=uri,
        MLFLOW_TRACKING_TOKEN=token,
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",  # an error answer is final: no backing off
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def check_round_trip(out: dict, om: omega_jupyter.Omega, name: str) -> None:
    """What the client saw, and what omega's own API shows of the same runs."""
    assert "error" not in out, out
    assert out["status"] == "FINISHED"
    assert out["params"] == {"C": "1.0", "solver": "lbfgs", "max_iter": "100"}
    assert out["metrics"] == {"acc": 0.9, "f1": 0.9, "auc": 0.95}
    assert out["tags"]["team"] == "a" and out["tags"]["mlflow.runName"] == "first"
    assert out["found"] == [out["run_id"]]
    assert out["ordered"] == ["run-2", "first"]
    assert out["history"] == [[s, 0.5 + s / 10] for s in range(5)]
    assert out["by_param"] == 1

    exp = om.runtime.experiment(name)
    metrics = exp.data(event="metric", key="acc", run=1)
    assert metrics["step"].tolist() == [0, 1, 2, 3, 4]
    assert metrics["value"].tolist() == [0.5 + s / 10 for s in range(5)]
    params = exp.data(event="param", run=1).set_index("key")["value"].to_dict()
    assert params == {"C": "1.0", "solver": "lbfgs", "max_iter": "100"}
    runs = exp.runs().set_index("run")
    assert runs.loc[1, "status"] == "succeeded" and runs.loc[2, "status"] == "succeeded"
    assert runs.loc[1, "metric.acc"] == 0.9 and runs.loc[2, "metric.acc"] == 0.1
    tags = exp.data(event="tag", run=1).set_index("key")["value"].to_dict()
    assert tags["team"] == "a"


def _bucket() -> str:
    return f"b{uuid.uuid4().hex[:8]}"


def test_the_mlflow_client_logs_into_omega_experiments(server: Server, tmp_path) -> None:  # noqa: F811
    a, other = _bucket(), _bucket()
    key_a, key_other = server.key(a), server.key(other)
    uri = server.url.removesuffix("/api/v1") + "/mlflow"
    out = run_client(CLIENT, uri, key_a, "mlf-iris", cwd=str(tmp_path))
    om = omega_jupyter.setup(url=server.env["OMEGA_DATABASE_URL"], bucket=a)
    check_round_trip(out, om, "mlf-iris")

    # another bucket's key sees no such experiment, by name or by id
    peek = run_client(PEEK, uri, key_other, "mlf-iris", out["experiment_id"], cwd=str(tmp_path))
    assert peek == {"by_name": False, "search": "RESOURCE_DOES_NOT_EXIST"}
    # a wrong token is an authentication error in the client
    wrong = "omk_000000000000_" + "x" * 43
    denied = run_client(CLIENT, uri, wrong, "mlf-iris", cwd=str(tmp_path))
    assert denied["error"] == "UNAUTHENTICATED", denied


def test_omega_runs_are_mlflow_runs(server: Server) -> None:  # noqa: F811
    """Runs logged with the Python API show in MLflow's search, params as text."""
    bucket = _bucket()
    om = omega_jupyter.setup(url=server.env["OMEGA_DATABASE_URL"], bucket=bucket)
    with om.runtime.experiment("native") as exp:
        exp.log_param("C", 0.5)
        exp.log_metric("acc", 0.8, step=2)
    base = server.url.removesuffix("/api/v1") + "/mlflow/api/2.0/mlflow"
    headers = {"Authorization": f"Bearer {server.key(bucket)}"}
    r = requests.get(
        f"{base}/experiments/get-by-name", params={"experiment_name": "native"}, headers=headers
    )
    assert r.status_code == 200, r.text
    exp_id = r.json()["experiment"]["experiment_id"]
    r = requests.post(f"{base}/runs/search", json={"experiment_ids": [exp_id]}, headers=headers)
    [run] = r.json()["runs"]
    assert run["info"]["status"] == "FINISHED"
    assert run["data"]["params"] == [{"key": "C", "value": "0.5"}]
    assert [(m["key"], m["value"], m["step"]) for m in run["data"]["metrics"]] == [("acc", 0.8, 2)]


def test_bad_mlflow_requests_are_clear_4xx(server: Server) -> None:  # noqa: F811
    bucket = _bucket()
    db = get_database(server.env["OMEGA_DATABASE_URL"])
    writer = server.key(bucket)
    reader = ApiKeyService(db).create(name="reader", buckets=[bucket], role="read")[1]
    base = server.url.removesuffix("/api/v1") + "/mlflow/api/2.0/mlflow"

    def send(verb: str, path: str, key: str = writer, **kwargs) -> requests.Response:
        r = requests.request(verb, f"{base}/{path}", headers=_auth(key), **kwargs)
        assert 400 <= r.status_code < 500, (verb, path, r.status_code, r.text)
        assert set(r.json()) == {"error_code", "message"} and r.json()["message"], r.text
        return r

    r = requests.post(f"{base}/experiments/create", json={"name": "e"}, headers=_auth(writer))
    exp_id = r.json()["experiment_id"]
    r = requests.post(f"{base}/runs/create", json={"experiment_id": exp_id}, headers=_auth(writer))
    run_id = r.json()["run"]["info"]["run_id"]
    cases = [
        ("POST", "experiments/create", {"json": {"name": "e"}}, 400, "RESOURCE_ALREADY_EXISTS"),
        ("POST", "experiments/create", {"json": {}}, 400, "INVALID_PARAMETER_VALUE"),
        ("POST", "experiments/create", {"data": b"{not json"}, 400, "INVALID_PARAMETER_VALUE"),
        ("POST", "experiments/create", {"json": [1]}, 400, "INVALID_PARAMETER_VALUE"),
        ("GET", "experiments/get", {"params": {"experiment_id": "f" * 16}}, 404, None),
        ("GET", "experiments/get-by-name", {"params": {"experiment_name": "nope"}}, 404, None),
        ("POST", "runs/log-metric", {"json": {"key": "m", "value": 1}}, 400, None),
        (
            "POST",
            "runs/log-metric",
            {"json": {"run_id": "zz-1", "key": "m", "value": 1}},
            404,
            None,
        ),
        ("POST", "runs/log-metric", {"json": {"run_id": run_id, "key": "m"}}, 400, None),
        (
            "POST",
            "runs/log-metric",
            {"json": {"run_id": run_id, "key": "m", "value": "x"}},
            400,
            None,
        ),
        (
            "POST",
            "runs/log-metric",
            {"json": {"run_id": run_id, "key": "m", "value": 1, "step": "a"}},
            400,
            None,
        ),
        (
            "POST",
            "runs/log-parameter",
            {"json": {"run_id": run_id, "key": "", "value": "1"}},
            400,
            None,
        ),
        ("POST", "runs/log-batch", {"json": {"run_id": run_id, "metrics": "m"}}, 400, None),
        ("POST", "runs/log-batch", {"json": {"run_id": f"{exp_id}-99", "metrics": []}}, 404, None),
        ("POST", "runs/update", {"json": {"run_id": run_id, "status": "DONE"}}, 400, None),
        ("POST", "runs/search", {"json": {"experiment_ids": []}}, 400, None),
        (
            "POST",
            "runs/search",
            {"json": {"experiment_ids": [exp_id], "filter": "metrics.m >"}},
            400,
            None,
        ),
        (
            "POST",
            "runs/search",
            {"json": {"experiment_ids": [exp_id], "max_results": -1}},
            400,
            None,
        ),
        ("GET", "metrics/get-history", {"params": {"run_id": run_id}}, 400, None),
        ("GET", "runs/log-metric", {}, 405, "BAD_REQUEST"),
        ("POST", "runs/delete", {"json": {}}, 404, "ENDPOINT_NOT_FOUND"),
        (
            "POST",
            "runs/log-metric",
            {"json": {"run_id": run_id, "key": "m", "value": 1}, "key": reader},
            403,
            "PERMISSION_DENIED",
        ),
    ]
    for verb, path, kwargs, status, code in cases:
        key = kwargs.pop("key", writer)
        r = send(verb, path, key, **kwargs)
        assert r.status_code == status, (verb, path, kwargs, r.text)
        if code:
            assert r.json()["error_code"] == code, (verb, path, r.text)
    r = send("POST", "runs/search", json={"experiment_ids": [exp_id]}, key="nonsense")
    assert r.status_code == 401 and r.json()["error_code"] == "UNAUTHENTICATED"
    # a read key may search what it may read
    r = requests.post(
        f"{base}/runs/search", json={"experiment_ids": [exp_id]}, headers=_auth(reader)
    )
    assert r.status_code == 200 and len(r.json()["runs"]) == 1
    r = requests.get(f"{server.url.removesuffix('/api/v1')}/mlflow/other", headers=_auth(writer))
    assert r.status_code == 404 and r.json()["error_code"] == "ENDPOINT_NOT_FOUND"


def _auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


async def test_the_mlflow_client_through_jupyter(
    jp_fetch,
    jp_serverapp,
    jp_base_url: str,
    jp_http_port: int,
    database_url: str,
    bucket: str,
    tmp_path,
) -> None:
    """The Jupyter mount: its token as MLFLOW_TRACKING_TOKEN (sent as ``Bearer``); ``jp_fetch``
    is what starts the HTTP server."""
    uri = f"http://127.0.0.1:{jp_http_port}{jp_base_url.rstrip('/')}/omega/mlflow"
    token = jp_serverapp.identity_provider.token
    out = await asyncio.to_thread(run_client, CLIENT, uri, token, "jp-iris", cwd=str(tmp_path))
    check_round_trip(out, omega_jupyter.setup(url=database_url, bucket=bucket), "jp-iris")
    denied = await asyncio.to_thread(run_client, PEEK, uri, "wrong", "x", "0", cwd=str(tmp_path))
    assert denied["search"] in ("UNAUTHENTICATED", "PERMISSION_DENIED"), denied
