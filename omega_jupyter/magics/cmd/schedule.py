"""``%om schedule JOB "WHEN" [-p k=v …] [--missed once|skip|all]`` (``--pause``, ``--resume``;
without WHEN: show the schedule). ``%om unschedule JOB`` removes it (``--delete`` here is an
alias kept for old notebooks)."""

from __future__ import annotations

import argparse
from typing import Any

from IPython.core.error import UsageError

from omega_jupyter.magics import display
from omega_jupyter.magics.cmd.unschedule import remove_schedule
from omega_jupyter.magics.context import CommandContext
from omega_jupyter.magics.parser import CommandParser
from omega_jupyter.params import parse_pairs


def schedule(ctx: CommandContext, argv: list[str]) -> Any:
    """Schedule a notebook: cron or text such as "weekdays at 08:30", "every 5 minutes"."""
    parser = CommandParser("schedule", schedule.__doc__ or "")
    parser.add_argument("job")
    parser.add_argument("when", nargs="?", help='Quote it: "every 5 minutes".')
    parser.add_argument("-p", "--param", action="append", default=[], help="key=value")
    parser.add_argument("--missed", default="once", choices=("once", "skip", "all"))
    parser.add_argument("--max-retries", type=int, default=0)
    parser.add_argument("--timezone", help="IANA time zone of the cron, e.g. Europe/Zurich.")
    state = parser.add_mutually_exclusive_group()
    state.add_argument("--delete", action="store_true", help=argparse.SUPPRESS)  # unschedule
    state.add_argument(
        "--pause", dest="paused", action="store_const", const=True, help="Keep it, run nothing."
    )
    state.add_argument(
        "--resume",
        dest="paused",
        action="store_const",
        const=False,
        help="Run again from the next slot after now (slots during the pause are not run).",
    )
    args = parser.parse(argv)
    jobs = ctx.om.jobs
    if args.delete:
        if args.when is not None:
            raise UsageError("give WHEN or --delete, not both")
        return remove_schedule(ctx, args.job)
    if args.when is not None:
        info = jobs.schedule(
            args.job,
            args.when,
            parse_pairs(args.param) or None,
            args.missed,
            args.max_retries,
            args.timezone,
            paused=args.paused,
        )
    elif args.paused is not None:
        info = jobs.pause(args.job) if args.paused else jobs.resume(args.job)
    else:
        info = jobs.schedule_info(args.job)
    rows = [{"field": key, "value": value} for key, value in info.items()]
    return display.Table(rows, ["field", "value"], title=f"schedule of {args.job}")
