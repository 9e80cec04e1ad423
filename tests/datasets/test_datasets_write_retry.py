"""The one retried write: a version that loses the race for its number to another writer is
written again (blob or table), and a source that cannot be read twice fails cleanly.

The conflict is provoked for real on PostgreSQL: a competing writer inserts the same next
version and holds its transaction open, so our writer's insert waits on the unique index; the
competitor then commits and our first attempt fails with a unique violation. (SQLite writers
queue on the database's write lock, ``BEGIN IMMEDIATE``, so they never collide.)
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.linear_model import LinearRegression

import omega_jupyter
from omega_jupyter.client import Omega
from omega_jupyter.exceptions import ConcurrentWriteError
from omega_jupyter.storage.objects import VersionedStore


@pytest.fixture
def om(postgres_url: str, bucket: str, tmp_path) -> Omega:
    """A client on the session's PostgreSQL database, bound to a bucket of its own."""
    return omega_jupyter.setup(url=postgres_url, bucket=bucket, home=str(tmp_path / "home"))


@contextmanager
def competing_version(om: Omega, store: VersionedStore, name: str) -> Iterator[Callable]:
    """Insert the next version of ``name`` in an open transaction of another connection;
    yields ``commit()``, which waits until our writer is blocked behind it, then commits."""
    engine = sa.create_engine(om.settings.resolved_database_url)
    conn = engine.connect()
    trans = conn.begin()
    store.meta.add_version(
        conn,
        name,
        "python.data",
        location=None,
        kind_meta={},
        attributes={"writer": "competitor"},
        size=0,
        keep=None,
        drop_physical=lambda _conn, _meta: None,
    )
    waiting = sa.text(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE NOT l.granted AND a.datname = current_database()"
    )

    def commit() -> None:
        deadline = time.monotonic() + 30
        with engine.connect() as probe:
            while not probe.execute(waiting).scalar():
                assert time.monotonic() < deadline, "our writer never waited for the competitor"
                time.sleep(0.01)
        trans.commit()

    try:
        yield commit
    finally:
        if trans.is_active:
            trans.rollback()
        conn.close()
        engine.dispose()


def race(om: Omega, store: VersionedStore, name: str, write: Callable[[], Any]) -> Any:
    """Run ``write`` while a competitor takes the version number it is about to use."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = write()
        except BaseException as exc:  # handed to the test thread
            outcome["error"] = exc

    with competing_version(om, store, name) as commit:
        thread = threading.Thread(target=run)
        thread.start()
        commit()
        thread.join(60)
    assert not thread.is_alive()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def same(got: Any, want: Any) -> bool:
    if isinstance(want, io.BytesIO):
        return got.read() == want.getvalue()
    if isinstance(want, pd.DataFrame):
        return got.equals(want)
    if isinstance(want, np.ndarray):
        return bool((got == want).all())
    return got.read() == want


@pytest.mark.parametrize(
    "data",
    [
        b"ours" * 1000,
        io.BytesIO(b"x" * 70_000),
        np.arange(12).reshape(3, 4),
        pd.DataFrame({"a": [1, 2]}),
    ],
    ids=["bytes", "file object", "array", "frame"],
)
def test_dataset_write_that_loses_the_race_is_retried(om, data):
    om.datasets.put({"v": 1}, "data")
    meta = race(om, om.datasets, "data", lambda: om.datasets.put(data, "data"))
    assert meta.version == 3  # 2 went to the competitor while our first attempt waited
    assert [m.version for m in om.datasets.list(raw=True)] == [3]
    assert om.datasets.metadata("data").attributes == {"writer": "competitor"}
    assert same(om.datasets.get("data"), data)


def test_model_write_that_loses_the_race_is_retried(om):
    model = LinearRegression().fit([[0.0], [1.0]], [0.0, 2.0])
    om.models.put(model, "reg")
    meta = race(om, om.models, "reg", lambda: om.models.put(model, "reg", tag="prod"))
    assert meta.version == 3
    assert om.models.metadata("reg@prod").version == 3
    assert om.models.get("reg").coef_.tolist() == model.coef_.tolist()


def test_source_that_cannot_be_read_again_fails_and_stores_nothing(om):
    read_end, write_end = os.pipe()
    os.write(write_end, b"streamed once")
    os.close(write_end)
    with open(read_end, "rb", buffering=0) as pipe:
        om.datasets.put({"v": 1}, "data")
        with pytest.raises(ConcurrentWriteError):
            race(om, om.datasets, "data", lambda: om.datasets.put(pipe, "data", kind="python.file"))
    meta = om.datasets.metadata("data")
    assert (meta.version, meta.kind) == (2, "python.data")  # the competitor's, nothing of ours
