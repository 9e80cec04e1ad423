"""Writes are atomic: a killed put leaves the previous version intact, concurrent puts never mix."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from omega_jupyter.client import Omega
from omega_jupyter.storage.schema import objects

# The child builds a frame big enough that its bulk load takes a while, says so, then puts it.
CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    import pandas as pd
    import omega_jupyter

    url, bucket, home, rows = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    om = omega_jupyter.setup(url=url, bucket=bucket, home=home, chunk_rows=20_000)
    n = np.arange(rows)
    df = pd.DataFrame({"i": n, "f": n * 0.5, "s": pd.Series(n % 1000).astype(str) + "-text"})
    om.datasets.metadata("data")  # connect and check the schema before announcing the load
    print("loading", flush=True)
    om.datasets.put(df, "data")
    print("done", flush=True)
    """
)


def previous() -> pd.DataFrame:
    return pd.DataFrame({"i": np.arange(1000), "f": np.arange(1000) * 2.0, "s": ["old"] * 1000})


def data_tables(om: Omega) -> set[str]:
    """Physical data tables in the database that belong to this bucket (or to nobody)."""
    names = sa.inspect(om.db.engine).get_table_names(schema=om.db.data_schema(om.bucket))
    tables = {n for n in names if n.startswith("t_")}
    if om.db.is_postgres:
        return tables
    with om.db.connect() as conn:  # SQLite: one namespace shared by all buckets
        others = conn.scalars(sa.select(objects.c.location).where(objects.c.bucket != om.bucket))
        return tables - set(others)


def loading_now(om: Omega, wal: Path | None) -> bool:
    """True once the child's bulk load is writing rows (seen from the database's side)."""
    if om.db.is_postgres:
        query = sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state = 'active' AND query ILIKE 'COPY%' AND pid <> pg_backend_pid()"
        )
        with om.db.connect() as conn:
            return bool(conn.execute(query).scalar())
    # SQLite writes the open transaction's pages to the write-ahead log.
    return wal is not None and wal.exists() and wal.stat().st_size > 2_000_000


def kill_during_load(om: Omega, rows: int, tmp_path: Path) -> str:
    """Start a child putting ``rows`` rows and SIGKILL it during the load.

    Returns "killed" when the kill landed while rows were being written, "finished" if the
    put completed first, "missed" if the load was never observed.
    """
    wal = None
    if not om.db.is_postgres:
        wal = Path(om.db.url.database + "-wal")
        with om.db.begin() as conn:  # start from an empty log so its growth means rows
            conn.exec_driver_sql("SELECT 1")
        with om.db.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    home = str(tmp_path / "home")
    args = [om.settings.resolved_database_url, om.bucket, home, str(rows)]
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "loading"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            if loading_now(om, wal):
                os.kill(child.pid, signal.SIGKILL)
                child.wait()
                return "killed"
            time.sleep(0.005)
        return "finished" if child.wait() == 0 else "missed"
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()


def test_killed_put_leaves_previous_version_intact(om, tmp_path):
    om.datasets.put(previous(), "data", attributes={"state": "old"})
    before = om.datasets.metadata("data")
    assert data_tables(om) == {before.location}
    rows = 400_000
    for _attempt in range(4):
        outcome = kill_during_load(om, rows, tmp_path)
        if outcome == "killed":
            break
        if outcome == "finished":  # too fast to catch: start over with more rows
            om.datasets.put(previous(), "data", attributes={"state": "old"})
            before = om.datasets.metadata("data")
        rows *= 2
    assert outcome == "killed", "the child's bulk load was never caught in progress"
    # Everything readers see is the previous version, complete.
    pd.testing.assert_frame_equal(om.datasets.get("data"), previous())
    after = om.datasets.metadata("data")
    assert (after.version, after.location, after.attributes) == (
        before.version,
        before.location,
        {"state": "old"},
    )
    assert om.datasets.list() == ["data"]
    assert om.datasets.versions("data")["version"].tolist() == [before.version]
    # The half-loaded table died with its transaction.
    assert data_tables(om) == {before.location}
    # And the store still takes writes.
    om.datasets.put(previous().head(3), "data")
    pd.testing.assert_frame_equal(om.datasets.get("data"), previous().head(3))


def big(label: str, rows: int = 60_000) -> pd.DataFrame:
    n = np.arange(rows)
    return pd.DataFrame({"who": [label] * rows, "n": n, "x": n * (1.0 if label == "a" else -1.0)})


def test_concurrent_puts_leave_one_complete_version(om):
    inputs = {"a": big("a"), "b": big("b", 45_000)}
    om.datasets.put(big("start", 10), "data")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(label: str) -> None:
        try:
            barrier.wait()
            om.datasets.put(inputs[label], "data")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in inputs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = om.datasets.get("data")
    winner = result["who"].iloc[0]
    pd.testing.assert_frame_equal(result, inputs[winner])
    assert om.datasets.versions("data")["version"].tolist() == [3]
    assert data_tables(om) == {om.datasets.metadata("data").location}


def test_concurrent_puts_from_processes(om, tmp_path):
    om.datasets.put(previous(), "data")
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        import pandas as pd
        import omega_jupyter

        url, bucket, home, label = sys.argv[1:5]
        om = omega_jupyter.setup(url=url, bucket=bucket, home=home, chunk_rows=5_000)
        n = np.arange(50_000 if label == "a" else 30_000)
        om.datasets.put(pd.DataFrame({"who": label, "n": n}), "data")
        """
    )
    url = om.settings.resolved_database_url
    children = [
        subprocess.Popen([sys.executable, "-c", script, url, om.bucket, str(tmp_path), label])
        for label in "ab"
    ]
    assert [c.wait(timeout=120) for c in children] == [0, 0]
    result = om.datasets.get("data")
    label = result["who"].iloc[0]
    expected = pd.DataFrame({"who": label, "n": np.arange(50_000 if label == "a" else 30_000)})
    pd.testing.assert_frame_equal(result, expected)
    assert len(om.datasets.versions("data")) == 1


def test_readers_see_whole_versions_while_writers_replace(om):
    frames = [big(label, 20_000 + i * 1000) for i, label in enumerate("abcdef")]
    om.datasets.put(frames[0], "data")
    done = threading.Event()
    seen: list[str] = []
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            while not done.is_set():
                out = om.datasets.get("data")
                label = out["who"].iloc[0]
                expected = next(f for f in frames if f["who"].iloc[0] == label)
                pd.testing.assert_frame_equal(out, expected)
                seen.append(label)
        except BaseException as exc:
            errors.append(exc)

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in readers:
        t.start()
    try:
        for df in frames[1:]:
            om.datasets.put(df, "data")
    finally:
        done.set()
        for t in readers:
            t.join()
    assert errors == []
    assert seen


def test_failed_encoding_leaves_previous_version(om):
    om.datasets.put(previous(), "data")
    bad = pd.DataFrame({"o": pd.Series([1, "x", object()], dtype=object)})
    with pytest.raises(TypeError):
        om.datasets.put(bad, "data")
    pd.testing.assert_frame_equal(om.datasets.get("data"), previous())
    assert data_tables(om) == {om.datasets.metadata("data").location}
