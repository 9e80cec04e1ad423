"""PostgreSQL specifics of streams: LISTEN/NOTIFY wake-up and a follower that survives its
connections being terminated (as in a server restart)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

import omega_jupyter
from omega_jupyter.client import Omega
from tests.conftest import _create_pg_database, _drop_pg_database


@pytest.fixture
def pg_om(tmp_path) -> Iterator[Omega]:
    """A client on a PostgreSQL database of its own (its connections get terminated)."""
    url = _create_pg_database("omega_streams")
    client = omega_jupyter.setup(url=url, bucket="streams", home=str(tmp_path / "home"))
    yield client
    from omega_jupyter.storage.engine import _engines

    db = _engines.pop(url, None)
    if db is not None:
        db.dispose()
    _drop_pg_database(url)


def _listeners(om: Omega, name: str) -> list[tuple[int, str]]:
    with om.db.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT pid, query FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = :app"
            ),
            {"app": f"omega-stream:{name}"},
        )
        return [(r.pid, r.query) for r in rows]


def _wait_for(predicate, timeout: float = 20.0) -> bool:
    event = threading.Event()
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return True
        event.wait(0.05)
    return predicate()


def test_follower_listens_and_is_woken_by_notify(pg_om: Omega) -> None:
    stream = pg_om.streams.create("ticks")
    got: list[int] = []
    with stream.subscribe(lambda m: got.append(m.data)):
        assert _wait_for(lambda: bool(_listeners(pg_om, "ticks")))
        ((_pid, query),) = _listeners(pg_om, "ticks")  # one dedicated connection
        assert query == f"LISTEN om_stream_{stream.id}" or "om_stream_messages" in query
        stream.append(1)
        assert _wait_for(lambda: got == [1])
    assert _wait_for(lambda: not _listeners(pg_om, "ticks"))  # the connection is closed


def test_follower_survives_terminated_connections(pg_om: Omega) -> None:
    stream = pg_om.streams.create("durable")
    got: list[int] = []
    with stream.subscribe(lambda m: got.append(m.data), group="g") as sub:
        assert _wait_for(lambda: bool(_listeners(pg_om, "durable")))
        stream.append(1)
        assert _wait_for(lambda: got == [1])
        old = {pid for pid, _ in _listeners(pg_om, "durable")}
        # Every session of this database ends, as in a server restart: the listener, the
        # follower's pooled reader and the appender's pooled connections.
        with pg_om.db.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        stream.extend([2, 3])  # written while the listener is down or reconnecting
        assert _wait_for(lambda: got == [1, 2, 3])

        def listening_again() -> bool:
            new = {pid for pid, _ in _listeners(pg_om, "durable")}
            return bool(new) and not new & old  # a new listening connection

        assert _wait_for(listening_again)
        stream.append(4)
        assert _wait_for(lambda: got == [1, 2, 3, 4])
    assert sub.error is None and got == [1, 2, 3, 4]
    assert stream.committed("g") == 4
