"""What experiment tracking costs: logging a metric, logging and reading 100,000 points, and a
tracked prediction against an untracked one.

    .venv/bin/python bench/tracking.py [--points 100000] [--repeat 5] [--url URL]

Without ``--url`` it runs on a scratch SQLite file. Baselines, in the same run:

- ``log_metric`` per call against one INSERT per metric (how a store without batching logs;
  MLflow's SQL store commits each ``log_metric`` the same way), and against
  ``mlflow.log_metric`` with MLflow's SQLite store when ``mlflow`` is installed. Target: >= 10x.
- 100,000 points logged in one run (the flush included) and read back with ``exp.data()``,
  against ``to_sql`` + ``read_sql`` of the same rows (and MLflow's ``log_batch`` +
  ``get_metric_history`` with its SQLite store when installed). Target: >= 5x against MLflow
  (reported, not judged, against pandas). On PostgreSQL also the flush of 100,000 events with
  ``COPY`` against the driver's ``executemany`` (target >= 2x).
- a tracked in-process predict of one row (``models.predict.apply`` plus the queued event)
  against the untracked call. Target: <= 1.1x. REST adds the same absolute cost to a larger
  request time, so the REST ratio is below this one.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from _common import Target, format_table, machine_load, median_seconds, scratch_database
from sklearn.linear_model import LogisticRegression

import omega_jupyter
from omega_jupyter.experiments.tracking import record_prediction
from omega_jupyter.models import predict


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="omega_bench_tracking_"))
    if args.url and args.url.startswith("postgresql"):
        with scratch_database(args.url, "omega_bench_tracking") as scratch:
            run(args, home, scratch.render_as_string(hide_password=False))
    else:
        run(args, home, args.url or f"sqlite:///{home / 'omega.db'}")


def run(args: argparse.Namespace, home: Path, url: str) -> None:
    om = omega_jupyter.setup(url=url, bucket="bench", home=str(home))
    print(f"database: {om.db.safe_url}; load {machine_load()}")
    rows, targets = [], []

    # 1. per call
    exp = om.runtime.experiment("bench-calls")
    exp.start()
    t0 = time.perf_counter()
    for i in range(args.calls):
        exp.log_metric("m", float(i), step=i)
    ours = (time.perf_counter() - t0) / args.calls
    exp.stop()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE IF NOT EXISTS bench_metrics (k text, v float, s int)"))
    n = min(args.calls, 500)
    t0 = time.perf_counter()
    for i in range(n):
        with engine.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO bench_metrics VALUES ('m', :v, :s)"), {"v": i, "s": i}
            )
    naive = (time.perf_counter() - t0) / n
    rows.append(["log_metric (per call)", f"{ours * 1e6:.1f} us", f"{naive * 1e6:.1f} us"])
    targets.append(Target("log_metric vs one INSERT per call", naive / ours, 10, at_most=False))
    try:
        import mlflow

        mlflow.set_tracking_uri(f"sqlite:///{home / 'mlflow.db'}")
        mlflow.set_experiment("bench")
        with mlflow.start_run():
            t0 = time.perf_counter()
            for i in range(n):
                mlflow.log_metric("m", float(i), step=i)
            theirs = (time.perf_counter() - t0) / n
        rows.append(["mlflow.log_metric", "", f"{theirs * 1e6:.1f} us"])
        targets.append(Target("log_metric vs mlflow.log_metric", theirs / ours, 10, at_most=False))
    except ImportError:
        rows.append(["mlflow.log_metric", "", "mlflow not installed"])

    # 2. many points, logged and read back
    values = np.random.default_rng(0).random(args.points)

    def log_and_read() -> None:
        e = om.runtime.experiment("bench-points")
        with e:
            for i, v in enumerate(values):
                e.log_metric("loss", v, step=i)
        assert len(e.data(event="metric")) == args.points

    frame = pd.DataFrame({"k": "loss", "v": values, "s": np.arange(args.points)})

    def pandas_round_trip() -> None:
        frame.to_sql("bench_points", engine, if_exists="replace", index=False)
        assert len(pd.read_sql_table("bench_points", engine)) == args.points

    ours_points = median_seconds(log_and_read, max(1, args.repeat // 2))
    pandas_points = median_seconds(pandas_round_trip, max(1, args.repeat // 2))
    rows.append(
        [
            f"{args.points:,} points log+read",
            f"{ours_points:.2f} s",
            f"{pandas_points:.2f} s (to_sql+read_sql)",
        ]
    )
    try:
        from mlflow import MlflowClient
        from mlflow.entities import Metric

        client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
        experiment_id = client.create_experiment(f"bench-points-{time.time_ns()}")

        def mlflow_round_trip() -> None:
            run = client.create_run(experiment_id)
            stamp = int(time.time() * 1000)
            for start in range(0, args.points, 1000):  # log_batch takes 1,000 metrics at most
                batch = [
                    Metric("loss", float(v), stamp, start + i)
                    for i, v in enumerate(values[start : start + 1000])
                ]
                client.log_batch(run.info.run_id, metrics=batch)
            client.set_terminated(run.info.run_id)
            history = client.get_metric_history(run.info.run_id, "loss")
            assert len(history) == args.points

        theirs_points = median_seconds(mlflow_round_trip, 1)
        rows.append(["mlflow log_batch+get_metric_history", "", f"{theirs_points:.2f} s"])
        targets.append(
            Target("points log+read vs mlflow", theirs_points / ours_points, 5, at_most=False)
        )
    except ImportError:
        rows.append(["mlflow log_batch+get_metric_history", "", "mlflow not installed"])
    if om.db.is_postgres:
        # the flush itself: COPY (what batches of COPY_ROWS or more use) vs executemany
        from omega_jupyter.experiments import recorder

        e = om.runtime.experiment("bench-flush")
        batch = [e._row("metric", "loss", float(v), run=None, step=i) for i, v in enumerate(values)]

        def flush_with(copy_rows: int) -> float:
            kept, recorder.COPY_ROWS = recorder.COPY_ROWS, copy_rows
            try:
                t = time.perf_counter()
                with om.db.begin() as conn:
                    recorder.insert_rows(conn, batch)
                return time.perf_counter() - t
            finally:
                recorder.COPY_ROWS = kept

        copies, inserts = [], []
        for _ in range(max(1, args.repeat // 2)):
            copies.append(flush_with(1))
            inserts.append(flush_with(len(batch) + 1))
        copy_s, insert_s = statistics.median(copies), statistics.median(inserts)
        rows.append(
            [
                f"flush {args.points:,} events",
                f"{copy_s:.2f} s (COPY)",
                f"{insert_s:.2f} s (executemany)",
            ]
        )
        targets.append(Target("flush COPY vs executemany", insert_s / copy_s, 2, at_most=False))

    # 3. tracked predict
    X = pd.DataFrame({"a": np.arange(100.0), "b": np.arange(100.0) % 7})
    model = LogisticRegression().fit(X, (X["a"] > 50).astype(int))
    meta = om.models.put(model, "bench-clf")
    one = X.head(1)

    def untracked() -> None:
        predict.apply(model, meta, "predict", one)

    def tracked() -> None:
        t = time.perf_counter()
        result = predict.apply(model, meta, "predict", one)
        record_prediction(
            om.db,
            om.bucket,
            "bench-prod",
            meta.name,
            meta.version,
            "predict",
            one,
            result,
            time.perf_counter() - t,
        )

    plain, with_tracking = [], []
    for _ in range(args.repeat):
        plain.append(median_seconds(untracked, 200, warmup=True))
        with_tracking.append(median_seconds(tracked, 200, warmup=True))
    p_plain, p_tracked = statistics.median(plain), statistics.median(with_tracking)
    rows.append(
        [
            "predict 1 row p50",
            f"{p_tracked * 1e6:.0f} us tracked",
            f"{p_plain * 1e6:.0f} us untracked",
        ]
    )
    targets.append(
        Target("tracked / untracked predict p50", p_tracked / p_plain, 1.1, at_most=True)
    )
    om.runtime.experiment("bench-prod").flush()

    print(format_table(["measure", "ours", "baseline"], rows))
    print()
    print(format_table(["target", "ratio", "goal", "verdict"], [t.row() for t in targets]))
    engine.dispose()


if __name__ == "__main__":
    main()
