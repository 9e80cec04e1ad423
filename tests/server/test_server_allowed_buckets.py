"""A Jupyter server limited to some buckets (a JupyterHub user's: omega_jupyter.hub): a
``Bucket:`` header naming another is a 403 before any database call, and a bucket with its own
credential is served with it."""

from __future__ import annotations

import json
import uuid

import pytest
from traitlets.config import Config

import omega_jupyter
from omega_jupyter.server.extension import OmegaExtensionApp
from omega_jupyter.storage import credentials
from tests.server.conftest import extension_config
from tests.server.test_server_jupyter import call


@pytest.fixture
def team(database_url: str) -> str:
    name = f"team{uuid.uuid4().hex[:8]}"
    omega_jupyter.setup(url=database_url, bucket=name).datasets.put({"t": 1}, "team-data")
    return name


@pytest.fixture
def stranger(database_url: str) -> str:
    name = f"other{uuid.uuid4().hex[:8]}"
    omega_jupyter.setup(url=database_url, bucket=name).datasets.put({"s": 1}, "secret")
    return name


@pytest.fixture
def jp_server_config(database_url: str, bucket: str, team: str) -> Config:
    service = omega_jupyter.setup(url=database_url)
    team_url = credentials.bucket_credentials(service.db, team, ttl=600)
    return extension_config(
        database_url=database_url,
        bucket=bucket,
        run_scheduler=False,
        allowed_buckets=[bucket, team],
        bucket_database_urls={team: team_url},
    )


async def test_only_the_allowed_buckets_are_served(jp_fetch, bucket, team, stranger) -> None:
    status, body = await call(jp_fetch, "datasets")
    assert status == 200 and json.loads(body)["items"] == [], body
    status, body = await call(jp_fetch, "datasets", headers={"Bucket": team})
    assert status == 200, body
    assert [d["name"] for d in json.loads(body)["items"]] == ["team-data"]
    for path in ("datasets", "datasets/secret", "runs"):
        status, body = await call(jp_fetch, path, headers={"Bucket": stranger})
        assert status == 403, (path, body)
        assert json.loads(body)["error"] == "forbidden"


def test_the_limits_come_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("OMEGA_ALLOWED_BUCKETS", "alice, team-a")
    monkeypatch.setenv("OMEGA_BUCKET_DATABASE_URLS", json.dumps({"team-a": "sqlite:///x.db"}))
    app = OmegaExtensionApp()
    assert app.allowed_buckets == ["alice", "team-a"]
    assert app.bucket_database_urls == {"team-a": "sqlite:///x.db"}
    monkeypatch.delenv("OMEGA_ALLOWED_BUCKETS")
    monkeypatch.delenv("OMEGA_BUCKET_DATABASE_URLS")
    app = OmegaExtensionApp()
    assert app.allowed_buckets is None and app.bucket_database_urls == {}
