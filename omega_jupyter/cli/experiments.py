"""``om experiments ls|runs|data|summary|export``: read experiments (logging is Python's)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from omega_jupyter.cli import output
from omega_jupyter.cli.context import state

app = typer.Typer(no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="Experiment name.")]
RunOption = Annotated[
    str | None, typer.Option("--run", help="Run: 3, 1,2 or '*' (default: the latest).")
]
EventOption = Annotated[
    str | None, typer.Option("--event", help="metric, param, … (comma-separated).")
]
KeyOption = Annotated[str | None, typer.Option("--key", help="Keys (comma-separated).")]


def _split(text: str | None) -> list[str] | None:
    return [p.strip() for p in text.split(",") if p.strip()] if text else None


@app.command("ls")
def ls(ctx: typer.Context) -> None:
    """Experiments of the bucket: runs, events, last event."""
    st = state(ctx)
    frame = st.client().runtime.experiments()
    if st.json:
        output.emit_json(output.frame_records(frame))
        return
    output.frame_table(frame, caption=f"{len(frame)} experiment(s)")


@app.command("runs")
def runs(ctx: typer.Context, name: NameArg) -> None:
    """One row per run: status, duration, params and last metrics."""
    st = state(ctx)
    frame = st.client().runtime.experiment(name).require().runs()
    if st.json:
        output.emit_json(output.frame_records(frame))
        return
    output.frame_table(frame, title=f"runs of {name}")


@app.command("data")
def data(
    ctx: typer.Context,
    name: NameArg,
    run: RunOption = None,
    event: EventOption = None,
    key: KeyOption = None,
    limit: Annotated[int, typer.Option("--limit", help="At most N events.")] = 1000,
) -> None:
    """Events of a run (or runs), oldest first."""
    from omega_jupyter.experiments.experiment import parse_run

    st = state(ctx)
    exp = st.client().runtime.experiment(name).require()
    frame = exp.data(event=_split(event), key=_split(key), run=parse_run(run), limit=limit)
    if st.json:
        output.emit_json(output.frame_records(frame))
        return
    columns = ["run", "step", "event", "key", "value", "dt", "runtime_run", "model"]
    output.frame_table(frame[columns], caption=f"{len(frame)} event(s)")


@app.command("summary")
def summary(ctx: typer.Context, name: NameArg, run: RunOption = "*") -> None:
    """count, mean, std, min, quartiles, max of the numeric values per event and key."""
    from omega_jupyter.experiments.experiment import parse_run

    st = state(ctx)
    frame = st.client().runtime.experiment(name).require().summary(run=parse_run(run))
    if st.json:
        output.emit_json(output.frame_records(frame))
        return
    output.frame_table(frame.round(6), title=f"summary of {name}")


@app.command("export")
def export(
    ctx: typer.Context,
    name: NameArg,
    path: Annotated[Path, typer.Argument(help="CSV file to write.")],
    run: RunOption = "*",
) -> None:
    """Write the events to a CSV file (every run unless --run)."""
    from omega_jupyter.experiments.experiment import parse_run

    st = state(ctx)
    frame = st.client().runtime.experiment(name).require().data(run=parse_run(run))
    frame.to_csv(path, index=False)
    output.emit(st, {"path": str(path), "events": len(frame)}, f"{len(frame)} event(s) → {path}")


@app.command("drop")
def drop(
    ctx: typer.Context,
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete every event of an experiment (its stored artifacts stay)."""
    st = state(ctx)
    exp = st.client().runtime.experiment(name).require()
    if not yes and not typer.confirm(f"delete every event of experiment {name!r}?"):
        raise typer.Exit(1)
    count = exp.drop()
    output.emit(st, {"experiment": name, "deleted": count}, f"deleted {count} event(s)")
