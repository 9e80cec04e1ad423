"""``om runtime`` (model actions, runs, results, logs, status) and ``om cluster``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from omega_jupyter.cli import output
from omega_jupyter.cli.common_commands import RunRetriesOption, show_group
from omega_jupyter.cli.context import CliState, state
from omega_jupyter.cli.jobs import runtime_job
from omega_jupyter.cli.scripts import runtime_script

if TYPE_CHECKING:
    from omega_jupyter.runtime.handle import RunHandle

app = typer.Typer(no_args_is_help=True)
cluster_app = typer.Typer(no_args_is_help=True)

ACTIONS = (
    "fit",
    "partial_fit",
    "fit_transform",
    "predict",
    "predict_proba",
    "decision_function",
    "transform",
    "score",
)
TimeoutOption = Annotated[
    float | None, typer.Option("--timeout", help="Seconds to wait (the run goes on after).")
]


@app.command("model")
def model(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Model: m, m@3, m@prod.")],
    action: Annotated[str, typer.Argument(help=", ".join(ACTIONS))],
    x: Annotated[str, typer.Argument(metavar="X", help="Dataset, e.g. 'iris[^target]'.")],
    y: Annotated[str | None, typer.Argument(metavar="[Y]", help="Target dataset.")] = None,
    result: Annotated[
        str | None, typer.Option("--result", help="Store the output as this dataset.")
    ] = None,
    result_stream: Annotated[
        str | None,
        typer.Option("--result-stream", help="predict: publish the outcome to this stream."),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the result.")] = True,
    timeout: TimeoutOption = None,
    max_retries: RunRetriesOption = None,
    experiment: Annotated[
        str | None, typer.Option("--experiment", help="fit: log the fit into this experiment.")
    ] = None,
) -> None:
    """Run ACTION of model NAME on the cluster: ``om runtime model clf fit X Y``."""
    st = state(ctx)
    if action not in ACTIONS:
        raise typer.BadParameter(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    if result_stream is not None and action != "predict":
        raise typer.BadParameter("--result-stream applies to predict")
    if experiment is not None and action != "fit":
        raise typer.BadParameter("--experiment applies to fit")
    runtime = st.client().runtime.model(name)
    method = getattr(runtime, action)
    if action in ("predict", "predict_proba", "decision_function", "transform"):
        if y is not None:
            raise typer.BadParameter(f"{action} takes X only")
        stream = {"result_stream": result_stream} if result_stream is not None else {}
        handle = method(x, result_name=result, max_retries=max_retries, **stream)
    elif experiment is not None:
        handle = method(x, y, max_retries=max_retries, experiment=experiment)
    else:
        handle = method(x, y, max_retries=max_retries)
    if not wait:
        output.emit(st, {"run": handle.id, "state": handle.status}, f"run {handle.id} submitted")
        return
    _show(st, handle, _wait(st, handle, timeout))


def _wait(st: CliState, handle: RunHandle, timeout: float | None) -> Any:
    """Wait with a spinner; Ctrl-C detaches (the run keeps going), it does not cancel."""
    try:
        if st.show_progress:
            with output.console(stderr=True).status(f"run {handle.id[:8]} …"):
                return handle.result(timeout=timeout)
        return handle.result(timeout=timeout)
    except KeyboardInterrupt:
        output.console(stderr=True).print(
            f"detached; run {handle.id} keeps running (om runtime result {handle.id})"
        )
        raise typer.Exit(0) from None


def _show(st: CliState, handle: RunHandle, value: Any) -> None:
    import numpy as np
    import pandas as pd

    from omega_jupyter.storage.metadata import Metadata

    data: Any
    if isinstance(value, Metadata):
        data = {"model": value.name, "version": value.version}
        human = f"run {handle.id}: saved {value.name} version {value.version}"
    elif isinstance(value, pd.DataFrame | pd.Series):
        frame = value.to_frame() if isinstance(value, pd.Series) else value
        if st.json:
            output.emit_json({"run": handle.id, "result": output.frame_records(frame)})
        else:
            output.frame_table(frame.head(20), caption=f"run {handle.id}: {len(frame)} rows")
        return
    elif isinstance(value, np.ndarray):
        data = value.tolist()
        shown = ", ".join(map(str, value.ravel()[:20].tolist()))
        more = " …" if value.size > 20 else ""
        human = f"run {handle.id}: {value.shape} [{shown}{more}]"
    else:
        data, human = value, f"run {handle.id}: {value}"
    output.emit(st, {"run": handle.id, "result": data}, human)


@app.command("runs")
def runs(
    ctx: typer.Context,
    state_: Annotated[
        list[str] | None, typer.Option("--state", help="queued, running, succeeded, …")
    ] = None,
    target: Annotated[str | None, typer.Option("--target", help="Only runs of NAME.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Newest N runs.")] = 50,
) -> None:
    """Recent runs, newest first."""
    import pandas as pd

    st = state(ctx)
    frame = st.client().runtime.runs(state=state_ or None, target=target, limit=limit)
    if st.json:
        output.emit_json(output.frame_records(frame))
        return
    rows = [
        {
            "id": r["id"],
            "action": r["action"],
            "target": f"{r['target']}@{r['target_version']}"
            if pd.notna(r["target_version"])
            else r["target"],
            "state": r["state"],
            "submitted": r["submitted"],
            "seconds": _seconds(r["started"], r["finished"]),
            "error": (r["error"] or "")[:80],
        }
        for r in frame.to_dict("records")
    ]
    output.table(rows, ["id", "action", "target", "state", "submitted", "seconds", "error"])


def _seconds(start: Any, end: Any) -> str:
    import pandas as pd

    if start is None or end is None or pd.isna(start) or pd.isna(end):
        return ""
    return f"{(end - start).total_seconds():.2f}"


@app.command("result")
def result(ctx: typer.Context, run_id: str, timeout: TimeoutOption = None) -> None:
    """Wait for a run and show its result (or its error)."""
    st = state(ctx)
    handle = st.client().runtime.run(run_id)
    _show(st, handle, _wait(st, handle, timeout))


@app.command("cancel")
def cancel(ctx: typer.Context, run_id: str) -> None:
    """Cancel a queued or running run."""
    st = state(ctx)
    done = st.client().runtime.run(run_id).cancel()
    output.emit(st, {"run": run_id, "cancelled": done}, "cancelled" if done else "already ended")


@app.command("group")
def group(
    ctx: typer.Context,
    group_id: Annotated[str, typer.Argument(help="Run group id (from om runtime job --map).")],
    cancel: Annotated[bool, typer.Option("--cancel", help="Cancel the group.")] = False,
    restart: Annotated[
        bool, typer.Option("--restart", help="Run again the members without a result.")
    ] = False,
    all_members: Annotated[
        bool, typer.Option("--all", help="--restart: every member not running now.")
    ] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for every member.")] = False,
) -> None:
    """A run group's counts and failed members; ``--cancel``, ``--restart [--all]``, ``--wait``."""
    st = state(ctx)
    if cancel and restart:
        raise typer.BadParameter("give --cancel or --restart, not both")
    if all_members and not restart:
        raise typer.BadParameter("--all applies to --restart")
    handle = st.client().runtime.group(group_id)
    if cancel:
        handle.cancel()
    if restart:
        handle.restart(failed_only=not all_members)
    if wait:
        with output.progress_bar(st, f"group {handle.id[:8]}", unit="members") as update:
            handle.wait(progress=lambda s: update(s.finished, s.total) if update else None)
    show_group(st, handle.status())


@app.command("status")
def status(ctx: typer.Context) -> None:
    """The cluster the runtime uses: address, workers, threads, dashboard."""
    st = state(ctx)
    info = st.client().runtime.status()
    output.emit(
        st,
        info,
        f"scheduler {info['address']}: {info['workers']} worker(s), {info['threads']} thread(s)"
        + (f", dashboard {info['dashboard']}" if info["dashboard"] else ""),
    )


@app.command("log")
def log(
    ctx: typer.Context,
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Keep printing new lines.")] = (
        False
    ),
    run: Annotated[str | None, typer.Option("--run", help="Only lines of this run.")] = None,
    lines: Annotated[int, typer.Option("-n", "--lines", help="How many recent lines.")] = 20,
    level: Annotated[str | None, typer.Option("--level", help="Minimum level.")] = None,
) -> None:
    """Recent log lines; -f follows new ones until Ctrl-C."""
    st = state(ctx)
    logger = st.client().logger
    if st.json and not follow:
        frame = logger.dataframe(level=level, run=run, limit=lines)
        output.emit_json(output.frame_records(frame))
        return
    try:
        for line in logger.tail(lines, follow=follow, run=run, level=level):
            output.console().print(line, markup=False)
    except KeyboardInterrupt:
        pass


# -- apps ---------------------------------------------------------------------------------------
APP_ACTIONS = ("start", "stop", "restart", "status", "logs")


@app.command("app")
def app_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A stored script package or notebook.")],
    action: Annotated[str, typer.Argument(help=", ".join(APP_ACTIONS))] = "status",
    timeout: Annotated[
        float, typer.Option("--timeout", help="start/restart: seconds to wait until it serves.")
    ] = 120.0,
    max_crashes: Annotated[
        int | None, typer.Option("--max-crashes", help="start: crashes before it is failed.")
    ] = None,
    lines: Annotated[int, typer.Option("-n", "--lines", help="logs: how many lines.")] = 50,
) -> None:
    """Serve a stored app: ``om runtime app dashboard start|stop|restart|status|logs``."""
    st = state(ctx)
    if action not in APP_ACTIONS:
        raise typer.BadParameter(f"unknown action {action!r}; use one of {', '.join(APP_ACTIONS)}")
    runner = st.client().runtime.app(name)
    if action == "logs":
        found = runner.logs(lines)
        if st.json:
            output.emit_json(found)
        else:
            for line in found:
                output.console().print(line, markup=False)
        return
    if action == "start":
        info = runner.start(timeout=timeout, max_crashes=max_crashes)
    elif action == "stop":
        info = runner.stop()
    elif action == "restart":
        info = runner.restart(timeout=timeout)
    else:
        info = runner.status()
    _show_app(st, info)


def _show_app(st: CliState, info: dict) -> None:
    where = (
        f" on {info['host']}:{info['port']} (om serve: {info['path']})" if info["serving"] else ""
    )
    crashes = f", {info['crashes']} crash(es)" if info["crashes"] else ""
    error = f": {info['error']}" if info["error"] and info["state"] == "failed" else ""
    output.emit(st, info, f"app {info['name']}: {info['state']}{where}{crashes}{error}")


@app.command("apps")
def apps_command(ctx: typer.Context) -> None:
    """The apps that ran in this bucket, with their state."""
    from omega_jupyter.apps.app_run import list_apps

    st = state(ctx)
    found = list_apps(st.client())
    if st.json:
        output.emit_json(found)
        return
    columns = ["name", "state", "serving", "source", "host", "port", "crashes", "started"]
    output.table(found, columns, title="apps")


@app.command("restart")
def restart(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="apps/NAME: the app to restart.")],
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait until it serves.")
    ] = 120.0,
) -> None:
    """Restart an app: ``om runtime restart apps/dashboard`` (= ``om runtime app NAME restart``)."""
    st = state(ctx)
    kind, _, name = target.partition("/")
    if kind != "apps" or not name:
        raise typer.BadParameter(f"restart takes apps/NAME, not {target!r}")
    _show_app(st, st.client().runtime.app(name).restart(timeout=timeout))


# -- om cluster -------------------------------------------------------------------------------
@cluster_app.command("start")
def cluster_start(
    ctx: typer.Context,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes.")] = 1,
    threads: Annotated[int, typer.Option("--threads", help="Threads per worker (0: auto).")] = 0,
) -> None:
    """Start a local scheduler and workers in the background (they outlive this shell)."""
    from omega_jupyter.runtime import cluster as clusters

    st = state(ctx)
    data = clusters.start_background(st.settings().home, workers=workers, threads=threads)
    output.emit(st, data, f"cluster running at {data['address']} (pid {data['pid']})")


@cluster_app.command("status")
def cluster_status(ctx: typer.Context) -> None:
    """Whether the background cluster runs, and where."""
    from omega_jupyter.runtime import cluster as clusters

    st = state(ctx)
    data = clusters.read_cluster_file(st.settings().home)
    if data is None:
        output.emit(st, {"running": False}, "no background cluster (om cluster start)")
        return
    output.emit(
        st,
        {"running": True, **data},
        f"cluster running at {data['address']} (pid {data['pid']}, {data['workers']} worker(s))",
    )


@cluster_app.command("stop")
def cluster_stop(ctx: typer.Context) -> None:
    """Stop the background cluster."""
    from omega_jupyter.runtime import cluster as clusters

    st = state(ctx)
    stopped = clusters.stop_background(st.settings().home)
    output.emit(st, {"stopped": stopped}, "stopped" if stopped else "no background cluster")


# `om runtime job` and `om runtime script` live with the notebooks' and scripts' commands.
app.command("job")(runtime_job)
app.command("script")(runtime_script)
