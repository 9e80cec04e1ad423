"""``om scheduler``: run a scheduler loop in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import logging
import signal
from typing import Annotated

import typer

from omega_jupyter.cli import output
from omega_jupyter.cli.context import state


def scheduler(
    ctx: typer.Context,
    all_buckets: Annotated[
        bool, typer.Option("--all-buckets/--this-bucket", help="Serve every bucket.")
    ] = True,
    stale_after: Annotated[
        float | None,
        typer.Option(
            help="Seconds a running run may go without heartbeat before it is failed (or "
            "retried). Default: setting stale_after_seconds (15).",
            min=1,
        ),
    ] = None,
    queued_after: Annotated[
        float | None,
        typer.Option(
            help="Seconds a run may stay queued before it is failed, if Dask no longer holds "
            "its task (runs queued behind others are never failed). Default: setting "
            "queued_after_seconds (600).",
            min=1,
        ),
    ] = None,
) -> None:
    """Run scheduled notebooks and scripts. Any number may run against one database."""
    from omega_jupyter.jobs.scheduler import Scheduler  # lazy: `om --help` stays fast

    st = state(ctx)
    om = st.client()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    loop = Scheduler(
        om,
        buckets=None if all_buckets else [om.bucket],
        stale_after=stale_after or om.settings.stale_after_seconds,
        queued_after=queued_after or om.settings.queued_after_seconds,
    )
    signal.signal(signal.SIGTERM, lambda *_: loop.stop())
    output.console(stderr=True).print(f"scheduler {loop.loop_id} on {om.db.safe_url}", markup=False)
    try:
        loop.run()
    except KeyboardInterrupt:
        loop.stop()
