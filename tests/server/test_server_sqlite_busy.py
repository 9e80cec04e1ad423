"""Two processes writing one SQLite file: a write that waits in vain for the other's lock
answers a JSON 503 ``database_busy`` with ``Retry-After`` (not a bare 500), changes nothing,
and the same request succeeds once the lock is released."""

from __future__ import annotations

import json
import sqlite3

import pytest
from tornado.httpclient import HTTPClientError
from traitlets.config import Config

from omega_jupyter.server.errors import BUSY_RETRY_AFTER, UNAVAILABLE_MESSAGES
from tests.server.conftest import extension_config

API = "omega/api/v1"


@pytest.fixture
def sqlite_url(database_url: str) -> str:
    if not database_url.startswith("sqlite"):
        pytest.skip("the write lock of a whole database file is SQLite's")
    return f"{database_url}?timeout=0.3"  # a write gives up after 0.3 s behind another


@pytest.fixture
def jp_server_config(sqlite_url: str, bucket: str) -> Config:
    return extension_config(database_url=sqlite_url, bucket=bucket, run_scheduler=False)


async def fetch(jp_fetch, path: str, method: str = "GET", body=None):  # type: ignore[no-untyped-def]
    kwargs: dict = {"method": method}
    if body is not None:
        kwargs["body"] = json.dumps(body)
        kwargs["headers"] = {"Content-Type": "application/json"}
    try:
        response = await jp_fetch(API, path, **kwargs)
    except HTTPClientError as exc:
        response = exc.response
    return response.code, response.headers, response.body


async def test_write_behind_another_process_lock_is_503(jp_fetch, sqlite_url, caplog) -> None:
    records = [{"a": i} for i in range(5)]
    code, _, body = await fetch(jp_fetch, "datasets/first", "PUT", records)
    assert code == 201, body
    other = sqlite3.connect(sqlite_url.split("///", 1)[1].split("?")[0], isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        code, headers, body = await fetch(jp_fetch, "datasets/sales", "PUT", records)
        assert code == 503, body
        assert json.loads(body) == {
            "error": "database_busy",
            "message": UNAVAILABLE_MESSAGES["database_busy"],
        }
        assert headers["Retry-After"] == str(BUSY_RETRY_AFTER)
        code, _, body = await fetch(jp_fetch, "datasets/first")  # reads go on (WAL)
        assert code == 200, body
    finally:
        other.execute("ROLLBACK")
        other.close()
    code, _, body = await fetch(jp_fetch, "datasets/sales")
    assert code == 404, body  # the refused write left nothing behind
    code, _, body = await fetch(jp_fetch, "datasets/sales", "PUT", records)
    assert code == 201, body
    assert not [r for r in caplog.records if r.exc_info and "locked" in r.getMessage()]


@pytest.mark.parametrize("value", ["abc", "-1", "1e9"])
def test_sqlite_timeout_in_the_url_is_checked(tmp_path, value) -> None:
    from omega_jupyter.exceptions import ConfigurationError
    from omega_jupyter.storage.engine import Database

    with pytest.raises(ConfigurationError, match="timeout"):
        Database(f"sqlite:///{tmp_path / 'x.db'}?timeout={value}")
