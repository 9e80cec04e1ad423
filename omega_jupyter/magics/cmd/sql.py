"""``%%om sql [--into NAME]`` (or ``%om sql [--into NAME] SELECT …`` on one line)."""

from __future__ import annotations

import re
from typing import Any

from IPython.core.error import UsageError

from omega_jupyter.datasets.sql import run_sql
from omega_jupyter.magics.context import CommandContext
from omega_jupyter.magics.parser import CommandParser

_DESCRIPTION = (
    "A read-only SELECT whose table names are dataset names; returns a DataFrame. Write the "
    "query in the cell body under %%om sql [--into NAME], or after %om sql [--into NAME] on "
    "one line."
)
_LINE = re.compile(r"^\s*(?:--into(?:=|\s+)(?P<into>\S+))?\s*(?P<query>.*)$", re.S)


def sql(ctx: CommandContext, argv: list[str]) -> Any:
    """A read-only SELECT whose table names are dataset names; returns a DataFrame."""
    parser = CommandParser("sql", _DESCRIPTION)
    parser.add_argument("--into", help="Store the result as this dataset instead.")
    if ctx.cell is not None:
        args = parser.parse(argv)
        into, query = args.into, ctx.cell
    else:
        match = _LINE.match(ctx.line or "")
        into, query = (match["into"], match["query"]) if match else (None, "")
        if query.strip() in ("-h", "--help"):
            parser.parse(["-h"])  # prints the help and stops the command
    if not query.strip():
        raise UsageError("write the query in the cell body: %%om sql, then SELECT … FROM dataset")
    frame = run_sql(ctx.om.datasets, query)
    if into:
        return ctx.om.datasets.put(frame, into)
    return frame
