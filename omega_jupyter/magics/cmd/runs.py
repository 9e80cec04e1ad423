"""``%om runs [NAME] [--state S] [--limit N]``."""

from __future__ import annotations

from typing import Any

from omega_jupyter.magics import display
from omega_jupyter.magics.context import CommandContext
from omega_jupyter.magics.parser import CommandParser
from omega_jupyter.names import validate_name


def runs(ctx: CommandContext, argv: list[str]) -> Any:
    """Recent runs (of one job, model or script), newest first, with status badges."""
    parser = CommandParser("runs", runs.__doc__ or "")
    parser.add_argument("name", nargs="?", help="Only runs of this job, model or script.")
    parser.add_argument("--state", action="append", help="queued, running, succeeded, …")
    parser.add_argument("--limit", type=int, default=20)
    args = parser.parse(argv)
    if args.name is not None:
        validate_name(args.name)
    frame = ctx.om.runtime.runs(state=args.state, target=args.name, limit=args.limit)
    title = f"runs of {args.name}" if args.name else f"runs in bucket {ctx.om.bucket}"
    return display.Table(
        display.run_rows(frame), display.RUN_COLUMNS, title=title, badges=["state"], empty="no runs"
    )
