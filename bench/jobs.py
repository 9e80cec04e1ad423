"""Notebook jobs: ``om.runtime.job`` vs bare ``papermill.execute_notebook``; scheduled latency.

Usage: python bench/jobs.py [--url URL] [--repeat 5] [--slots 4] [--members 50] [--width 2]
                            [--only-map]

Prints medians and ratios measured in the same run:
  * job run (submit, papermill on a Dask worker through omega://, result and run row written,
    waited for) over bare papermill on local files, for the same 3-cell notebook — target <= 1.3x;
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

    def ours(trial: int) -> None:
        handle = om.runtime.job("bench/three_cells").run(parameters={"x": trial})
        state = handle.wait(120).status
        assert state == "succeeded", om.jobs.runs("bench/three_cells").error.iloc[0]

    methods = [
        Method("papermill.execute_notebook (files)", bare, role="baseline"),
        Method("om.runtime.job(...).run().wait()", ours, role="ours"),
    ]
    run_rounds(methods, repeat, log)
    return {m.name: m.median for m in methods}


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
    parser.add_argument("--only-map", action="store_true", help="measure the run group only")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="omega-bench-home-"))
    url = args.url or f"sqlite:///{home / 'omega.db'}"
    om = omega_jupyter.setup(url=url, bucket=f"bench{uuid.uuid4().hex[:8]}", home=str(home))
    log = lambda text: print(text, file=sys.stderr)  # noqa: E731
    print(f"database: {om.db.safe_url}")
    if args.only_map:
        print_map(bench_map(om, args.members, args.width, log), args.members, args.width, None)
        return
    medians = bench_runs(om, args.repeat, log)
    bare = medians["papermill.execute_notebook (files)"]
    ours = medians["om.runtime.job(...).run().wait()"]
    submit, start = bench_latency(om, args.slots, log)
    mapped = bench_map(om, args.members, args.width, log)
    print(f"\n3-cell notebook, median of {args.repeat}:")
    print(f"  bare papermill        {bare:7.3f} s   1.00x")
    ratio = ours / bare
    verdict = "ok" if ratio <= 1.3 else "OVER TARGET"
    print(f"  om runtime job        {ours:7.3f} s   {ratio:.2f}x   (target <= 1.3x: {verdict})")
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
