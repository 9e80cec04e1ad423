"""``om serve``: a real server process on 127.0.0.1 with API keys, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)
from sklearn.linear_model import LogisticRegression

import omega_jupyter
from omega_jupyter.runtime.runs import RunStore
from omega_jupyter.server.apikeys import ApiKeyService
from omega_jupyter.server.model_handlers import ModelActionHandler
from omega_jupyter.server.routes import ROUTES, handler_verbs, sample_path
from omega_jupyter.storage.engine import get_database
from tests.server.test_server_jobs import notebook


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
        # Keep reading its log: a full pipe would stall a chatty server mid-test.
        threading.Thread(target=proc.stderr.read, daemon=True).start()
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


def test_a_read_key_reads_but_does_not_write(server: Server) -> None:
    bucket = _b()
    db = get_database(server.env["OMEGA_DATABASE_URL"])
    reader = ApiKeyService(db).create(name="reader", buckets=[bucket], role="read")[1]
    writer = server.key(bucket)
    url = f"{server.url}/datasets/d"
    assert requests.put(url, json=[{"x": 1}], headers=_auth(writer)).status_code == 201
    assert requests.get(url, headers=_auth(reader)).json()["data"] == [{"x": 1}]
    for method in ("PUT", "DELETE"):
        r = requests.request(method, url, json=[{"x": 2}], headers=_auth(reader))
        assert r.status_code == 403 and "may only read" in r.json()["message"], r.text
    assert requests.get(url, headers=_auth(writer)).json()["data"] == [{"x": 1}]
    # the write records the key that made it
    meta = omega_jupyter.setup(url=server.env["OMEGA_DATABASE_URL"], bucket=bucket).datasets
    assert meta.metadata("d").created_by == f"key:{writer.split('_')[1]}"


def test_another_buckets_run_is_a_404(server: Server) -> None:
    """A key for bucket a read and cancelled a run of bucket b by its id (issue: tenancy)."""
    a, b = _b(), _b()
    db = get_database(server.env["OMEGA_DATABASE_URL"])
    run_b = RunStore(db, b).create("job", "report", "run")
    key_a, key_b = server.key(a), server.key(b)
    for method, path in [
        ("GET", f"runs/{run_b}"),
        ("GET", f"runs/{run_b}/notebook"),
        ("POST", f"runs/{run_b}/cancel"),
    ]:
        r = requests.request(method, f"{server.url}/{path}", headers=_auth(key_a))
        assert r.status_code == 404, (path, r.text)
    assert RunStore(db, b).get(run_b).state == "queued"  # not cancelled
    r = requests.get(f"{server.url}/runs/{run_b}", headers=_auth(key_b))
    assert r.status_code == 200 and r.json()["state"] == "queued"
    r = requests.post(f"{server.url}/runs/{run_b}/cancel", headers=_auth(key_b))
    assert r.status_code == 200 and r.json()["cancelled"] is True


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


# Inputs whose validity depends on what is stored, which no schema can say: a 400 for them is
# the document's prose (see server/openapi.py), not a disagreement with its schemas.
def _data_dependent(case: Any, response: requests.Response) -> bool:
    if case.media_type not in (None, "application/json"):
        return True  # a CSV or Parquet body is checked by content
    error = response.json().get("error") if response.status_code == 400 else None
    return error == "unknown_column" and "columns" in (case.query or {})


OPENAPI_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    positive_data_acceptance,
]


def _seed(server: Server, bucket: str) -> str:
    """Objects named 'x' of every kind the routes address (and a run): the id of the run."""
    url = server.env["OMEGA_DATABASE_URL"]
    om = omega_jupyter.setup(url=url, bucket=bucket)
    frame = pd.DataFrame({"f": [0.0, 1.0, 2.0, 3.0]})
    om.datasets.put(frame, "x")
    om.models.put(LogisticRegression().fit(frame, [0, 0, 1, 1]), "x")
    om.jobs.put(notebook(), "x")
    om.streams.put({"n": 1}, "x")
    om.jobs.schedule("x", "0 3 1 1 *")
    return RunStore(get_database(url), bucket).create("job", "x", "run")


def _fuzz(operation: Any, url: str, headers: dict, examples: int, **fixed: Any) -> int:
    """Send ``examples`` positive cases of ``operation`` (``fixed`` values pinned), checking
    each answer; the number of requests sent."""
    sent = 0

    @given(case=operation.as_strategy(**fixed))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the failure is shown as sent
    )
    def check(case: Any) -> None:
        nonlocal sent
        sent += 1
        response = case.call(base_url=url, headers=headers, timeout=60)
        checks = OPENAPI_CHECKS[:-1] if _data_dependent(case, response) else OPENAPI_CHECKS
        case.validate_response(response, checks=checks)

    check()
    return sent


def test_openapi_document_is_the_truth(server: Server) -> None:
    """Requests generated from the OpenAPI document (positive data, with a valid key) never
    get a 5xx, every answer's status, content type and body are documented for its
    operation, and no input the document calls valid is refused with a 400.

    Twice: with generated names (most objects are not there: 404s, and what the generated
    writes made), then with the names of seeded objects for the reads and the schedule (a
    model's action takes the seeded dataset; deletes and runs are left to the first pass).
    """
    bucket = _b()
    run_id = _seed(server, bucket)
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    headers = {"Authorization": f"Bearer {server.key(bucket)}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    # fewer on PostgreSQL (slower requests; its bad input has tests of its own)
    postgres = server.env["OMEGA_DATABASE_URL"].startswith("postgresql")
    free, seeded = (3, 2) if postgres else (5, 3)
    sent = 0
    for operation in operations:
        sent += _fuzz(operation, server.url, headers, free)
    seeded_writes = {"PUT /jobs/{name}/schedule", "PATCH /jobs/{name}/schedule"}
    for operation in operations:
        path = {p.name for p in operation.path_parameters}
        if not path or (operation.method != "get" and operation.label not in seeded_writes):
            continue
        pins = {"name": "x", "run_id": run_id, "action": "predict"}
        query = {"datax": "x", "columns": "f"}
        sent += _fuzz(
            operation,
            server.url,
            headers,
            seeded,
            path_parameters={k: v for k, v in pins.items() if k in path},
            query={k: v for k, v in query.items() if k in {p.name for p in operation.query}},
        )
    assert sent >= 100
    r = requests.get(f"{server.url}/model/x/predict?datax=x", headers=headers)
    assert r.status_code == 200 and r.json()["result"] == [0, 0, 1, 1]  # seeded objects intact
    assert requests.get(f"{server.url}/ping").ok


def test_inputs_the_document_calls_valid_are_taken(server: Server) -> None:
    """The disagreements a conformance run found, one by one: each was a 400 (or a 500) for
    input the OpenAPI document calls valid."""
    bucket = _b()
    _seed(server, bucket)
    h = _auth(server.key(bucket))
    url = server.url
    # an unknown or non-text encoding of a CSV body: a 400 that says so (was a bare 500)
    for encoding in ("no-such-codec", "__main__", "base64"):
        r = requests.put(
            f"{url}/datasets/csv?encoding={encoding}",
            data=b"a\n1\n",
            headers={**h, "Content-Type": "text/csv"},
        )
        assert r.status_code == 400 and "encoding" in r.json()["message"], r.text
    assert requests.get(f"{url}/datasets/csv", headers=h).status_code == 404  # nothing stored
    # an empty filter parameter is no filter; several run states are comma-separated
    assert requests.get(f"{url}/logs?level=&since=", headers=h).status_code == 200
    assert requests.get(f"{url}/logs?level=info", headers=h).status_code == 200
    r = requests.get(f"{url}/runs?state=queued,running", headers=h)
    assert r.status_code == 200 and r.json()["total"] == 1, r.text
    assert requests.get(f"{url}/runs?state=", headers=h).json()["total"] == 1
    assert requests.get(f"{url}/runs?state=nope", headers=h).status_code == 400
    # ?batch=true with a body that is not an array appends it as one message
    r = requests.post(f"{url}/streams/s?batch=true", data=b"null", headers=h)
    assert r.status_code == 201 and r.json()["appended"] == 1, r.text
    # a model that is not there is a 404 whatever the input, with async too
    for query in ("async=true", "async=true&datax=x", ""):
        r = requests.post(f"{url}/model/nope/predict?{query}", headers=h)
        assert r.status_code == 404, (query, r.text)
    r = requests.get(f"{url}/model/x/predict?datax=x&async=true&max_retries=101", headers=h)
    assert r.status_code == 400 and "max_retries" in r.json()["message"], r.text
    # rows that do not fit the stored dataset: a conflict with it (409), nothing changes
    r = requests.post(f"{url}/datasets/x?append=true", json=[{"g": 1.0}], headers=h)
    assert r.status_code == 409 and r.json()["error"] == "schema_mismatch", r.text
    assert len(requests.get(f"{url}/datasets/x", headers=h).json()["data"]) == 4
    # the schedule's max_retries has the document's bound
    body = {"when": "0 3 1 1 *", "max_retries": 101}
    r = requests.put(f"{url}/jobs/x/schedule", json=body, headers=h)
    assert r.status_code == 400 and "max_retries" in r.json()["message"], r.text
    r = requests.put(f"{url}/jobs/x/schedule", json={**body, "max_retries": 100}, headers=h)
    assert r.status_code == 200, r.text


def test_the_documents_name_pattern_is_the_name_grammar() -> None:
    """Every name the OpenAPI document's pattern matches is a valid name, and the names the
    grammar refuses do not match it."""
    from hypothesis import strategies as st

    from omega_jupyter.names import name_pattern, validate_name

    pattern = re.compile(name_pattern())
    for bad in ("/a", "a/", "a//b", " a", "a ", "a\u202eb", "a\tb", "x@1", "a[b]", "a*", "a^"):
        assert not pattern.match(bad), bad
    for good in ("a", "team/sales", "a b", "Ünïcode", "x.y-z_1", "κ/д"):
        assert pattern.match(good), good

    @given(st.from_regex(pattern, fullmatch=True).filter(lambda n: len(n) <= 255))
    @settings(max_examples=200, deadline=None, database=None, derandomize=True)
    def valid(name: str) -> None:
        assert validate_name(name) == name

    valid()


def _bucket_state(om) -> dict:  # type: ignore[no-untyped-def]
    """What a request could have changed in a bucket: objects and versions, runs, messages."""
    return {
        "datasets": om.datasets.list(),
        "dataset_versions": len(om.datasets.versions("x")),
        "models": om.models.list(),
        "model_versions": len(om.models.versions("x")),
        "jobs": om.jobs.list(),
        "schedule": om.jobs.schedule_info("x"),
        "streams": [len(om.streams.get(name).read()) for name in om.streams.list()],
        "runs": om.runtime.runs()[["id", "state"]].to_dict("records"),
    }


def _route_requests(run_id: str) -> list[tuple[str, str, bool]]:
    """(verb, path, writes) for every verb of every keyed route, on objects named 'x' and the
    run ``run_id``, plus the requests whose verb alone does not say whether they write."""
    # a run group of no bucket: every group route answers 404 (or 401/403) and changes nothing
    samples = {
        "name": "x",
        "action": "predict",
        "run_id": run_id,
        "group_id": "0" * 32,
        "app_action": "stop",
    }
    out = []
    for route in ROUTES:
        if route.public:
            continue
        path = re.sub(
            r"\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)", lambda m: samples[m[1]], route.pattern
        )
        path = path.replace(r"\.", ".").replace("/?", "")
        inline = route.handler is ModelActionHandler  # answered inline: stores nothing
        for verb in handler_verbs(route.handler):
            out.append((verb.upper(), path, verb != "get" and not inline))
    extra = [
        ("POST", "x/predict_proba", False),
        ("POST", "model/x/predict?async=true", True),  # records a run
        ("GET", "model/x/predict?async=true", True),
        ("POST", "model/x/predict?async=maybe", True),  # refused, never taken for a read
        ("POST", "streams/s/predict", True),  # a stream whose name ends like an action
    ]
    return out + extra


def test_every_route_by_key_role_and_bucket(server: Server) -> None:
    """Every keyed route, by {another bucket's key, asking for this bucket; another bucket's key
    on its own; a read key; a write key}: refused ones change nothing in the bucket."""
    a, c = _b(), _b()
    db = get_database(server.env["OMEGA_DATABASE_URL"])
    om = omega_jupyter.setup(url=server.env["OMEGA_DATABASE_URL"], bucket=a)
    frame = pd.DataFrame({"f": [0.0, 1.0, 2.0, 3.0]})
    om.datasets.put(frame, "x")
    om.models.put(LogisticRegression().fit(frame, [0, 0, 1, 1]), "x")
    om.jobs.put(notebook(), "x")
    om.streams.put({"n": 1}, "x")
    om.jobs.schedule("x", "0 3 1 1 *")  # never due while the test runs
    run_a = RunStore(db, a).create("job", "x", "run")
    writer, other = server.key(a), server.key(c)
    reader = ApiKeyService(db).create(name="reader", buckets=[a], role="read")[1]
    before = _bucket_state(om)
    requests_ = _route_requests(run_a)
    assert len(requests_) >= 30

    def send(verb: str, path: str, headers: dict) -> requests.Response:
        body = [{"f": 9.0}] if path.startswith("datasets/") else {}
        r = requests.request(verb, f"{server.url}/{path}", json=body, headers=headers)
        assert r.status_code < 500, (verb, path, r.status_code, r.text)
        return r

    for verb, path, writes in requests_:
        r = send(verb, path, _auth(other, a))  # another bucket's key asks for bucket a
        assert r.status_code == 403 and r.json()["error"] == "forbidden", (verb, path, r.text)
        if "runs/" in path:  # addressed by id: another bucket's run is not there
            r = send(verb, path, _auth(other))
            assert r.status_code == 404, (verb, path, r.text)
        r = send(verb, path, _auth(reader))
        if writes:
            assert r.status_code == 403 and "may only read" in r.json()["message"], (verb, path)
        else:
            assert r.status_code not in (401, 403), (verb, path, r.text)
    assert _bucket_state(om) == before  # nothing refused changed anything

    for verb, path, _ in requests_:  # a write key of the bucket may do all of it
        r = send(verb, path, _auth(writer))
        assert r.status_code not in (401, 403), (verb, path, r.text)


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
