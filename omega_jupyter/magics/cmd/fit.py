"""``%om fit MODEL X [Y] [--experiment E] [--no-wait] [--timeout S] [--max-retries N]``."""

from __future__ import annotations

from typing import Any

from omega_jupyter.magics.cmd.inputs import model_input, wait_options
from omega_jupyter.magics.context import CommandContext
from omega_jupyter.magics.parser import CommandParser


def fit(ctx: CommandContext, argv: list[str]) -> Any:
    """Fit a stored model on the cluster; the fitted model is saved as a new version."""
    parser = CommandParser("fit", fit.__doc__ or "")
    parser.add_argument("model", help="Stored model: clf, clf@3, clf@prod.")
    parser.add_argument("X", help="Dataset (e.g. 'iris[^target]') or a variable.")
    parser.add_argument("Y", nargs="?", help="Target dataset or variable.")
    parser.add_argument("--experiment", help="Log the fit as a run of this experiment.")
    wait_options(parser)
    args = parser.parse(argv)
    ctx.om.models.metadata(args.model)  # unknown models fail before anything runs
    X, Y = model_input(ctx, args.X), model_input(ctx, args.Y)
    handle = ctx.om.runtime.model(args.model).fit(
        X, Y, max_retries=args.max_retries, experiment=args.experiment
    )
    if not args.wait:
        ctx.follow(handle, wait=False)
        return handle
    ctx.follow(handle, timeout=args.timeout)
    return handle.result(timeout=args.timeout)
