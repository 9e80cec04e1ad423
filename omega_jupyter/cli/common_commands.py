"""Bodies of the commands every object store has (``ls``, ``info``, ``drop``, ``runs``).

Each store's command module keeps its own options, help and summary columns and calls these.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from omega_jupyter.cli import output
from omega_jupyter.cli.context import CliState
from omega_jupyter.exceptions import RunFailedError

if TYPE_CHECKING:
    import pandas as pd

    from omega_jupyter.storage.metadata import Metadata

RUN_ERROR_WIDTH = 80

# Options of ``schedule`` (jobs and scripts).
MissedOption = Annotated[str, typer.Option(help="After downtime: once, skip or all.")]
MaxRetriesOption = Annotated[int, typer.Option(help="Retries of a run that died.")]
RunRetriesOption = Annotated[
    int | None,
    typer.Option(
        "--max-retries",
        min=0,
        help="Times to try again should the run lose its worker "
        "(default 0; 1 for predict, predict_proba, decision_function, transform, score).",
    ),
]
TimezoneOption = Annotated[str | None, typer.Option(help="IANA time zone of the cron.")]
ResultStreamOption = Annotated[
    str | None,
    typer.Option("--result-stream", help="Publish the run's started/finished messages here."),
]
ShowScheduleOption = Annotated[bool, typer.Option("--show", help="Show the schedule.")]
# The word is ``unschedule`` (its own command); --delete stays as a hidden alias of it.
DeleteScheduleOption = Annotated[
    bool, typer.Option("--delete", hidden=True, help="Same as the unschedule command.")
]
PauseScheduleOption = Annotated[
    bool | None,
    typer.Option(
        "--pause/--resume",
        help="Pause the schedule (kept, nothing runs) or resume it from the next slot after now "
        "(slots during the pause are not run). With WHEN: the new schedule's state.",
    ),
]


def show_rows(st: CliState, rows: list[dict], columns: Sequence[str]) -> None:
    """``--json``: the rows as a JSON list; otherwise a table with ``columns``."""
    if st.json:
        output.emit_json(rows)
    else:
        output.table(rows, columns)


def show_fields(st: CliState, data: Mapping[str, Any]) -> None:
    """``--json``: ``data`` as a JSON object; otherwise a field/value table."""
    if st.json:
        output.emit_json(data)
    else:
        output.table([{"field": k, "value": v} for k, v in data.items()], ["field", "value"])


def show_frame(st: CliState, frame: pd.DataFrame) -> None:
    """``--json``: the frame's rows as JSON records; otherwise the frame as a table."""
    if st.json:
        output.emit_json(output.frame_records(frame))
    else:
        output.frame_table(frame)


def list_objects(
    st: CliState,
    store: Any,
    pattern: str | None,
    summary: Callable[[Metadata], dict[str, Any]],
    columns: Sequence[str],
) -> None:
    """``ls``: the latest version of each object matching ``pattern``, one row each."""
    show_rows(st, [summary(m) for m in store.list(pattern, raw=True)], columns)


def drop_object(st: CliState, store: Any, name: str, force: bool) -> None:
    """``drop``: remove every version of ``name`` (``force``: no error when missing)."""
    dropped = store.drop(name, force=force)
    output.emit(st, {"name": name, "dropped": dropped}, f"dropped {name}" if dropped else None)


def unschedule_object(st: CliState, store: Any, name: str) -> None:
    """``unschedule``: remove the schedule of ``name`` (the object itself stays)."""
    store.unschedule(name)
    output.emit(st, {"name": name, "unscheduled": True}, f"unscheduled {name}")


def show_runs(st: CliState, frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """``runs``: every column as JSON; otherwise ``columns`` with errors cut to one line."""
    if st.json:
        output.emit_json(output.frame_records(frame))
        return
    frame = frame.assign(error=frame.error.fillna("").str.slice(0, RUN_ERROR_WIDTH))
    output.table(frame[list(columns)].to_dict("records"), columns)


def show_group(st: CliState, status: Any) -> None:
    """A group's counts and its failed members; exits non-zero if a member failed."""
    members = status.members
    failed = members[members.state.isin(["failed", "cancelled"])]
    data = {**status.to_dict(), "failed": output.frame_records(failed)}
    counts = ", ".join(f"{n} {s}" for s, n in status.counts.items() if n)
    output.emit(st, data, f"{counts}")
    if not st.json and len(failed):
        show_frame(st, failed[["index", "parameters", "run_id", "state", "error"]])
    if len(failed) and status.done:
        raise RunFailedError(f"{len(failed)} of {status.total} members did not succeed")
