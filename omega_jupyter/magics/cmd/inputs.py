"""Model inputs named on a magic line: a dataset name, else a variable holding data."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError

from omega_jupyter.magics.context import CommandContext
from omega_jupyter.names import parse_ref


def model_input(ctx: CommandContext, text: str | None) -> Any:
    """``iris[^target]`` when it is a dataset; otherwise the session variable of that name (a
    DataFrame, Series or array), which the runtime stores as a temporary dataset."""
    if text is None:
        return None
    if ctx.om.datasets.exists(parse_ref(text).name):
        return text
    if text.isidentifier() and text in ctx.shell.user_ns:
        return ctx.shell.user_ns[text]
    raise UsageError(
        f"{text!r} is neither a dataset nor a variable of this session "
        "(store data first with %om put VAR NAME)"
    )


def wait_options(parser: Any) -> None:
    parser.add_argument(
        "--no-wait", dest="wait", action="store_false", help="Return the run at once."
    )
    parser.add_argument("--timeout", type=float, help="Seconds to wait (the run goes on after).")
    parser.add_argument(
        "--max-retries",
        type=int,
        help="Times to try again should the run lose its worker (default 0; 1 for predict).",
    )
