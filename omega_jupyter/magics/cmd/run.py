"""``%om run JOB [-p k=v …] [--result-stream S] [--no-wait] [--timeout S]``."""

from __future__ import annotations

from typing import Any

from omega_jupyter.exceptions import RunFailedError
from omega_jupyter.magics.cmd.inputs import wait_options
from omega_jupyter.magics.context import CommandContext
from omega_jupyter.magics.parser import CommandParser
from omega_jupyter.params import parse_pairs


def run(ctx: CommandContext, argv: list[str]) -> Any:
    """Run a stored notebook on the cluster with parameters; shows cells done / total."""
    parser = CommandParser("run", run.__doc__ or "")
    parser.add_argument("job", help="Stored notebook (om.jobs).")
    parser.add_argument("-p", "--param", action="append", default=[], help="key=value")
    parser.add_argument("--cell-timeout", type=float, help="Seconds allowed per cell.")
    parser.add_argument(
        "--result-stream", help="Publish the run's started/finished messages to this stream."
    )
    wait_options(parser)
    args = parser.parse(argv)
    params = parse_pairs(args.param)
    handle = ctx.om.runtime.job(args.job).run(
        params or None,
        timeout=args.cell_timeout,
        result_stream=args.result_stream,
        max_retries=args.max_retries,
    )
    if not args.wait:
        ctx.follow(handle, wait=False)
        return handle
    record = ctx.follow(handle, timeout=args.timeout)
    if record.state != "succeeded":
        raise RunFailedError(
            f"run {handle.id} {record.state}: {record.error or 'no error recorded'} "
            f"(executed notebook: om.jobs.result({handle.id!r}))",
            handle.id,
            record.state,
        )
    return handle
