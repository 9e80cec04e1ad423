"""``om serve``: a real server process on 127.0.0.1 with API keys, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from omega_jupyter.server.apikeys import ApiKeyService
from omega_jupyter.server.routes import ROUTES, handler_verbs, sample_path
from omega_jupyter.storage.engine import get_database


def _om(*args: str, env: dict) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", "from omega_jupyter.cli import main; main()", *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"om {' '.join(args)}: {done.stderr}"
    return done


class Server:
    def __init__(self, url: str, env: dict) -> None:
        self.url = url
        self.env = env

    def key(self, *buckets: str) -> str:
        """A new key for ``buckets`` (made in-process: same database, no CLI start-up)."""
        db = get_database(self.env["OMEGA_DATABASE_URL"])
        return ApiKeyService(db).create(name="test", buckets=list(buckets))[1]

    def cli_key(self, *buckets: str) -> str:
        """A new key made with ``om apikey create``: the key is stdout's last token."""
        args = ["apikey", "create", "--name", "test", "--bucket", buckets[0]]
        if len(buckets) > 1:
            args += ["--buckets", ",".join(buckets[1:])]
        return _om(*args, env=self.env).stdout.split()[-1]


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("serve_home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMEGA_")}
    env.update(OMEGA_DATABASE_URL=database_url, OMEGA_HOME=str(home))
    cmd = [sys.executable, "-c", "from omega_jupyter.cli import main; main()"]
    proc = subprocess.Popen(
        [*cmd, "serve", "--host", "127.0.0.1", "--port", "0", "--max-body-mb", "1"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stderr.readline() if proc.stderr else ""
        match = re.search(r"http://127\.0\.0\.1:(\d+)/api/v1", line)
        assert match, f"server did not start: {line}"
        yield Server(f"http://127.0.0.1:{match[1]}/api/v1", env)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert Path(home).exists()


def _auth(key: str, bucket: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {key}"}
    if bucket:
        headers["Bucket"] = bucket
    return headers


def _b() -> str:
    return f"b{uuid.uuid4().hex[:8]}"


def test_ping_health_and_openapi_need_no_key(server: Server) -> None:
    assert requests.get(f"{server.url}/ping").json()["ping"] == "ok"
    assert requests.get(f"{server.url}/health").json()["status"] == "ok"
    doc = requests.get(f"{server.url}/openapi.json").json()
    assert doc["servers"][0]["url"] == "/api/v1"


def test_every_route_requires_a_key(server: Server) -> None:
    key = server.key(_b())
    checked = 0
    for route in ROUTES:
        if route.public:
            continue
        path = sample_path(route.pattern)
        for verb in ("get", "post", "put", "delete"):
            if verb not in handler_verbs(route.handler):
                continue
            for headers in (
                {},
                {"Authorization": "Bearer omk_000000000000_" + "x" * 43},
                {"Authorization": key},  # no scheme
                {"Authorization": f"Basic {key}"},
            ):
                r = requests.request(verb.upper(), f"{server.url}/{path}", headers=headers)
                assert r.status_code == 401, (verb, path, headers, r.text)
                assert r.json()["error"] == "unauthorized"
                checked += 1
    assert checked >= 20
    r = requests.get(f"{server.url}/unknown/route")
    assert r.status_code == 401


def test_keys_only_see_their_buckets(server: Server) -> None:
    a, b = _b(), _b()
    key_a, key_b, key_ab = server.key(a), server.key(b), server.key(a, b)
    r = requests.put(f"{server.url}/datasets/secret", json=[{"x": 1}], headers=_auth(key_a))
    assert r.status_code == 201, r.text
    assert requests.get(f"{server.url}/datasets", headers=_auth(key_b)).json()["items"] == []
    r = requests.get(f"{server.url}/datasets/secret", headers=_auth(key_b))
    assert r.status_code == 404
    for method in ("GET", "PUT", "DELETE"):
        r = requests.request(
            method, f"{server.url}/datasets/secret", headers=_auth(key_b, a), json=[{"x": 2}]
        )
        assert r.status_code == 403, r.text
        assert r.json()["error"] == "forbidden"
    r = requests.get(f"{server.url}/datasets/secret", headers=_auth(key_ab, a))
    assert r.json()["data"] == [{"x": 1}]
    r = requests.get(f"{server.url}/datasets/secret", headers=_auth(key_ab))
    assert r.json()["data"] == [{"x": 1}]  # the key's first bucket is its default


def test_datasets_over_http(server: Server) -> None:
    h = _auth(server.key(_b()))
    df = pd.DataFrame({"k": range(50), "v": [f"v{i}" for i in range(50)]})
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    ph = {**h, "Content-Type": "application/vnd.apache.parquet"}
    assert requests.put(f"{server.url}/datasets/p", data=buf.getvalue(), headers=ph).ok
    csv = "k,v\n50,v50\n"
    ch = {**h, "Content-Type": "text/csv"}
    r = requests.post(f"{server.url}/datasets/p?append=true", data=csv, headers=ch)
    assert r.status_code == 200 and r.json()["rows"] == 51
    r = requests.get(f"{server.url}/datasets/p?limit=3&offset=48", headers=h)
    assert [row["k"] for row in r.json()["data"]] == [48, 49, 50]
    r = requests.get(f"{server.url}/datasets/p?format=parquet&k__between=10,12", headers=h)
    assert pd.read_parquet(io.BytesIO(r.content))["k"].tolist() == [10, 11, 12]
    r = requests.get(f"{server.url}/datasets?limit=1", headers=h)
    assert r.json()["total"] == 1 and r.json()["items"][0]["name"] == "p"


def test_bad_input_changes_nothing_and_server_stays_up(server: Server) -> None:
    h = _auth(server.key(_b()))
    url = f"{server.url}/datasets"
    assert requests.put(f"{url}/base", json=[{"a": 1}], headers=h).status_code == 201
    cases = [
        ("PUT", f"{url}/big", {"data": b"x" * (1024 * 1024 + 10)}, 413),
        ("PUT", f"{url}/bad", {"data": b"{", "headers": {"Content-Type": "application/json"}}, 400),
        ("PUT", f"{url}/bad", {"data": b"a,b\n1", "headers": {"Content-Type": "text/xml"}}, 400),
        ("PUT", f"{url}/bad", {"data": b"PAR1garbage"}, 400),
        ("GET", f"{url}/base?a'%20OR%201=1--=1", {}, 400),
        ("GET", f"{url}/base?columns=a%22)%3BDROP%20TABLE%20om_objects%3B--", {}, 400),
        ("GET", f"{url}/base?limit=abc", {}, 400),
        ("DELETE", f"{url}/nothere", {}, 404),
        ("GET", f"{server.url}/nosuch/route", {}, 404),
    ]
    for method, target, kwargs, status in cases:
        headers = {**h, **kwargs.pop("headers", {})}
        r = requests.request(method, target, headers=headers, **kwargs)
        assert r.status_code == status, (target, r.status_code, r.text)
        assert set(r.json()) == {"error", "message"}
    r = requests.put(f"{url}/x';DROP TABLE om_objects;--", json=[{"a": 5}], headers=h)
    assert r.status_code == 201  # names are values, never SQL
    assert requests.get(f"{url}/base", headers=h).json()["data"] == [{"a": 1}]
    assert requests.get(f"{server.url}/ping").ok


def test_apikey_cli_ls_and_revoke(server: Server) -> None:
    bucket, other = _b(), _b()
    key = server.cli_key(bucket, other)
    key_id = key.split("_")[1]
    listed = {k["id"]: k for k in json.loads(_om("apikey", "ls", "--json", env=server.env).stdout)}
    assert listed[key_id]["buckets"] == [bucket, other]
    assert key not in json.dumps(listed)
    _om("apikey", "revoke", key_id, env=server.env)
    # This key was never used against the server, so no cache hides the revocation.
    r = requests.get(f"{server.url}/datasets", headers=_auth(key))
    assert r.status_code == 401


def test_openapi_fuzz_finds_no_server_error(server: Server) -> None:
    """Requests generated from the OpenAPI document (with a valid key) never get a 5xx, and
    every answer's status and content type are documented for its operation."""
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    headers = {"Authorization": f"Bearer {server.key(_b())}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=6,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case) -> None:
            case.call_and_validate(
                base_url=server.url,
                headers=headers,
                checks=[not_a_server_error, status_code_conformance, content_type_conformance],
            )

        check()
    assert requests.get(f"{server.url}/ping").ok


def test_verbs_a_route_does_not_serve_answer_405_with_allow(server: Server) -> None:
    headers = _auth(server.key(_b()))
    checked = 0
    for route in ROUTES:
        served = handler_verbs(route.handler)
        path = sample_path(route.pattern)
        for verb in ("get", "post", "put", "delete", "patch"):
            if verb in served:
                continue
            r = requests.request(verb.upper(), f"{server.url}/{path}", headers=headers)
            assert r.status_code == 405, (verb, path, r.text)
            assert r.json()["error"] == "method_not_allowed"
            assert r.headers["Allow"] == ", ".join(v.upper() for v in served), (verb, path)
            checked += 1
    assert checked >= 40
