"""``%om log [--run ID] [-n N] [--level L]``."""

from __future__ import annotations

from typing import Any

from omega_jupyter.magics import display
from omega_jupyter.magics.context import CommandContext
from omega_jupyter.magics.parser import CommandParser

COLUMNS = ["created", "levelname", "run_id", "logger", "message"]


def log(ctx: CommandContext, argv: list[str]) -> Any:
    """Recent log lines of this bucket (of one run), oldest first."""
    parser = CommandParser("log", log.__doc__ or "")
    parser.add_argument("--run", help="Only lines of this run id.")
    parser.add_argument("-n", "--lines", type=int, default=20, help="How many recent lines.")
    parser.add_argument("--level", help="Minimum level: DEBUG, INFO, WARNING, ERROR.")
    args = parser.parse(argv)
    frame = ctx.om.logger.dataframe(level=args.level, run=args.run, limit=args.lines)
    rows = frame.to_dict("records")
    for row in rows:
        row["run_id"] = (row.get("run_id") or "")[:8]
    title = f"log of run {args.run}" if args.run else f"log of bucket {ctx.om.bucket}"
    return display.Table(rows, COLUMNS, title=title, empty="no log lines")
