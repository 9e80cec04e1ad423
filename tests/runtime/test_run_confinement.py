"""Code a run executes is confined to its bucket on PostgreSQL (issue: tenant isolation).

The attack: a notebook stored in bucket a reads bucket b's data and every API key hash and
publishes them to a stream a can read. Each run of it — through ``om.runtime`` and through
``POST /api/v1/jobs/{name}/run`` of ``om serve`` with a key for a — now fails with PostgreSQL's
``permission denied``, and nothing reaches the stream. Real PostgreSQL, Dask and kernels.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pandas as pd
import pytest
import requests
from sklearn.linear_model import LogisticRegression

import omega_jupyter
from omega_jupyter.exceptions import ObjectNotFoundError, RunFailedError, RunNotFoundError
from omega_jupyter.server.apikeys import ApiKeyService
from omega_jupyter.storage.engine import get_database
from tests.jobs.test_jobs import make_notebook
from tests.scripts.test_scripts import put_script

ATTACK = """import omega_jupyter as om, sqlalchemy as sa
om.streams.put({{'b': len(om['{b}'].datasets.get('sb')),
                'keys': [list(map(str, r)) for r in om.db.engine.connect().execute(
                    sa.text("select key_id, hash from om_apikeys"))]}}, 'loot')
"""
# the key table alone (the attack above is already refused at om['b'])
KEYS_ONLY = """import omega_jupyter as om, sqlalchemy as sa
om.streams.put({'keys': [list(map(str, r)) for r in om.db.engine.connect().execute(
    sa.text("select key_id, hash from om_apikeys"))]}, 'loot')
"""


@pytest.fixture
def a(postgres_url: str, tmp_path) -> omega_jupyter.Omega:
    return omega_jupyter.setup(
        url=postgres_url, bucket=f"a{uuid.uuid4().hex[:8]}", home=str(tmp_path / "home")
    )


@pytest.fixture
def b(a: omega_jupyter.Omega) -> omega_jupyter.Omega:
    b = a[f"b{uuid.uuid4().hex[:8]}"]
    b.datasets.put(pd.DataFrame({"secret": [42, 43]}), "sb")
    ApiKeyService(b.db).create(name="victim", buckets=[b.bucket])
    return b


def _nothing_looted(a: omega_jupyter.Omega) -> None:
    try:
        items = a.streams.get("loot").read()
    except ObjectNotFoundError:
        return
    assert items == [], items


def test_the_attack_notebook_through_the_runtime_is_denied(a, b) -> None:
    a.jobs.put(make_notebook(ATTACK.format(b=b.bucket)), "attack")
    a.jobs.put(make_notebook(KEYS_ONLY), "keys")
    for name, says in [
        ("attack", f"permission denied for bucket '{b.bucket}'"),
        ("keys", "permission denied for table om_apikeys"),
    ]:
        handle = a.runtime.job(name).run()
        with pytest.raises(RunFailedError, match="permission denied"):
            handle.result(timeout=180)
        record = a.runtime.run_record(handle.id)
        assert record.state == "failed" and says in record.error, record.error
    _nothing_looted(a)


def test_a_notebook_kernel_sees_only_its_bucket_credential(a, b) -> None:
    probe = (
        "import os, omega_jupyter as om\n"
        "om.datasets.put({'env': sorted(k for k in os.environ if k.startswith('OMEGA_')),"
        " 'user': om.db.url.username, 'bucket': om.bucket}, 'probe')"
    )
    a.jobs.put(make_notebook(probe), "probe")
    os.environ["OMEGA_SECRET_PROBE"] = "x"  # the worker's environment is not the kernel's
    try:
        handle = a.runtime.job("probe").run()
        assert handle.wait(180).status == "succeeded", a.runtime.run_record(handle.id).error
    finally:
        del os.environ["OMEGA_SECRET_PROBE"]
    got = a.datasets.get("probe")
    assert got["bucket"] == a.bucket
    assert "_c_" in got["user"] and got["user"] != a.db.url.username  # a bucket credential
    assert set(got["env"]) <= {"OMEGA_DATABASE_URL", "OMEGA_BUCKET", "OMEGA_HOME"}


# -- over om serve ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _serve(postgres_url, tmp_path_factory.mktemp("serve_home"))


@pytest.fixture(scope="module")
def trusting_server(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``om serve`` as the service with OMEGA_TRUST_PICKLE=1."""
    home = tmp_path_factory.mktemp("trusting_home")
    yield from _serve(postgres_url, home, OMEGA_TRUST_PICKLE="1")


def _serve(postgres_url: str, home: object, **extra: str) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMEGA_")}
    env.update(OMEGA_DATABASE_URL=postgres_url, OMEGA_HOME=str(home), **extra)
    cmd = [sys.executable, "-c", "from omega_jupyter.cli import main; main()"]
    proc = subprocess.Popen(
        [*cmd, "serve", "--host", "127.0.0.1", "--port", "0"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stderr.readline() if proc.stderr else ""
        match = re.search(r"http://127\.0\.0\.1:(\d+)/api/v1", line)
        assert match, f"server did not start: {line}"
        yield f"http://127.0.0.1:{match[1]}/api/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_attack_notebook_over_rest_is_denied(server: str, a, b) -> None:
    a.jobs.put(make_notebook(ATTACK.format(b=b.bucket)), "attack")
    key = ApiKeyService(get_database(a.settings.resolved_database_url)).create(
        name="a", buckets=[a.bucket]
    )[1]
    headers = {"Authorization": f"Bearer {key}", "Bucket": a.bucket}
    r = requests.post(f"{server}/jobs/attack/run", json={}, headers=headers, timeout=60)
    assert r.status_code in (200, 201, 202), r.text
    run_id = r.json()["run"]
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        run = requests.get(f"{server}/runs/{run_id}", headers=headers, timeout=30).json()
        if run["state"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.5)
    assert run["state"] == "failed" and "permission denied" in run["error"], run
    assert run["submitted_by"].startswith("key:"), run
    _nothing_looted(a)


# -- scripts --------------------------------------------------------------------------------------
SCRIPT_KEYS = """
def run(om, **kw):
    import sqlalchemy as sa
    with om.db.engine.connect() as conn:
        rows = conn.execute(sa.text("select key_id, hash from om_apikeys"))
        keys = [list(map(str, r)) for r in rows]
    om.streams.put({'keys': keys}, 'loot')
"""
SCRIPT_OTHER = """
def run(om, **kw):
    om.streams.put({'b': len(om[kw['b']].datasets.get('sb'))}, 'loot')
"""
SCRIPT_PROBE = """
def run(om, **kw):
    import os
    return {'env': sorted(k for k in os.environ if k.startswith('OMEGA_')),
            'user': om.db.url.username, 'bucket': om.bucket}
"""


def test_a_script_reaches_neither_the_keys_nor_another_bucket(a, b, tmp_path) -> None:
    put_script(a, SCRIPT_KEYS, "keys", tmp_path / "keys")
    put_script(a, SCRIPT_OTHER, "other", tmp_path / "other")
    for name, params, says in [
        ("keys", {}, "permission denied for table om_apikeys"),
        ("other", {"b": b.bucket}, f"permission denied for bucket '{b.bucket}'"),
    ]:
        handle = a.runtime.script(name).run(**params)
        with pytest.raises(RunFailedError, match="permission denied"):
            handle.result(timeout=180)
        record = a.runtime.run_record(handle.id)
        assert record.state == "failed" and says in record.error, record.error
    _nothing_looted(a)
    put_script(a, SCRIPT_PROBE, "probe", tmp_path / "probe")
    got = a.runtime.script("probe").run().result(timeout=180)
    assert got["bucket"] == a.bucket and "_c_" in got["user"]
    allowed = {"OMEGA_DATABASE_URL", "OMEGA_BUCKET", "OMEGA_HOME", "OMEGA_SCRIPT_CACHE"}
    assert set(got["env"]) <= allowed


# -- trusted pickles ------------------------------------------------------------------------------
def _loot(what: str, b: str) -> LogisticRegression:
    """What a malicious pickle runs when it is loaded (in the run's process)."""
    import sqlalchemy as sa

    import omega_jupyter as om

    if what == "keys":
        with om.db.engine.connect() as conn:
            rows = conn.execute(sa.text("select key_id, hash from om_apikeys"))
            om.streams.put({"keys": [list(map(str, r)) for r in rows]}, "loot")
    else:
        om.streams.put({"b": len(om[b].datasets.get("sb"))}, "loot")
    return LogisticRegression()


class Looting(LogisticRegression):
    what = "keys"
    other = ""

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (_loot, (self.what, self.other))


def test_a_trusted_pickle_reaches_neither_the_keys_nor_another_bucket(a, b) -> None:
    trusting = omega_jupyter.Omega(a.settings.replace(trust_pickle=True))
    X = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    for what, says in [
        ("keys", "permission denied for table om_apikeys"),
        ("other", f"permission denied for bucket '{b.bucket}'"),
    ]:
        model = Looting()
        model.what, model.other = what, b.bucket
        trusting.models.put(model, f"loot_{what}", serializer="joblib")
        handle = trusting.runtime.model(f"loot_{what}").predict(X)
        with pytest.raises(RunFailedError, match="permission denied"):
            handle.result(timeout=180)
        record = a.runtime.run_record(handle.id)
        assert record.state == "failed" and says in record.error, record.error
    _nothing_looted(a)
    # a legitimate trusted pickle still works
    fitted = LogisticRegression().fit(pd.DataFrame({"x": [0.0, 3.0]}), [0, 1])
    trusting.models.put(fitted, "plain", serializer="joblib")
    got = trusting.runtime.model("plain").predict(X).result(timeout=180)
    assert list(got) == [0, 0, 1, 1]


# -- audit and by-id scoping (both databases) -----------------------------------------------------
def test_runs_record_their_submitter_and_are_changed_only_in_their_bucket(om) -> None:
    from omega_jupyter.runtime.runs import RunStore
    from omega_jupyter.storage.audit import acting_as

    mine = RunStore(om.db, om.bucket)
    with acting_as("key:k123"):
        run_id = mine.create("job", "report", "run")
    assert mine.get(run_id).submitted_by == "key:k123"
    assert mine.get(mine.create("job", "report", "run")).submitted_by.startswith("os:")
    other = RunStore(om.db, f"x{uuid.uuid4().hex[:8]}")
    assert not other.finish(run_id, "cancelled")
    with pytest.raises(RunNotFoundError):
        other.start(run_id, "w")
    other.set_progress(run_id, {"cells_done": 9})
    other.beat([run_id])
    record = mine.get(run_id)
    assert (record.state, record.progress, record.worker) == ("queued", None, None)
    assert mine.finish(run_id, "cancelled")


def test_a_workers_client_for_a_newer_credential_replaces_the_older(a) -> None:
    from omega_jupyter.runtime import worker
    from omega_jupyter.storage import credentials

    def payload() -> dict:
        url = credentials.bucket_credentials(a.db, a.bucket, ttl=600)
        return worker.settings_payload(a.settings.replace(database_url=url))

    first, second = payload(), payload()
    old = worker.client_from_payload(first)
    assert worker.client_from_payload(first) is old
    new = worker.client_from_payload(second)
    assert new is not old and new.db.url.username != old.db.url.username
    assert old not in worker._clients.values() and new in worker._clients.values()
    assert new.datasets.list() is not None  # the newer credential's client works
    other = worker.client_from_payload({**second, "bucket": f"c{uuid.uuid4().hex[:8]}"})
    assert new in worker._clients.values() and other in worker._clients.values()


def test_background_cluster_workers_hold_no_database_url(tmp_path, monkeypatch) -> None:
    from distributed import Client

    from omega_jupyter.runtime import cluster

    monkeypatch.setenv("OMEGA_DATABASE_URL", "postgresql+psycopg://service:secret@db/omega")
    monkeypatch.setenv("OMEGA_SCRIPT_CACHE", str(tmp_path / "scripts"))
    home = tmp_path / "cluster_home"
    data = cluster.start_background(home, workers=1, threads=1, wait=120)
    try:
        with Client(data["address"], timeout=60) as client:
            seen = client.run(lambda: sorted(k for k in os.environ if k.startswith("OMEGA_")))
        assert list(seen.values()) == [["OMEGA_HOME", "OMEGA_SCRIPT_CACHE"]]
    finally:
        cluster.stop_background(home)


# -- trusted pickles over REST, answered without a run ------------------------------------------
def _steal(bucket: str) -> LogisticRegression:
    """What a malicious pickle runs when loaded in ``om serve``: the server process's own
    client (the service's URL from its environment) reads every key and copies it to
    ``bucket``'s stream."""
    import sqlalchemy as sa

    import omega_jupyter as om

    with om.db.engine.connect() as conn:
        keys = [
            list(map(str, r)) for r in conn.execute(sa.text("select key_id, hash from om_apikeys"))
        ]
    om[bucket].streams.put({"keys": keys}, "loot")
    return LogisticRegression()


class Stealing(LogisticRegression):
    bucket = ""

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (_steal, (self.bucket,))


def test_a_trusted_pickle_is_not_unpickled_by_an_inline_rest_predict(
    trusting_server: str, a, b
) -> None:
    model = Stealing()
    model.bucket = a.bucket
    omega_jupyter.Omega(a.settings.replace(trust_pickle=True)).models.put(
        model, "steal", serializer="joblib"
    )
    a.models.put(LogisticRegression().fit(pd.DataFrame({"x": [0.0, 3.0]}), [0, 1]), "safe")
    key = ApiKeyService(a.db).create(name="a", buckets=[a.bucket])[1]
    headers = {"Authorization": f"Bearer {key}", "Bucket": a.bucket}
    body = {"columns": ["x"], "data": [[0.0], [3.0]]}
    answers = [
        requests.request(
            verb, f"{trusting_server}/model/steal/predict", json=body, headers=headers, timeout=60
        )
        for verb in ("GET", "POST")
    ]
    _nothing_looted(a)  # the pickle never ran in the server process
    for r in answers:
        assert r.status_code == 400, r.text
        error = r.json()
        assert error["error"] == "untrusted_model", error
        assert "?async=true" in error["message"] and "skops" in error["message"], error
    # a skops model still answers inline
    r = requests.post(
        f"{trusting_server}/model/safe/predict", json=body, headers=headers, timeout=60
    )
    assert r.status_code == 200 and r.json()["result"] == [0, 1], r.text
    # the remedy: ?async=true runs it on the cluster, confined to a's credential
    r = requests.post(
        f"{trusting_server}/model/steal/predict?async=true", json=body, headers=headers, timeout=60
    )
    assert r.status_code == 202, r.text
    run_id = r.json()["run"]
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        run = requests.get(f"{trusting_server}/runs/{run_id}", headers=headers, timeout=30).json()
        if run["state"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.5)
    assert run["state"] == "failed", run
    assert "permission denied for table om_apikeys" in run["error"], run
    _nothing_looted(a)


def test_only_pickles_on_a_multi_user_store_are_refused_inline() -> None:
    from omega_jupyter.exceptions import UntrustedModelError
    from omega_jupyter.server.predict import check_inline
    from omega_jupyter.storage.metadata import Metadata

    def meta(fmt: str) -> Metadata:
        stamp = datetime.now(UTC)
        return Metadata("m", "model", 3, "a", "models", stamp, stamp, kind_meta={"format": fmt})

    check_inline(meta("skops"), multi_user=True)
    check_inline(meta("joblib"), multi_user=False)  # SQLite: single user (docs/security.md)
    with pytest.raises(UntrustedModelError, match=r"'m@prod' version 3 is stored as a pickle"):
        check_inline(meta("joblib"), multi_user=True, name="m@prod")
