"""A database that cannot be reached: every route answers a JSON 503 that says the database is
down (never a bare 500, never where it is), the log says why, and the server keeps answering."""

from __future__ import annotations

import json
import socket

import pytest
from traitlets.config import Config

from tests.server.conftest import extension_config
from tests.server.test_server_jupyter import call


def _closed_port() -> int:
    with socket.socket() as sock:  # bound, never listening: connections are refused
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(params=["postgresql", "sqlite"])
def unreachable_url(request, tmp_path) -> str:
    if request.param == "postgresql":
        return f"postgresql+psycopg://omega:s3cret-pw@127.0.0.1:{_closed_port()}/nowhere"
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    return f"sqlite:///{blocker}/omega.db"  # its folder cannot exist


@pytest.fixture
def jp_server_config(unreachable_url: str) -> Config:
    return extension_config(database_url=unreachable_url, run_scheduler=False)


@pytest.mark.parametrize("path", ["datasets", "models", "jobs", "runs", "datasets/sales"])
async def test_database_down_is_a_clear_503(jp_fetch, unreachable_url, path, caplog) -> None:
    status, body = await call(jp_fetch, path)
    assert status == 503, body
    error = json.loads(body)
    # what is down, not where: no host, user, folder or driver message in the answer
    assert error == {
        "error": "database_unavailable",
        "message": "the omega database cannot be reached (the server log says why)",
    }
    # the server log has the reason, as one line, not a traceback per request
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(" 503 " in w and "OMEGA_DATABASE_URL" in w for w in warnings), warnings
    assert not any("s3cret-pw" in w for w in warnings)
    assert [r for r in caplog.records if "database" in r.getMessage() and r.exc_info] == []
    status, body = await call(jp_fetch, "ping")  # the server keeps answering
    assert status == 200 and json.loads(body)["ping"] == "ok"
