"""``%om unschedule JOB``: remove the schedule of a stored notebook (the notebook stays)."""

from __future__ import annotations

from typing import Any

from omega_jupyter.magics import display
from omega_jupyter.magics.context import CommandContext
from omega_jupyter.magics.parser import CommandParser


def unschedule(ctx: CommandContext, argv: list[str]) -> Any:
    """Remove the schedule of a notebook; the notebook and its runs stay."""
    parser = CommandParser("unschedule", unschedule.__doc__ or "")
    parser.add_argument("job")
    args = parser.parse(argv)
    return remove_schedule(ctx, args.job)


def remove_schedule(ctx: CommandContext, job: str) -> display.Message:
    """What ``%om unschedule JOB`` (and its alias ``%om schedule JOB --delete``) shows."""
    ctx.om.jobs.unschedule(job)  # ObjectNotFoundError when it has none
    return display.Message(f"unscheduled {job}")
