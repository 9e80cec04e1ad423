"""``om jobs`` (notebooks, schedules, runs, results) and ``om runtime job``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from omega_jupyter.cli import output
from omega_jupyter.cli.common_commands import (
    DeleteScheduleOption,
    MaxRetriesOption,
    MissedOption,
    PauseScheduleOption,
    ResultStreamOption,
    RunRetriesOption,
    ShowScheduleOption,
    TimezoneOption,
    drop_object,
    list_objects,
    show_fields,
    show_frame,
    show_group,
    show_runs,
    unschedule_object,
)
from omega_jupyter.cli.context import CliState, state
from omega_jupyter.exceptions import InvalidParameterError, RunFailedError, RunTimeoutError
from omega_jupyter.params import parse_map
from omega_jupyter.params import parse_pairs as parse_key_values

if TYPE_CHECKING:
    from omega_jupyter.storage.metadata import Metadata

app = typer.Typer(no_args_is_help=True)

ParamOption = Annotated[
    list[str] | None,
    typer.Option("-p", "--param", help="Notebook parameter key=value (repeatable)."),
]


def parse_pairs(items: list[str] | None) -> dict[str, Any]:
    """``["x=1", "name=abc"]`` -> ``{"x": 1, "name": "abc"}`` (numbers, bools, JSON parsed)."""
    try:
        return parse_key_values(items)
    except InvalidParameterError as exc:
        raise typer.BadParameter(str(exc)) from None


def summary(meta: Metadata) -> dict[str, Any]:
    return {
        "name": meta.name,
        "version": meta.version,
        "kernel": meta.kind_meta.get("kernel"),
        "cells": meta.kind_meta.get("cells"),
        "size": meta.size,
        "created": meta.created.isoformat(),
    }


@app.command("put")
def put(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The .ipynb file.")],
    name: Annotated[str, typer.Argument(help="Name in the store, e.g. reports/daily.")],
) -> None:
    """Store a notebook: ``om jobs put notebook.ipynb mynotebook``."""
    st = state(ctx)
    meta, created = st.client().jobs.save(path, name)
    human = (
        f"stored {meta.name}@{meta.version}"
        if created
        else f"unchanged: {meta.name}@{meta.version} is the same notebook (no new version)"
    )
    output.emit(st, {**summary(meta), "created": created}, human)


@app.command("get")
def get(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Notebook name (name@2 for a version).")],
    path: Annotated[Path, typer.Argument(help="Where to write the .ipynb.")],
) -> None:
    """Write a stored notebook to a file."""
    import nbformat  # imported here: it pulls in jsonschema, ~1 s on every `om` start

    st = state(ctx)
    nbformat.write(st.client().jobs.get(name), str(path))
    output.emit(st, {"name": name, "path": str(path)}, f"wrote {path}")


@app.command("ls")
def ls(
    ctx: typer.Context,
    pattern: Annotated[str | None, typer.Argument(help="Glob on names.")] = None,
) -> None:
    """List notebooks."""
    st = state(ctx)
    columns = ["name", "version", "kernel", "cells", "size", "created"]
    list_objects(st, st.client().jobs, pattern, summary, columns)


@app.command("info")
def info(ctx: typer.Context, name: str) -> None:
    """Metadata of a notebook and its schedule."""
    st = state(ctx)
    om = st.client()
    data = summary(om.jobs.metadata(name))
    schedules = om.jobs.schedules(name)
    data["schedule"] = schedules.iloc[0]["when"] if len(schedules) else None
    data["schedule_paused"] = bool(schedules.iloc[0]["paused"]) if len(schedules) else None
    show_fields(st, data)


@app.command("drop")
def drop(ctx: typer.Context, name: str, force: bool = False) -> None:
    """Remove a notebook (all versions) and its schedule."""
    st = state(ctx)
    drop_object(st, st.client().jobs, name, force)


@app.command("schedule")
def schedule(
    ctx: typer.Context,
    name: str,
    when: Annotated[
        str | None, typer.Argument(help="Cron or text: 'weekdays at 08:30', 'every 5 minutes'.")
    ] = None,
    params: ParamOption = None,
    missed: MissedOption = "once",
    max_retries: MaxRetriesOption = 0,
    timezone: TimezoneOption = None,
    show: ShowScheduleOption = False,
    delete: DeleteScheduleOption = False,
    paused: PauseScheduleOption = None,
    map_spec: Annotated[
        str | None,
        typer.Option(
            "--map",
            help="Each slot starts a run group: key=a,b,c, or a file of JSON lines.",
        ),
    ] = None,
    max_parallel: Annotated[
        int | None,
        typer.Option("--max-parallel", help="--map: members running at once (default 4)."),
    ] = None,
) -> None:
    """Schedule a notebook: ``om jobs schedule NAME "weekdays at 08:30"`` (``--map``: groups).

    With ``--map store=a,b,c`` every slot starts a run group, one member per value.

    ``--pause`` keeps the schedule and runs nothing; ``--resume`` runs again from the next slot
    after now (the slots during the pause are not run). A changed schedule stays paused or
    active unless --pause/--resume is given with WHEN."""
    st = state(ctx)
    pairs = parse_pairs(params) or None
    extra: dict = {}
    if map_spec is not None or max_parallel is not None:
        if when is None:
            raise typer.BadParameter("--map and --max-parallel need WHEN")
        if map_spec is None:
            raise typer.BadParameter("--max-parallel applies to --map")
        try:
            extra["map"] = parse_map(map_spec, pairs)
        except InvalidParameterError as exc:
            raise typer.BadParameter(str(exc)) from None
        extra["max_parallel"] = max_parallel
        pairs = None  # shared parameters are merged into every member
    options = (pairs, missed, max_retries, timezone)
    apply_schedule(st, st.client().jobs, name, when, options, show, delete, paused, extra)


def apply_schedule(
    st: CliState,
    store: Any,
    name: str,
    when: str | None,
    options: tuple,
    show: bool,
    delete: bool,
    paused: bool | None = None,
    extra: dict | None = None,
) -> None:
    """Create, show, pause, resume or remove (``--delete``, the unschedule command's alias) the
    schedule of a job or script and print it.

    With WHEN, ``paused`` is the state of the new or changed schedule (None: kept as it was).
    """
    from omega_jupyter.jobs.claims import DEFAULT_SCHEDULED_PARALLEL

    if delete:
        if when is not None or show or paused is not None:
            raise typer.BadParameter("give --delete alone")
        unschedule_object(st, store, name)
        return
    if show and (when is not None or paused is not None):
        raise typer.BadParameter("give WHEN, --pause/--resume or --show, not several")
    if when is not None:
        info = store.schedule(name, when, *options, paused=paused, **(extra or {}))
    elif paused is not None:
        info = store.pause(name) if paused else store.resume(name)
    else:
        info = store.schedule_info(name)
    if st.json:
        output.emit_json(info)
        return
    output.console().print(f"{name}: {info['when']} ({info['cron']}) — {info['description']}")
    if info["paused"]:
        resume = f"om {store.store_name} schedule {name} --resume"
        output.console().print(f"paused: nothing runs until {resume}", markup=False)
    else:
        output.console().print("next: " + ", ".join(t.isoformat() for t in info["next_times"]))
    if info.get("map"):
        output.console().print(
            f"each slot: a run group of {len(info['map'])} members, "
            f"{info['max_parallel'] or DEFAULT_SCHEDULED_PARALLEL} at once",
            markup=False,
        )


@app.command("unschedule")
def unschedule(ctx: typer.Context, name: str) -> None:
    """Remove the schedule of a notebook (the notebook stays): ``om jobs unschedule NAME``."""
    st = state(ctx)
    unschedule_object(st, st.client().jobs, name)


@app.command("runs")
def runs(ctx: typer.Context, name: str, limit: int = 20) -> None:
    """Runs of a notebook, newest first."""
    st = state(ctx)
    frame = st.client().jobs.runs(name, limit=limit)
    columns = ["id", "state", "trigger", "scheduled_for", "submitted_at", "finished_at", "error"]
    show_runs(st, frame, columns)


@app.command("results")
def results(ctx: typer.Context, name: str) -> None:
    """Executed notebooks of a job."""
    st = state(ctx)
    show_frame(st, st.client().jobs.results(name))


@app.command("export")
def export(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Result name, run id or job (newest result).")],
    path: Annotated[Path, typer.Argument(help="File to write.")],
    format: Annotated[str, typer.Option("--format", help="html, markdown, python, …")] = "html",
) -> None:
    """Render an executed notebook with nbconvert."""
    st = state(ctx)
    path.write_text(st.client().jobs.export(name, format=format), encoding="utf-8")
    output.emit(st, {"name": name, "path": str(path)}, f"wrote {path}")


# -- om runtime job -----------------------------------------------------------------------------
def runtime_job(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Stored notebook.")],
    params: ParamOption = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the run.")] = True,
    timeout: Annotated[float | None, typer.Option(help="Seconds per cell.")] = None,
    result_stream: ResultStreamOption = None,
    max_retries: RunRetriesOption = None,
    map_spec: Annotated[
        str | None,
        typer.Option(
            "--map",
            help="Run once per member: key=a,b,c, or a file of JSON objects (one per line).",
        ),
    ] = None,
    max_parallel: Annotated[
        int | None,
        typer.Option("--max-parallel", help="--map: members running at once (default: threads)."),
    ] = None,
) -> None:
    """Run a stored notebook on the cluster: ``om runtime job mynotebook -p x=1``; once per
    member with ``--map store=a,b,c`` or ``--map params.jsonl`` (a run group)."""
    st = state(ctx)
    job = st.client().runtime.job(name)
    if map_spec is not None:
        try:
            members = parse_map(map_spec, parse_pairs(params))
        except InvalidParameterError as exc:
            raise typer.BadParameter(str(exc)) from None
        group = job.map(
            members,
            max_parallel=max_parallel,
            timeout=timeout,
            result_stream=result_stream,
            max_retries=max_retries,
        )
        _run_group(st, group, wait)
        return
    if max_parallel is not None:
        raise typer.BadParameter("--max-parallel applies to --map")
    handle = job.run(
        parse_pairs(params) or None,
        timeout=timeout,
        result_stream=result_stream,
        max_retries=max_retries,
    )
    if not wait:
        output.emit(st, {"run": handle.id, "state": "queued"}, handle.id)
        return
    if not st.json:
        output.console().print(f"run {handle.id}", markup=False)
    try:
        _follow(st, handle)
        record = handle.wait().record
    except KeyboardInterrupt:
        output.console(stderr=True).print(f"detached; run {handle.id} keeps running")
        raise typer.Exit(0) from None
    if record.state != "succeeded":
        raise RunFailedError(f"run {handle.id} {record.state}: {record.error}", handle.id)
    result = (record.result or {}).get("result")
    output.emit(st, record.to_dict(), f"succeeded; executed notebook: {result}")


def _run_group(st: CliState, group: Any, wait: bool) -> None:
    """Follow a run group with one bar (members ended / members); fails if any member did."""
    if not wait:
        output.emit(st, {"group": group.id, "members": group.size}, group.id)
        return
    if not st.json:
        output.console().print(f"run group {group.id} ({group.size} members)", markup=False)
    try:
        with output.progress_bar(st, f"group {group.id[:8]}", unit="members") as update:
            group.wait(progress=lambda s: update(s.finished, s.total) if update else None)
    except KeyboardInterrupt:
        output.console(stderr=True).print(f"detached; run group {group.id} goes on")
        raise typer.Exit(0) from None
    show_group(st, group.status())


def _follow(st: CliState, handle: Any) -> None:
    """Draw cells done / total from the run's progress until it ends."""
    with output.progress_bar(st, f"job {handle.id[:8]}", unit="cells") as update:
        while True:
            record = handle.runtime.run_record(handle.id)
            progress = record.progress or {}
            if update is not None and progress:
                update(progress.get("cells_done", 0), progress.get("cells_total"))
            if record.done:
                return
            try:
                handle.wait(timeout=0.5)
            except RunTimeoutError:
                continue
