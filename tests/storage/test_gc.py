"""The sweep (``om db gc``): unreferenced data tables and blobs are found, reported and
dropped; writes in flight are never touched."""

from __future__ import annotations

import io
import json
import threading
import time
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from omega_jupyter.cli import app
from omega_jupyter.datasets import frame_codec
from omega_jupyter.storage import gc
from omega_jupyter.storage.bulk import new_table_name, table_stamp
from omega_jupyter.storage.schema import blob_chunks, objects


def tables_of(om) -> set[str]:
    """The physical data tables that are this bucket's, or nobody's (SQLite shares one
    namespace between buckets)."""
    names = sa.inspect(om.db.engine).get_table_names(schema=om.db.data_schema(om.bucket))
    tables = {n for n in names if n.startswith("t_")}
    if om.db.is_postgres:
        return tables
    with om.db.connect() as conn:
        others = conn.scalars(sa.select(objects.c.location).where(objects.c.bucket != om.bucket))
        return tables - set(others)


def unreferenced(om) -> tuple[set[str], set[str]]:
    """(tables, blobs) that no version references, whatever their age."""
    report = gc.sweep(om.db, grace=timedelta(0), dry_run=True, buckets=[om.bucket])
    return {t.name for t in report.tables} & tables_of(om), {b.blob_id for b in report.blobs}


def orphan_table(om, rows: int = 10) -> str:
    """Load a data table the way a put does, without committing a version (a crashed put)."""
    df = pd.DataFrame({"x": np.arange(rows)})
    kind_meta = frame_codec.describe_frame(df, native_timestamps=om.db.is_postgres)
    table = om.datasets.bulk.table(new_table_name(), frame_codec.table_columns(kind_meta))
    batches = frame_codec.encode_batches(df, kind_meta, 1000)
    name, _ = om.datasets.bulk.load_new(table, batches, frame_codec.arrow_schema(kind_meta))
    return name


def orphan_blob(om, data: bytes = b"x" * 1000) -> str:
    with om.db.begin() as conn:
        blob_id, _size, _digest = om.datasets.blobs.write(conn, io.BytesIO(data))
    return blob_id


def test_new_tables_carry_the_time_they_became_visible(om):
    om.datasets.put(pd.DataFrame({"a": [1, 2]}), "data")
    location = om.datasets.metadata("data").location
    stamp = table_stamp(location)
    assert stamp is not None
    assert abs((pd.Timestamp.now(tz="UTC") - stamp).total_seconds()) < 60
    assert table_stamp("t_" + "0" * 32) is None  # names from before stamps


def test_sweep_drops_unreferenced_tables_and_blobs_and_reports_them(om):
    om.datasets.put(pd.DataFrame({"a": [1, 2, 3]}), "kept")
    om.datasets.put({"k": 1}, "kept-blob")
    table = orphan_table(om, rows=5000)
    blob = orphan_blob(om)
    assert unreferenced(om) == ({table}, {blob})

    dry = gc.sweep(om.db, grace=timedelta(0), dry_run=True, buckets=[om.bucket])
    assert table in {t.name for t in dry.tables} and blob in {b.blob_id for b in dry.blobs}
    assert table in tables_of(om)  # a dry run drops nothing
    # Default grace: the table is too young. A committed unreferenced blob has no writer to
    # wait for (blobs commit with their version row), so it goes at once.
    young = gc.sweep(om.db, buckets=[om.bucket])
    assert table not in {t.name for t in young.tables} and table in tables_of(om)
    assert {b.blob_id: b.bytes for b in young.blobs}[blob] == 1000

    report = gc.sweep(om.db, grace=timedelta(0), buckets=[om.bucket])
    swept = {t.name: t for t in report.tables}
    assert swept[table].bytes > 0 or not om.db.is_postgres
    assert report.bytes == sum(t.bytes for t in report.tables) and "freed" in report.summary()
    assert unreferenced(om) == (set(), set())
    assert tables_of(om) == {om.datasets.metadata("kept").location}
    pd.testing.assert_frame_equal(om.datasets.get("kept"), pd.DataFrame({"a": [1, 2, 3]}))
    assert om.datasets.get("kept-blob") == {"k": 1}


def test_tables_from_before_stamps_count_as_old(om):
    legacy = make_legacy(om, orphan_table(om))
    report = gc.sweep(om.db, buckets=[om.bucket])  # default grace of one hour
    assert legacy in {t.name for t in report.tables}
    assert legacy not in tables_of(om)


def test_a_slow_load_is_protected_for_the_grace_period_after_it_became_visible(om):
    """The stamp is the time the table became visible, not the time its load started: a
    load that takes longer than the grace period is still safe until its version commits."""
    df = pd.DataFrame({"x": np.arange(3000), "s": ["v"] * 3000})
    kind_meta = frame_codec.describe_frame(df, native_timestamps=om.db.is_postgres)
    swept_during_load: list[gc.SweepReport] = []

    def slow_batches():
        for i, batch in enumerate(frame_codec.encode_batches(df, kind_meta, 1000)):
            if i == 1:
                time.sleep(2.5)  # longer than the grace period below
                swept_during_load.append(gc.sweep(om.db, grace=timedelta(seconds=1)))
            yield batch

    table = om.datasets.bulk.table(new_table_name(), frame_codec.table_columns(kind_meta))
    name, rows = om.datasets.bulk.load_new(
        table, slow_batches(), frame_codec.arrow_schema(kind_meta)
    )
    # Loaded and visible, its version not committed yet: what a sweep sees between commits.
    # (A grace well above the time this test may take on a loaded machine since the load
    # ended; the sweep during the load had a grace shorter than the load itself.)
    report = gc.sweep(om.db, grace=timedelta(seconds=60), buckets=[om.bucket])
    assert name not in {t.name for t in report.tables}
    assert name not in {t.name for t in swept_during_load[0].tables}
    assert name in unreferenced(om)[0]  # only the grace period protects it
    om.datasets.commit_table(
        "slow",
        "pandas.dataframe",
        name,
        kind_meta=dict(kind_meta, rows=rows),
        attributes=None,
        size=0,
    )
    pd.testing.assert_frame_equal(om.datasets.get("slow"), df)


def test_sweeps_racing_slow_puts_never_break_them(om):
    gc.sweep(om.db, grace=timedelta(0))  # start from a clean database
    stop = threading.Event()
    errors: list[BaseException] = []
    sweeps = [0]

    def sweeper() -> None:
        while not stop.is_set():
            try:
                gc.sweep(om.db, grace=timedelta(seconds=1))
                sweeps[0] += 1
            except BaseException as exc:  # reported below
                errors.append(exc)
                return

    frames = [pd.DataFrame({"n": np.arange(2000) + i, "s": [f"v{i}"] * 2000}) for i in range(4)]
    thread = threading.Thread(target=sweeper)
    thread.start()
    try:
        for i, df in enumerate(frames):
            kind_meta = frame_codec.describe_frame(df, native_timestamps=om.db.is_postgres)

            def slow(df=df, kind_meta=kind_meta):
                for batch in frame_codec.encode_batches(df, kind_meta, 500):
                    time.sleep(0.4)  # the whole load outlasts the sweeper's grace period
                    yield batch

            om.datasets.write_table(
                "raced", "pandas.dataframe", kind_meta, slow(), append=i % 2 == 1
            )
    finally:
        stop.set()
        thread.join()
    assert errors == []
    assert sweeps[0] > 0
    pd.testing.assert_frame_equal(
        om.datasets.get("raced"), pd.concat(frames[2:4], ignore_index=True)
    )
    assert unreferenced(om) == (set(), set())


def test_blob_written_with_its_version_is_never_unreferenced(om):
    om.datasets.put(b"abc" * 1000, "file")
    meta = om.datasets.metadata("file")
    with om.db.connect() as conn:
        chunks = conn.execute(
            sa.select(sa.func.count()).where(blob_chunks.c.blob_id == meta.location)
        ).scalar()
    assert chunks == 1
    gc.sweep(om.db, grace=timedelta(0))
    assert om.datasets.get("file").read() == b"abc" * 1000


def test_om_db_gc_lists_on_dry_run_and_frees_otherwise(om, monkeypatch):
    monkeypatch.setenv("OMEGA_DATABASE_URL", om.settings.resolved_database_url)
    table = orphan_table(om)
    blob = orphan_blob(om)
    runner = CliRunner()
    listed = runner.invoke(app, ["--json", "db", "gc", "--dry-run", "--grace", "0"])
    assert listed.exit_code == 0, listed.output
    data = json.loads(listed.output)
    assert data["dry_run"] is True
    assert table in {t["name"] for t in data["tables"]} and blob in {
        b["blob_id"] for b in data["blobs"]
    }
    assert table in tables_of(om)
    young = runner.invoke(app, ["db", "gc"])
    assert young.exit_code == 0, young.output
    assert table in tables_of(om)  # younger than the default grace period of one hour
    freed = runner.invoke(app, ["db", "gc", "--grace", "0s"])
    assert freed.exit_code == 0, freed.output
    assert "freed" in freed.output and table in freed.output
    assert unreferenced(om) == (set(), set())
    bad = runner.invoke(app, ["db", "gc", "--grace", "soon"])
    assert bad.exit_code != 0 and "--grace" in bad.output


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("1h", 3600), ("2d", 172800), ("5", 5)]
)
def test_parse_duration(text, seconds):
    assert gc.parse_duration(text) == timedelta(seconds=seconds)


def make_legacy(om, name: str) -> str:
    """Rename a data table to the unstamped form tables had before stamps."""
    legacy = "t_" + name[-32:]
    with om.db.begin() as conn:
        conn.execute(sa.text(f"ALTER TABLE {om.datasets.bulk.qualified(name)} RENAME TO {legacy}"))
    return legacy


def test_the_scheduler_loop_sweeps_hourly(om):
    from omega_jupyter.jobs.scheduler import Scheduler

    scheduler = Scheduler(om)
    legacy = make_legacy(om, orphan_table(om))  # counts as old: past any grace period
    now = pd.Timestamp.now(tz="UTC").to_pydatetime()
    scheduler.tick(now)
    assert legacy not in tables_of(om)
    legacy = make_legacy(om, orphan_table(om))
    scheduler.tick(now + timedelta(minutes=30))  # not yet: once an hour
    assert legacy in tables_of(om)
    scheduler.tick(now + timedelta(hours=1))
    assert legacy not in tables_of(om)
