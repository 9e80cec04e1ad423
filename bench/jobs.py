"""Notebook jobs: ``om.runtime.job`` vs bare ``papermill.execute_notebook``; scheduled latency.

Usage: python bench/jobs.py [--url URL] [--repeat 5] [--slots 4] [--members 50] [--width 2]
                            [--runs 20] [--only-map] [--only-throughput]

Prints medians and ratios measured in the same run:
  * job run (submit, papermill on a Dask worker through omega://, result and run row written,
    waited for) over bare papermill on local files, for the same 3-cell notebook, on a warm
    kernel (the default) — target <= 0.5x — and with warm kernels off (``warm_kernels=0``);
  * throughput: runs/s of a trivial notebook on a Dask worker of one thread, ``--runs`` runs
    sent at once and waited for: cold, warm (pool of 1, each kernel replaced after use:
    sustained), and a burst from a pool filled with ``--runs`` kernels — target >= 5 runs/s warm;
  * scheduled trigger-to-submit and trigger-to-start latency (slot time → run row submitted /
    started) with an in-process scheduler loop — target <= 2 s;
  * a run group: ``job.map`` of ``--members`` members of the same notebook with
    ``max_parallel=--width`` on a Dask worker of that many threads, waited for, over the same
    number of bare papermill runs in a process pool of the same width (one round each) —
    target <= 1.2x; and the overhead per member on top of a bare run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Method, run_rounds

import omega_jupyter


def notebook() -> nbformat.NotebookNode:
    cells = [new_code_cell("x = 1"), new_code_cell("y = x * 2"), new_code_cell("print(y)")]
    cells[0].metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def bench_runs(om, repeat: int, log) -> dict[str, float]:
    import papermill

    workdir = Path(tempfile.mkdtemp(prefix="omega-bench-"))
    source = workdir / "nb.ipynb"
    nbformat.write(notebook(), source)
    om.jobs.put(notebook(), "bench/three_cells")
    om.runtime.job("bench/three_cells").run().wait(120)  # warm the cluster and the imports

    def bare(trial: int) -> None:
        papermill.execute_notebook(
            str(source),
            str(workdir / f"out{trial}.ipynb"),
            parameters={"x": trial},
            progress_bar=False,
            kernel_name="python3",
        )

    from omega_jupyter.client import Omega
    from omega_jupyter.jobs import kernel_pool
    from omega_jupyter.runtime.worker import client_from_payload, run_env

    cold_om = Omega(om.settings.replace(warm_kernels=0))
    env = run_env(client_from_payload(om.runtime.task_settings()).settings, om.bucket)

    def ours(trial: int, client=om) -> None:
        handle = client.runtime.job("bench/three_cells").run(parameters={"x": trial})
        state = handle.wait(120).status
        assert state == "succeeded", om.jobs.runs("bench/three_cells").error.iloc[0]

    def ours_cold(trial: int) -> None:
        ours(trial, cold_om)

    def refill(trial: int, result: object) -> None:
        """Untimed: the kernel replacing the one used is ready, as for a run that comes a
        moment after the previous one."""
        kernel_pool.pool().fill("python3", env, om.settings.warm_kernels)

    refill(0, None)
    methods = [
        Method("papermill.execute_notebook (files)", bare, role="baseline"),
        Method("om.runtime.job(...).run().wait()", ours, role="ours", cleanup=refill),
        Method("the same, warm_kernels=0", ours_cold, role="reference"),
    ]
    run_rounds(methods, repeat, log)
    return {m.name: m.median for m in methods}


def trivial_notebook() -> nbformat.NotebookNode:
    nb = notebook()
    nb.cells = nb.cells[:1]  # the parameters cell only
    return nb


def bench_throughput(om, runs: int, log) -> dict[str, float]:
    """Runs per second of a trivial notebook on one worker thread: cold, warm, warm burst."""
    from distributed import LocalCluster

    from omega_jupyter.client import Omega
    from omega_jupyter.jobs import kernel_pool
    from omega_jupyter.runtime.worker import client_from_payload, run_env

    cluster = LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address="127.0.0.1:0"
    )
    rates = {}
    try:
        for label, size in (("cold", 0), ("warm", 1), ("warm burst", runs)):
            client = Omega(
                om.settings.replace(dask_address=cluster.scheduler_address, warm_kernels=size)
            )
            client.jobs.put(trivial_notebook(), "bench/trivial")
            client.runtime.job("bench/trivial").run().wait(120)  # imports, first client
            if size:
                env = run_env(
                    client_from_payload(client.runtime.task_settings()).settings, om.bucket
                )
                assert kernel_pool.pool().fill("python3", env, size, timeout=300)
            taken = kernel_pool.pool().taken
            started = time.perf_counter()
            handles = [
                client.runtime.job("bench/trivial").run(parameters={"x": i}) for i in range(runs)
            ]
            states = [h.wait(600).status for h in handles]
            elapsed = time.perf_counter() - started
            assert states == ["succeeded"] * runs, states
            rates[label] = runs / elapsed
            warm = kernel_pool.pool().taken - taken
            log(
                f"  {label:<11} {runs} runs in {elapsed:6.2f} s: {rates[label]:5.2f} runs/s"
                f" ({warm} on warm kernels)"
            )
    finally:
        cluster.close()
    return rates


def print_throughput(rates: dict[str, float], runs: int) -> None:
    print(f"\ntrivial notebook, {runs} runs sent at once to one worker thread:")
    cold = rates["cold"]
    for label, rate in rates.items():
        line = f"  {label:<11} {rate:6.2f} runs/s   {rate / cold:.2f}x cold"
        if label != "cold":
            line += f"   (target >= 5 runs/s: {'met' if rate >= 5 else 'MISSED'})"
        print(line)


def bench_latency(om, slots: int, log) -> tuple[list[float], list[float]]:
    import sqlalchemy as sa

    from omega_jupyter.jobs.scheduler import Scheduler
    from omega_jupyter.jobs.tables import runs

    loop = Scheduler(om, buckets=[om.bucket])
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    om.jobs.schedule("bench/three_cells", "every 3 seconds")
    deadline = time.monotonic() + 30 + 5 * slots
    rows = []
    while time.monotonic() < deadline:
        with om.db.connect() as conn:
            rows = conn.execute(
                sa.select(runs.c.scheduled_for, runs.c.submitted, runs.c.started)
                .where((runs.c.bucket == om.bucket) & (runs.c.trigger == "schedule"))
                .order_by(runs.c.scheduled_for)
            ).all()
        if len([r for r in rows if r.started is not None]) >= slots:
            break
        time.sleep(0.5)
    om.jobs.unschedule("bench/three_cells")
    loop.stop()
    thread.join(10)
    from omega_jupyter.storage.metadata import aware as _aware

    submit = [(_aware(r.submitted) - _aware(r.scheduled_for)).total_seconds() for r in rows]
    start = [
        (_aware(r.started) - _aware(r.scheduled_for)).total_seconds()
        for r in rows
        if r.started is not None
    ]
    for r, late in zip(rows, submit, strict=True):
        log(f"  slot {r.scheduled_for}  submitted +{late:.3f} s")
    return submit, start


def _bare_run(args: tuple[str, str, int]) -> None:
    import papermill

    source, target, x = args
    papermill.execute_notebook(
        source, target, parameters={"x": x}, progress_bar=False, kernel_name="python3"
    )


def bench_map(om, members: int, width: int, log) -> dict[str, float]:
    """(pool seconds, group seconds) for ``members`` runs ``width`` at a time."""
    from concurrent.futures import ProcessPoolExecutor

    from distributed import LocalCluster

    from omega_jupyter.client import Omega

    workdir = Path(tempfile.mkdtemp(prefix="omega-bench-map-"))
    source = workdir / "nb.ipynb"
    nbformat.write(notebook(), source)
    cluster = LocalCluster(
        n_workers=1, threads_per_worker=width, processes=False, dashboard_address=":0"
    )
    try:
        client = Omega(om.settings.replace(dask_address=cluster.scheduler_address))
        client.jobs.put(notebook(), "bench/three_cells")
        client.runtime.job("bench/three_cells").map([0] * width, param="x").wait(300)  # warm
        with ProcessPoolExecutor(max_workers=width) as pool:
            list(pool.map(_bare_run, [(str(source), str(workdir / "w.ipynb"), 0)] * width))
            started = time.perf_counter()
            jobs = [(str(source), str(workdir / f"out{i}.ipynb"), i) for i in range(members)]
            list(pool.map(_bare_run, jobs))
            pooled = time.perf_counter() - started
        log(f"  process pool of {width}: {members} papermill runs in {pooled:.2f} s")
        started = time.perf_counter()
        group = client.runtime.job("bench/three_cells").map(
            range(members), param="x", max_parallel=width
        )
        group.wait(3600)
        grouped = time.perf_counter() - started
        counts = group.status().counts
        assert counts["succeeded"] == members, counts
        log(f"  run group, max_parallel={width}: {members} members in {grouped:.2f} s")
    finally:
        cluster.close()
    return {"pool": pooled, "group": grouped}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None, help="database URL (default: a SQLite file)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--members", type=int, default=50, help="members of the run group")
    parser.add_argument("--width", type=int, default=2, help="max_parallel = pool workers")
    parser.add_argument("--runs", type=int, default=20, help="runs of the throughput bench")
    parser.add_argument("--only-map", action="store_true", help="measure the run group only")
    parser.add_argument(
        "--only-throughput", action="store_true", help="measure runs/s of one worker thread only"
    )
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="omega-bench-home-"))
    url = args.url or f"sqlite:///{home / 'omega.db'}"
    om = omega_jupyter.setup(url=url, bucket=f"bench{uuid.uuid4().hex[:8]}", home=str(home))
    log = lambda text: print(text, file=sys.stderr)  # noqa: E731
    print(f"database: {om.db.safe_url}")
    if args.only_map:
        print_map(bench_map(om, args.members, args.width, log), args.members, args.width, None)
        return
    if args.only_throughput:
        print_throughput(bench_throughput(om, args.runs, log), args.runs)
        return
    medians = bench_runs(om, args.repeat, log)
    bare = medians["papermill.execute_notebook (files)"]
    ours = medians["om.runtime.job(...).run().wait()"]
    cold = medians["the same, warm_kernels=0"]
    rates = bench_throughput(om, args.runs, log)
    submit, start = bench_latency(om, args.slots, log)
    mapped = bench_map(om, args.members, args.width, log)
    print(f"\n3-cell notebook, median of {args.repeat}:")
    print(f"  bare papermill        {bare:7.3f} s   1.00x")
    ratio = ours / bare
    verdict = "met" if ratio <= 0.5 else "MISSED"
    print(f"  om job, warm kernel   {ours:7.3f} s   {ratio:.2f}x   (target <= 0.5x: {verdict})")
    print(f"  om job, cold kernel   {cold:7.3f} s   {cold / bare:.2f}x")
    print_throughput(rates, args.runs)
    if submit:
        worst_start = max(start) if start else float("nan")
        print(f"\nscheduled, {len(submit)} slots (every 3 s):")
        med, worst = statistics.median(submit), max(submit)
        print(f"  trigger-to-submit  median {med:.3f} s  max {worst:.3f} s")
        if start:
            print(
                f"  trigger-to-start   median {statistics.median(start):.3f} s"
                f"  max {worst_start:.3f} s"
                f"   (target <= 2 s: {'ok' if worst_start <= 2 else 'OVER TARGET'})"
            )

    print_map(mapped, args.members, args.width, bare)


def print_map(times: dict[str, float], members: int, width: int, bare: float | None) -> None:
    pool, group = times["pool"], times["group"]
    ratio = group / pool
    verdict = "ok" if ratio <= 1.2 else "OVER TARGET"
    print(f"\n{members} runs of the 3-cell notebook, {width} at a time (one round):")
    print(f"  process pool + papermill  {pool:7.2f} s   1.00x")
    print(
        f"  om job.map(...).wait()    {group:7.2f} s   {ratio:.2f}x   (target <= 1.2x: {verdict})"
    )
    per_member = (group - pool) * width / members
    print(f"  overhead per member       {per_member:+.3f} s (on top of a pool run)")
    if bare is not None:
        print(
            f"  a member's wall share     {group * width / members:.3f} s"
            f" (a bare run: {bare:.3f} s)"
        )


if __name__ == "__main__":
    main()
