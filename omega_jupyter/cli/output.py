"""Rendering: rich tables for people, JSON documents for scripts, progress bars on stderr."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from omega_jupyter.cli.context import CliState

if TYPE_CHECKING:
    import pandas as pd

    from omega_jupyter.progress import Progress as ProgressCallback

# pandas, rich.progress and the record codec are imported where they are used: ``om --help``
# and every command that prints no frame stay free of them (tests/cli/test_cli_imports.py).


def console(stderr: bool = False) -> Console:
    """A console on the current stdout/stderr (looked up each time: tests swap the streams)."""
    stream = sys.stderr if stderr else sys.stdout
    # Not a terminal: a wide fixed width so piped tables are not folded at 80 columns.
    width = None if stream.isatty() else 200
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):  # pandas.Timestamp is a datetime
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def emit_json(data: Any) -> None:
    """Print ``data`` as one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, default=_json_default, indent=2, allow_nan=False) + "\n")


def emit(state: CliState, data: Any, human: str | None = None) -> None:
    """``--json``: ``data`` as JSON; otherwise the ``human`` line (or nothing)."""
    if state.json:
        emit_json(data)
    elif human is not None:
        console().print(human, markup=False)


def cell(value: Any) -> str:
    """A value as table text: missing values shown as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    pd = sys.modules.get("pandas")  # a pandas missing value can only come from pandas
    if pd is not None:
        if value is pd.NaT:
            return ""
        try:
            if pd.isna(value) is True:
                return ""
        except (TypeError, ValueError):
            pass
    if isinstance(value, datetime):  # pandas.Timestamp too
        return value.isoformat(sep=" ")
    if isinstance(value, dict | list):
        return json.dumps(value, default=_json_default)
    return str(value)


def table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    title: str | None = None,
    caption: str | None = None,
) -> None:
    """Print ``rows`` (dicts) as a rich table with ``columns`` in that order."""
    # Text, not str: values and names such as "sales[a,b]" must not be read as rich markup.
    # Title and caption as lines of their own: inside the table they would wrap to its width.
    out = Table(show_lines=False)
    for name in columns:
        out.add_column(Text(str(name)), overflow="fold")
    for row in rows:
        out.add_row(*(Text(cell(row.get(name))) for name in columns))
    con = console()
    if title:
        con.print(Text(title, style="bold"))
    con.print(out)
    if caption:
        con.print(Text(caption, style="dim"))


def frame_table(df: pd.DataFrame, title: str | None = None, caption: str | None = None) -> None:
    """Print a DataFrame (index levels first when they carry information)."""
    shown = frame_for_output(df)
    labels = [str(c) for c in shown.columns]
    rows = [dict(zip(labels, values, strict=True)) for values in shown.itertuples(index=False)]
    table(rows, labels, title=title, caption=caption)


def frame_for_output(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with a non-default index turned into leading columns."""
    import pandas as pd

    if isinstance(df, pd.Series):
        df = df.to_frame()
    default = isinstance(df.index, pd.RangeIndex) and df.index.name is None
    return df if default else df.reset_index()


def frame_records(df: pd.DataFrame) -> list[dict]:
    """Rows of ``df`` as JSON-ready dicts (ISO dates, missing values as null)."""
    from omega_jupyter.records import json_records

    return json_records(frame_for_output(df))


def human_size(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(size)


@contextmanager
def progress_bar(
    state: CliState, description: str, unit: str = "rows"
) -> Iterator[ProgressCallback | None]:
    """A ``progress(done, total)`` callback drawing a bar on stderr, or None when not shown.

    Bars are shown when stderr is a terminal or ``--progress`` is given; ``unit`` is "rows"
    or "bytes".
    """
    if not state.show_progress:
        yield None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    count = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        count,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console(stderr=True),
        transient=True,
    )
    task = bar.add_task(description, total=None)

    def update(done: int, total: int | None) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        yield update
