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
- a runtime fit (``om.runtime.model(m).fit(X, y)`` of a logistic regression on 20,000 x 10
  rows, on a Dask LocalCluster) with ``experiment=`` against the same fit without it, in
  alternating rounds: what tracking adds to a fit (params, metrics, duration, the run events).
  Target: <= +5%.
- the ``mlflow`` client itself logging over HTTP: to ``om serve``'s ``/mlflow`` endpoint against
  an MLflow tracking server with its SQLite store (``mlflow server``), per ``log_metric`` call
  and for ``--rest-points`` points with ``log_batch`` + ``get_metric_history``. Ratios reported,
  no target.

MLflow: ``mlflow-skinny`` (the test extra) is the client and runs MLflow's SQLite store in this
interpreter. The MLflow *server* needs the full ``mlflow`` package, which is not installed here
(it pins other versions of this environment's packages): install it into its own environment
and name its interpreter with ``--mlflow-server-python`` or ``OMEGA_BENCH_MLFLOW_PYTHON``
(default ``/tmp/mlflow-venv/bin/python`` when present)::

    python3 -m venv /tmp/mlflow-venv && /tmp/mlflow-venv/bin/pip install mlflow

Every baseline that cannot run says so in the table ("skipped: …"); its target is then not
judged.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from _common import Target, format_table, machine_load, median_seconds, scratch_database
from sklearn.linear_model import LogisticRegression

import omega_jupyter
from omega_jupyter.experiments.tracking import record_prediction
from omega_jupyter.models import predict
from omega_jupyter.server.apikeys import ApiKeyService

# MLflow's client reports usage to its makers unless told not to; the bench talks to loopback only.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
DEFAULT_MLFLOW_PYTHON = "/tmp/mlflow-venv/bin/python"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--url", default=None)
    parser.add_argument("--rest-calls", type=int, default=300)
    parser.add_argument("--http-only", action="store_true", help="only the client over HTTP")
    parser.add_argument("--fit-only", action="store_true", help="only the tracked runtime fit")
    parser.add_argument("--fit-repeat", type=int, default=9)
    parser.add_argument(
        "--mlflow-server-uri", default=None, help="an MLflow server already running (else started)"
    )
    parser.add_argument("--rest-points", type=int, default=10_000)
    parser.add_argument(
        "--mlflow-server-python",
        default=os.environ.get("OMEGA_BENCH_MLFLOW_PYTHON") or DEFAULT_MLFLOW_PYTHON,
        help="an interpreter with the full mlflow package (for `mlflow server`)",
    )
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

    rest_ratios: list = []
    if args.http_only:
        print("--http-only: the mlflow client over HTTP only")
    elif not args.fit_only:
        local_measures(args, om, home, url, rows, targets)
    if not args.http_only:
        tracked_fit(args, om, rows, targets)
    if not args.fit_only:
        # 5. the mlflow client over HTTP: om serve's /mlflow against an MLflow server
        rest_rows, rest_ratios = rest_comparison(args, home, url)
        rows += rest_rows

    print(format_table(["measure", "ours", "baseline"], rows))
    print()
    print(format_table(["target", "ratio", "goal", "verdict"], [t.row() for t in targets]))
    if rest_ratios:
        print()
        print(format_table(["mlflow client: MLflow server / om serve", "ratio"], rest_ratios))


def local_measures(
    args: argparse.Namespace, om: Any, home: Path, url: str, rows: list, targets: list
) -> None:
    """Sections 1-3: logging, many points, a tracked predict (in this process)."""
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
        rows.append(["mlflow.log_metric (SQLite store)", "", f"{theirs * 1e6:.1f} us"])
        targets.append(Target("log_metric vs mlflow.log_metric", theirs / ours, 10, at_most=False))
    except ImportError:
        rows.append(["mlflow.log_metric", "", SKIPPED_CLIENT])

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
        theirs_points = median_seconds(
            lambda: mlflow_points(f"sqlite:///{home / 'mlflow_points.db'}", values), 1
        )
        rows.append(
            [
                f"{args.points:,} points log+read, MLflow",
                "",
                f"{theirs_points:.2f} s (log_batch+get_metric_history)",
            ]
        )
        targets.append(
            Target(
                "points log+read vs MLflow log_batch+history",
                theirs_points / ours_points,
                5,
                at_most=False,
            )
        )
    except ImportError:
        rows.append([f"{args.points:,} points, MLflow", "", SKIPPED_CLIENT])
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

    engine.dispose()


def tracked_fit(args: argparse.Namespace, om: Any, rows: list, targets: list) -> None:
    """Section 4: a runtime fit with ``experiment=`` against the same fit without it, on the
    runtime's own LocalCluster (started by the first run)."""
    rng = np.random.default_rng(7)
    X = pd.DataFrame(rng.normal(size=(20_000, 10)), columns=[f"x{i}" for i in range(10)])
    om.datasets.put(X, "bench-fit-X")
    om.datasets.put(pd.DataFrame({"y": (X["x0"] + X["x1"] > 0).astype(int)}), "bench-fit-y")
    om.models.put(LogisticRegression(max_iter=200), "bench-fit")
    model = om.runtime.model("bench-fit")

    def ended(handle: Any) -> None:
        record = handle.wait(300).record
        assert record.state == "succeeded", record.error

    def plain() -> None:
        ended(model.fit("bench-fit-X", "bench-fit-y"))

    def tracked() -> None:
        ended(model.fit("bench-fit-X", "bench-fit-y", experiment="bench-fit-exp"))

    plain(), tracked()  # warm the worker: imports, model and data caches
    untracked_s, tracked_s = [], []
    for _ in range(args.fit_repeat):
        untracked_s.append(median_seconds(plain, 1))
        tracked_s.append(median_seconds(tracked, 1))
    p, t = statistics.median(untracked_s), statistics.median(tracked_s)
    rows.append(["runtime fit 20,000 x 10", f"{t:.3f} s tracked", f"{p:.3f} s untracked"])
    targets.append(Target("tracked / untracked runtime fit", t / p, 1.05, at_most=True))


SKIPPED_CLIENT = "skipped: mlflow not installed (pip install -e '.[test]' brings mlflow-skinny)"


def mlflow_points(tracking_uri: str, values: np.ndarray) -> None:
    """MLflow's fastest way to log many points (log_batch, 1,000 a call: its limit) and read
    them back (get_metric_history)."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(tracking_uri=tracking_uri)
    name = f"points-{time.monotonic_ns()}"
    exp_id = client.create_experiment(name)
    run = client.create_run(exp_id)
    now = int(time.time() * 1000)
    metrics = [Metric("loss", float(v), now, i) for i, v in enumerate(values)]
    for start in range(0, len(metrics), 1000):
        client.log_batch(run.info.run_id, metrics=metrics[start : start + 1000])
    client.set_terminated(run.info.run_id)
    assert len(client.get_metric_history(run.info.run_id, "loss")) == len(values)


def client_over_http(uri: str, token: str | None, calls: int, points: int) -> tuple[float, float]:
    """(seconds per ``log_metric`` call, seconds for ``points`` points logged with log_batch
    and read back) of the mlflow client against the tracking server at ``uri``."""
    from mlflow import MlflowClient

    if token:
        os.environ["MLFLOW_TRACKING_TOKEN"] = token
    else:
        os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
    client = MlflowClient(tracking_uri=uri)
    exp_id = client.create_experiment(f"http-{time.monotonic_ns()}")
    run = client.create_run(exp_id).info.run_id
    client.log_metric(run, "warm", 0.0)
    t0 = time.perf_counter()
    for i in range(calls):
        client.log_metric(run, "m", float(i), step=i)
    per_call = (time.perf_counter() - t0) / calls
    values = np.random.default_rng(1).random(points)
    batch = median_seconds(lambda: mlflow_points(uri, values), 1)
    return per_call, batch


def rest_comparison(args: argparse.Namespace, home: Path, url: str) -> tuple[list, list]:
    try:
        import mlflow  # noqa: F401
    except ImportError:
        return [["mlflow client over HTTP", "", SKIPPED_CLIENT]], []
    rows: list[list[str]] = []
    # om serve on its own SQLite file (or --url), one worker, a key of its bucket
    serve_url = url if args.url else f"sqlite:///{home / 'serve.db'}"
    env = {**os.environ, "OMEGA_DATABASE_URL": serve_url, "OMEGA_HOME": str(home)}
    cmd = [sys.executable, "-c", "from omega_jupyter.cli import main; main()", "serve"]
    ours = subprocess.Popen(
        [*cmd, "--host", "127.0.0.1", "--port", "0", "--workers", "1"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    theirs = None
    try:
        line = ours.stderr.readline() if ours.stderr else ""
        match = re.search(r"http://127\.0\.0\.1:(\d+)/api/v1", line)
        if not match:
            return [
                ["mlflow client -> om serve", "", f"skipped: om serve did not start: {line}"]
            ], []
        key = ApiKeyService(omega_jupyter.setup(url=serve_url).db).create(
            name="bench", buckets=["bench"]
        )[1]
        our_uri = f"http://127.0.0.1:{match[1]}/mlflow"
        our_call, our_batch = client_over_http(our_uri, key, args.rest_calls, args.rest_points)
        rows.append(
            ["mlflow client -> om serve /mlflow: log_metric", f"{our_call * 1e3:.2f} ms", ""]
        )
        rows.append([f"  {args.rest_points:,} points log_batch+history", f"{our_batch:.2f} s", ""])
        python = args.mlflow_server_python
        if not args.mlflow_server_uri and (not python or not Path(python).exists()):
            rows.append(
                [
                    "mlflow client -> MLflow server",
                    "",
                    f"skipped: no interpreter with the full mlflow package at {python!r}"
                    " (--mlflow-server-python)",
                ]
            )
            return rows, []
        if args.mlflow_server_uri:
            their_uri = args.mlflow_server_uri
        else:
            theirs, their_uri = start_mlflow_server(python, home)
        if their_uri is None:
            rows.append(["mlflow client -> MLflow server", "", "skipped: it did not start"])
            return rows, []
        their_call, their_batch = client_over_http(
            their_uri, None, args.rest_calls, args.rest_points
        )
        rows.append(
            [
                "mlflow client -> MLflow server (SQLite): log_metric",
                "",
                f"{their_call * 1e3:.2f} ms",
            ]
        )
        rows.append(
            [f"  {args.rest_points:,} points log_batch+history", "", f"{their_batch:.2f} s"]
        )
        ratios = [
            ["log_metric per call", f"{their_call / our_call:.2f}x"],
            [f"{args.rest_points:,} points log_batch+history", f"{their_batch / our_batch:.2f}x"],
        ]
        return rows, ratios
    finally:
        for proc in (ours, theirs):
            if proc is not None:
                stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """Stop a server this script started, with the processes it started (its session)."""
    try:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=60)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait(timeout=30)


def start_mlflow_server(python: str, home: Path) -> tuple[subprocess.Popen, str | None]:
    """``mlflow server`` with its SQLite store on a free loopback port (one worker)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = home / "mlflow_server"
    store.mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [
            python,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{store / 'mlflow.db'}",
            "--default-artifact-root",
            (store / "artifacts").as_uri(),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"},
        start_new_session=True,  # its uvicorn and job runner children stop with it
    )
    import requests

    deadline = time.monotonic() + 300  # its start imports a lot: minutes on a busy machine
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc, f"http://127.0.0.1:{port}"
        except requests.RequestException:
            pass
        time.sleep(0.5)
    return proc, None


if __name__ == "__main__":
    main()
