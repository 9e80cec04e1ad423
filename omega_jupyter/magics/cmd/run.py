"""``%om run JOB [-p k=v …] [--map key=a,b,c | FILE [--max-parallel N]] [--result-stream S]
[--no-wait] [--timeout S]``."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError

from omega_jupyter.exceptions import RunFailedError
from omega_jupyter.magics.cmd.inputs import wait_options
from omega_jupyter.magics.context import CommandContext
from omega_jupyter.magics.parser import CommandParser
from omega_jupyter.params import parse_map, parse_pairs


def run(ctx: CommandContext, argv: list[str]) -> Any:
    """Run a stored notebook on the cluster with parameters; shows cells done / total."""
    parser = CommandParser("run", run.__doc__ or "")
    parser.add_argument("job", help="Stored notebook (om.jobs).")
    parser.add_argument("-p", "--param", action="append", default=[], help="key=value")
    parser.add_argument("--cell-timeout", type=float, help="Seconds allowed per cell.")
    parser.add_argument(
        "--result-stream", help="Publish the run's started/finished messages to this stream."
    )
    parser.add_argument(
        "--map",
        dest="map_spec",
        help="Run once per member (a run group): key=a,b,c, or a file of JSON objects.",
    )
    parser.add_argument("--max-parallel", type=int, help="--map: members running at once.")
    wait_options(parser)
    args = parser.parse(argv)
    params = parse_pairs(args.param)
    if args.map_spec is not None:
        return run_group(ctx, args, parse_map(args.map_spec, params))
    if args.max_parallel is not None:
        raise UsageError("--max-parallel applies to --map")
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


def run_group(ctx: CommandContext, args: Any, members: list[dict]) -> Any:
    """``--map``: a run group with one bar (members ended / members); returns the group."""
    group = ctx.om.runtime.job(args.job).map(
        members,
        max_parallel=args.max_parallel,
        timeout=args.cell_timeout,
        result_stream=args.result_stream,
        max_retries=args.max_retries,
    )
    if not args.wait:
        return group
    bar = ctx.progress(f"group {group.id[:8]}", unit="members")
    try:
        group.wait(args.timeout, progress=lambda s: bar(s.finished, s.total))
    finally:
        status = group.status()
        bad = status.counts["failed"] + status.counts["cancelled"]
        bar.close("done" if status.done and not bad else "failed")
    if bad:
        raise RunFailedError(
            f"run group {group.id}: {bad} of {status.total} members did not succeed "
            f"(om.runtime.group({group.id!r}).status(); .restart() runs them again)",
            group.id,
            "failed",
        )
    return group
