"""``om scripts`` (also ``om script``) and ``om runtime script NAME run k=v …``."""

from __future__ import annotations

import json
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
    show_runs,
    unschedule_object,
)
from omega_jupyter.cli.context import state
from omega_jupyter.cli.jobs import apply_schedule, parse_pairs

if TYPE_CHECKING:
    from omega_jupyter.storage.metadata import Metadata

app = typer.Typer(no_args_is_help=True)


def summary(meta: Metadata) -> dict[str, Any]:
    return {
        "name": meta.name,
        "version": meta.version,
        "wheel": meta.kind_meta.get("filename"),
        "modules": ",".join(meta.kind_meta.get("modules", [])),
        "size": meta.size,
        "created": meta.created.isoformat(),
    }


@app.command("put")
def put(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Package folder, its setup.py or pyproject.toml.")],
    name: Annotated[str, typer.Argument(help="Name in the store.")],
) -> None:
    """Build and store a package: ``om scripts put ./myscript/setup.py myscript``."""
    st = state(ctx)
    meta = st.client().scripts.put(path, name)
    output.emit(
        st, summary(meta), f"stored {meta.name}@{meta.version} ({meta.kind_meta['filename']})"
    )


@app.command("ls")
def ls(ctx: typer.Context, pattern: Annotated[str | None, typer.Argument()] = None) -> None:
    """List script packages."""
    st = state(ctx)
    columns = ["name", "version", "wheel", "modules", "size", "created"]
    list_objects(st, st.client().scripts, pattern, summary, columns)


@app.command("info")
def info(ctx: typer.Context, name: str) -> None:
    """Metadata of a script package."""
    st = state(ctx)
    show_fields(st, summary(st.client().scripts.metadata(name)))


@app.command("drop")
def drop(ctx: typer.Context, name: str, force: bool = False) -> None:
    """Remove a script package (all versions) and its schedule."""
    st = state(ctx)
    drop_object(st, st.client().scripts, name, force)


@app.command("runs")
def runs(ctx: typer.Context, name: str, limit: int = 20) -> None:
    """Runs of a script, newest first."""
    st = state(ctx)
    frame = st.client().scripts.runs(name, limit=limit)
    show_runs(st, frame, ["id", "state", "trigger", "submitted_at", "finished_at", "error"])


@app.command("schedule")
def schedule(
    ctx: typer.Context,
    name: str,
    when: Annotated[str | None, typer.Argument(help="Cron or text: 'daily at 06:00'.")] = None,
    kwargs: Annotated[
        list[str] | None, typer.Option("-p", "--param", help="run() argument key=value.")
    ] = None,
    missed: MissedOption = "once",
    max_retries: MaxRetriesOption = 0,
    timezone: TimezoneOption = None,
    show: ShowScheduleOption = False,
    delete: DeleteScheduleOption = False,
    paused: PauseScheduleOption = None,
) -> None:
    """Schedule a script: ``om scripts schedule NAME "every 5 minutes" -p day=today``.

    ``--pause`` keeps the schedule and runs nothing; ``--resume`` runs again from the next slot
    after now (the slots during the pause are not run)."""
    st = state(ctx)
    options = (parse_pairs(kwargs) or None, missed, max_retries, timezone)
    apply_schedule(st, st.client().scripts, name, when, options, show, delete, paused)


@app.command("unschedule")
def unschedule(ctx: typer.Context, name: str) -> None:
    """Remove the schedule of a script (the script stays): ``om scripts unschedule NAME``."""
    st = state(ctx)
    unschedule_object(st, st.client().scripts, name)


def runtime_script(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Stored script package.")],
    action: Annotated[str, typer.Argument(help="run")] = "run",
    kwargs: Annotated[list[str] | None, typer.Argument(help="key=value arguments.")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait")] = True,
    result_stream: ResultStreamOption = None,
    max_retries: RunRetriesOption = None,
) -> None:
    """Run a script on the cluster: ``om runtime script myscript run day=2024-01-01``."""
    st = state(ctx)
    if action != "run":
        raise typer.BadParameter(f"unknown action {action!r}; scripts have: run")
    script = st.client().runtime.script(name)
    handle = script.run(result_stream=result_stream, max_retries=max_retries, **parse_pairs(kwargs))
    if not wait:
        output.emit(st, {"run": handle.id, "state": "queued"}, handle.id)
        return
    value = handle.result()
    if st.json:
        output.emit_json({"run": handle.id, "result": value})
    else:
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        output.console().print(text, markup=False)
