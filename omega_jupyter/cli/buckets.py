"""``om bucket``: create, list and drop buckets (on PostgreSQL: their roles and schemas)."""

from __future__ import annotations

from typing import Annotated

import typer

from omega_jupyter.cli import output
from omega_jupyter.cli.context import state

app = typer.Typer(no_args_is_help=True)


def _db(ctx: typer.Context):  # type: ignore[no-untyped-def]
    return state(ctx).database()


@app.command("create")
def create(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The bucket's name.")]
) -> None:
    """Register a bucket; on PostgreSQL create its role and schema (idempotent)."""
    from omega_jupyter.storage import buckets

    buckets.create(_db(ctx), name)
    output.emit(state(ctx), {"bucket": name, "created": True}, f"bucket {name} ready")


@app.command("ls")
def list_buckets(ctx: typer.Context) -> None:
    """List buckets (registered or in use) with their role and number of objects."""
    from omega_jupyter.storage import buckets

    st = state(ctx)
    rows = buckets.list_buckets(_db(ctx))
    for row in rows:
        created = row["created"]
        row["created"] = created.isoformat() if hasattr(created, "isoformat") else created
    if st.json:
        output.emit_json(rows)
        return
    output.table(rows, ["bucket", "role", "objects", "created"])


@app.command("drop")
def drop(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The bucket's name.")],
    force: Annotated[
        bool, typer.Option("--force", help="Drop it even if it holds objects (all of them).")
    ] = False,
) -> None:
    """Drop a bucket: its objects, runs, logs, schedules, streams, data tables and role."""
    from omega_jupyter.storage import buckets

    dropped = buckets.drop(_db(ctx), name, force=force)
    output.emit(
        state(ctx),
        {"bucket": name, "objects": dropped},
        f"dropped bucket {name} ({dropped} objects)",
    )
