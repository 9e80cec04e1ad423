"""``%om predict MODEL X [--result NAME] [--no-wait] [--timeout S]``."""

from __future__ import annotations

from typing import Any

from omega_jupyter.magics.cmd.inputs import model_input, wait_options
from omega_jupyter.magics.context import CommandContext
from omega_jupyter.magics.parser import CommandParser


def predict(ctx: CommandContext, argv: list[str]) -> Any:
    """Predict with a stored model on the cluster: `y = %om predict clf iris[^target]`."""
    parser = CommandParser("predict", predict.__doc__ or "")
    parser.add_argument("model")
    parser.add_argument("X", help="Dataset or a variable.")
    parser.add_argument("--result", help="Also store the prediction as this dataset.")
    wait_options(parser)
    args = parser.parse(argv)
    ctx.om.models.metadata(args.model)
    handle = ctx.om.runtime.model(args.model).predict(
        model_input(ctx, args.X), result_name=args.result, max_retries=args.max_retries
    )
    if not args.wait:
        ctx.follow(handle, wait=False)
        return handle
    ctx.follow(handle, timeout=args.timeout)
    return handle.result(timeout=args.timeout)
