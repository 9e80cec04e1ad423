"""PostgreSQL connections: a client survives its server sessions being terminated between two
calls, and taking a pooled connection costs no round trip to the server."""

from __future__ import annotations

import time

import pandas as pd
import pytest
import sqlalchemy as sa

import omega_jupyter

TERMINATE_PIDS = sa.text(
    "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


@pytest.fixture
def pg_url(fresh_database_url: str) -> str:
    """A database of this test's own (terminating its sessions touches no other test)."""
    if not fresh_database_url.startswith("postgresql"):
        pytest.skip("terminating server sessions is a PostgreSQL matter; SQLite has none")
    return fresh_database_url


def terminate_sessions(url: str) -> int:
    """End every other session on the database, as an administrator or a restart would, and
    wait until they are gone (``pg_terminate_backend`` only signals them)."""
    admin = sa.create_engine(url, poolclass=sa.NullPool, isolation_level="AUTOCOMMIT")
    alive = sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)")
    try:
        with admin.connect() as conn:
            pids = [row.pid for row in conn.execute(TERMINATE_PIDS)]
            for _ in range(500):
                if not conn.execute(alive, {"pids": pids}).scalar_one():
                    break
                time.sleep(0.01)
            else:
                raise AssertionError(f"sessions {pids} outlived pg_terminate_backend")
        return len(pids)
    finally:
        admin.dispose()


def test_client_survives_terminated_sessions(pg_url: str, bucket: str, tmp_path) -> None:
    om = omega_jupyter.setup(url=pg_url, bucket=bucket, home=str(tmp_path / "home"))
    frame = pd.DataFrame({"a": range(5), "b": list("abcde")})
    om.datasets.put(frame, "sales")
    pd.testing.assert_frame_equal(om.datasets.get("sales"), frame)
    assert terminate_sessions(pg_url) >= 1  # the pooled connections were really there

    assert om.datasets.list() == ["sales"]
    pd.testing.assert_frame_equal(om.datasets.get("sales"), frame)  # the bulk path too
    om.datasets.put(frame, "sales", append=True)
    assert terminate_sessions(pg_url) >= 1

    assert om.datasets.metadata("sales").kind_meta["rows"] == 10
    assert len(om.datasets.get("sales", a__gte=3)) == 4


def test_pools_unused_for_a_while_give_their_sessions_back(pg_url: str) -> None:
    """A process serving many buckets holds one pool per credential: idle ones close their
    sessions (the server's max_connections is shared) and reopen on their next use."""
    from omega_jupyter.storage import engine

    sessions = sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
    idle = engine.Database(pg_url)
    busy = engine.Database(pg_url)
    try:
        with idle.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        assert idle.engine.pool.checkedin() == 1
        idle.last_used -= engine.IDLE_POOL_SECONDS + 1  # as if unused since
        engine._idle_scan[0] = 0.0
        with busy.connect() as conn:  # any use elsewhere in the process closes it
            assert conn.execute(sessions).scalar_one() == 1  # only this one is open
        assert idle.engine.pool.checkedin() == 0
        with idle.connect() as conn:  # and it works again on its next use
            assert conn.execute(sa.text("SELECT 2")).scalar_one() == 2
    finally:
        idle.dispose()
        busy.dispose()
