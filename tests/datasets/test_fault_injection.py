"""A writer SIGKILLed at each commit point of the write path: the version readers see is
whole, and after a sweep no unreferenced data table or blob remains.

The commit points of a dataset write (:mod:`omega_jupyter.datasets.store`):

- ``loading``: the new data table is being loaded (its transaction is open);
- ``loaded``: the table committed, the version row not yet (the writer waits for it);
- ``replacing``: the version row committed, the replaced version's table not yet dropped;
- ``appending``: an append's staging table committed, the append transaction not yet;
- ``blob``: a blob kind's chunks are being written with its version row (one transaction).

Each kill lands deterministically: the child reads its data from a pipe the test holds open
(it is paused inside the load), or it waits for a lock the test holds (PostgreSQL's row and
table locks). SQLite has no lock the test can hold between two of the writer's own
transactions, so there the ``loaded`` child runs the write path's two steps
(``BulkIO.load_new`` then ``DatasetStore.commit_table``, as ``write_table`` does) with a
pause between them; ``replacing`` and ``appending`` leave the same kind of unreferenced
table and are run on PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from omega_jupyter.storage import gc
from omega_jupyter.storage.schema import objects
from tests.storage.test_gc import tables_of, unreferenced

CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    import pandas as pd
    import omega_jupyter
    from omega_jupyter.datasets import frame_codec
    from omega_jupyter.storage.bulk import new_table_name

    url, bucket, home, point = sys.argv[1:5]
    om = omega_jupyter.setup(url=url, bucket=bucket, home=home)
    om.datasets.metadata("data")  # connected, schema checked
    new = pd.DataFrame({"i": np.arange(5000), "s": ["new"] * 5000})
    print("ready", flush=True)
    if point == "loading":
        om.datasets.read_csv(sys.stdin.buffer, "data", chunksize=10_000)
    elif point == "blob":
        om.datasets.put(sys.stdin.buffer, "file")
    elif point == "loaded-two-steps":
        kind_meta = frame_codec.describe_frame(new, native_timestamps=False)
        table = om.datasets.bulk.table(new_table_name(), frame_codec.table_columns(kind_meta))
        batches = frame_codec.encode_batches(new, kind_meta, 1000)
        name, rows = om.datasets.bulk.load_new(table, batches, frame_codec.arrow_schema(kind_meta))
        print("paused", flush=True)
        sys.stdin.readline()
        om.datasets.commit_table(
            "data", "pandas.dataframe", name, kind_meta=dict(kind_meta, rows=rows),
            attributes=None, size=0,
        )
    else:
        om.datasets.put(new, "data", append=point == "appending")
    print("done", flush=True)
    """
)


def previous() -> pd.DataFrame:
    return pd.DataFrame({"i": np.arange(1000), "s": ["old"] * 1000})


def start(om, tmp_path, point: str) -> subprocess.Popen:
    args = [om.settings.resolved_database_url, om.bucket, str(tmp_path / "child"), point]
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
    return child


def wait_for(condition: Callable[[], bool], child: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert child.poll() is None, f"the writer exited before {what}"
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"the writer never reached {what}")


def kill(child: subprocess.Popen) -> None:
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    for pipe in (child.stdin, child.stdout):
        if pipe is not None:
            try:
                pipe.close()
            except BrokenPipeError:
                pass


def pg_others(om, condition: str) -> int:
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        f"AND backend_type = 'client backend' AND pid <> pg_backend_pid() AND ({condition})"
    )
    with om.db.connect() as conn:
        return int(conn.execute(query).scalar() or 0)


def writing(om) -> bool:
    """True while another connection holds a write transaction open (the writer's)."""
    if om.db.is_postgres:
        return pg_others(om, "backend_xid IS NOT NULL") > 0
    probe = sqlite3.connect(om.db.url.database, timeout=0)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.rollback()
        return False
    except sqlite3.OperationalError:  # "database is locked": the writer holds the lock
        return True
    finally:
        probe.close()


def waiting_on_lock(om) -> bool:
    return pg_others(om, "wait_event_type = 'Lock'") > 0


def settle(om) -> None:
    """Wait until the killed writer's server side has gone (PostgreSQL notices a dead client
    only when it next talks to it)."""
    if not om.db.is_postgres:
        return
    deadline = time.monotonic() + 60
    while pg_others(om, "state IS DISTINCT FROM 'idle'"):
        assert time.monotonic() < deadline, "the killed writer's transaction never ended"
        time.sleep(0.05)


def swept_clean(om) -> gc.SweepReport:
    """Sweep with no grace period and check that nothing unreferenced remains."""
    report = gc.sweep(om.db, grace=timedelta(0), buckets=[om.bucket])
    assert unreferenced(om) == (set(), set())
    return report


def assert_previous(om, before) -> None:
    pd.testing.assert_frame_equal(om.datasets.get("data"), previous())
    after = om.datasets.metadata("data")
    assert (after.version, after.location) == (before.version, before.location)
    assert om.datasets.versions("data")["version"].tolist() == [before.version]


@pytest.fixture
def stored(om):
    om.datasets.put(previous(), "data")
    return om.datasets.metadata("data")


def test_kill_while_loading(om, stored, tmp_path):
    child = start(om, tmp_path, "loading")
    assert child.stdin is not None
    # More rows than the parser's first reads; the pipe stays open, so once it has loaded
    # what it got, the child waits for more rows, mid-load.
    child.stdin.write(b"i,s\n" + b"".join(b"%d,new\n" % i for i in range(200_000)))
    child.stdin.flush()
    wait_for(lambda: writing(om), child, "the load")
    kill(child)
    settle(om)
    assert_previous(om, stored)
    assert unreferenced(om) == (set(), set())  # the load's transaction died with it
    swept_clean(om)
    assert_previous(om, stored)


def test_kill_after_the_table_committed_before_the_version(om, stored, tmp_path):
    if om.db.is_postgres:
        holder = om.db.engine.connect()
        tx = holder.begin()
        # Inserts wait, reads go on: the writer loads and commits its table, then waits.
        holder.execute(sa.text("LOCK TABLE om_objects IN SHARE ROW EXCLUSIVE MODE"))
        child = start(om, tmp_path, "loaded")
        try:
            wait_for(lambda: waiting_on_lock(om), child, "the version commit")
            kill(child)
        finally:
            tx.rollback()
            holder.close()
        settle(om)
    else:
        child = start(om, tmp_path, "loaded-two-steps")
        assert child.stdout is not None and child.stdout.readline().strip() == b"paused"
        kill(child)
    assert_previous(om, stored)
    leaked, _ = unreferenced(om)
    assert len(leaked) == 1  # the new table, loaded and committed, referenced by nothing
    report = swept_clean(om)
    assert leaked <= {t.name for t in report.tables}
    assert_previous(om, stored)


def test_kill_after_the_version_committed_before_the_old_table_dropped(om, stored, tmp_path):
    if not om.db.is_postgres:
        pytest.skip("SQLite: no lock the test can hold between the writer's transactions")
    holder = om.db.engine.connect()
    tx = holder.begin()
    old = om.datasets.bulk.qualified(stored.location or "")
    holder.execute(sa.text(f"LOCK TABLE {old} IN ACCESS SHARE MODE"))  # a reader
    child = start(om, tmp_path, "replacing")
    try:
        wait_for(lambda: waiting_on_lock(om), child, "the drop of the replaced table")
        kill(child)
    finally:
        tx.rollback()
        holder.close()
    settle(om)
    # The new version is the visible one, whole; the replaced table is left behind.
    new = pd.DataFrame({"i": np.arange(5000), "s": ["new"] * 5000})
    pd.testing.assert_frame_equal(om.datasets.get("data"), new)
    assert om.datasets.versions("data")["version"].tolist() == [stored.version + 1]
    assert unreferenced(om)[0] == {stored.location}
    swept_clean(om)
    assert tables_of(om) == {om.datasets.metadata("data").location}
    pd.testing.assert_frame_equal(om.datasets.get("data"), new)


def test_kill_after_the_append_staged_before_it_committed(om, stored, tmp_path):
    if not om.db.is_postgres:
        pytest.skip("SQLite: no lock the test can hold between the writer's transactions")
    holder = om.db.engine.connect()
    tx = holder.begin()
    holder.execute(sa.select(objects.c.id).where(objects.c.id == stored.id).with_for_update()).all()
    child = start(om, tmp_path, "appending")
    try:
        wait_for(lambda: waiting_on_lock(om), child, "the append transaction")
        kill(child)
    finally:
        tx.rollback()
        holder.close()
    settle(om)
    assert_previous(om, stored)
    leaked, _ = unreferenced(om)
    assert len(leaked) == 1  # the staging table
    swept_clean(om)
    assert_previous(om, stored)


def test_kill_while_writing_a_blob(om, stored, tmp_path):
    om.datasets.put(b"old bytes", "file")
    before = om.datasets.metadata("file")
    child = start(om, tmp_path, "blob")
    assert child.stdin is not None
    child.stdin.write(os.urandom(om.settings.blob_chunk_bytes + 1000))
    child.stdin.flush()  # one chunk written, the next waits for more bytes
    wait_for(lambda: writing(om), child, "the blob write")
    kill(child)
    settle(om)
    assert om.datasets.get("file").read() == b"old bytes"
    assert om.datasets.metadata("file").location == before.location
    assert unreferenced(om) == (set(), set())  # chunks and version row: one transaction
    swept_clean(om)
    assert om.datasets.get("file").read() == b"old bytes"
    assert_previous(om, stored)
