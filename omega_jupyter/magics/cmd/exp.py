"""``%om exp ls | runs NAME | data NAME [--run R] [--event E] [--key K] | summary NAME |
plot NAME METRIC``."""

from __future__ import annotations

from typing import Any

from omega_jupyter.experiments.experiment import parse_run
from omega_jupyter.magics import display
from omega_jupyter.magics.context import CommandContext
from omega_jupyter.magics.parser import CommandParser

VERBS = ("ls", "runs", "show", "data", "summary", "plot")


def exp(ctx: CommandContext, argv: list[str]) -> Any:
    """Experiments: list them, a run table, events, a summary, a chart of a metric."""
    parser = CommandParser("exp", exp.__doc__ or "")
    parser.add_argument("verb", choices=VERBS, help="ls, runs (or show), data, summary, plot")
    parser.add_argument("name", nargs="?", help="Experiment.")
    parser.add_argument("metric", nargs="?", help="plot: the metric.")
    parser.add_argument("--run", help="3, 1,2 or '*' (data: the latest run by default).")
    parser.add_argument("--event", help="data: metric, param, … (comma-separated).")
    parser.add_argument("--key", help="data: keys (comma-separated).")
    parser.add_argument("--limit", type=int, default=1000, help="data: at most N events.")
    args = parser.parse(argv)
    if args.verb == "ls":
        frame = ctx.om.runtime.experiments()
        return display.Table(
            frame.to_dict("records"),
            list(frame.columns),
            title=f"experiments in bucket {ctx.om.bucket}",
            empty="no experiments",
        )
    if args.name is None:
        parser.error(f"{args.verb} needs an experiment name")
    experiment = ctx.om.runtime.experiment(args.name).require()
    if args.verb in ("runs", "show"):
        frame = experiment.runs()
        return display.Table(
            frame.to_dict("records"),
            list(frame.columns),
            title=f"runs of {args.name}",
            badges=[],
            empty="no runs",
        )
    if args.verb == "data":
        return experiment.data(
            event=_split(args.event),
            key=_split(args.key),
            run=parse_run(args.run),
            limit=args.limit,
        )
    if args.verb == "summary":
        return experiment.summary(run=parse_run(args.run or "*"))
    if args.metric is None:
        parser.error("plot needs a metric: %om exp plot NAME METRIC")
    return experiment.plot(args.metric, run=parse_run(args.run or "*"))


def _split(text: str | None) -> list[str] | None:
    return [p.strip() for p in text.split(",") if p.strip()] if text else None
