"""``om db``: schema status and upgrades of the configured database, and the sweep of
unreferenced data (``om db gc``)."""

from __future__ import annotations

import typer

from omega_jupyter.cli import output
from omega_jupyter.cli.context import state

app = typer.Typer(no_args_is_help=True)


@app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Upgrade the database schema to this version of omega_jupyter."""
    from omega_jupyter.storage import migrate

    st = state(ctx)
    db = st.database()
    with db.connect() as conn:
        before, after = migrate.upgrade(conn)
        conn.commit()
    data = {"database": db.safe_url, "before": before, "after": after}
    if before == after:
        human = f"{db.safe_url}: already at revision {after}"
    else:
        human = f"{db.safe_url}: upgraded {before or '(empty)'} → {after}"
    output.emit(st, data, human)


@app.command("status")
def status(ctx: typer.Context) -> None:
    """Show the database URL (without password) and its schema revision against the code's."""
    from omega_jupyter.storage import migrate

    st = state(ctx)
    db = st.database()
    with db.connect() as conn:
        current = migrate.current_revision(conn)
    head = migrate.head_revision()
    data = {
        "database": db.safe_url,
        "current": current,
        "head": head,
        "up_to_date": current == head,
    }
    if st.json:
        output.emit_json(data)
        return
    if current == head:
        verdict = "up to date"
    elif current is None:
        verdict = "empty: created on first use, or run `om db upgrade`"
    else:
        verdict = "differs from the code: run `om db upgrade` (if older) or upgrade omega_jupyter"
    rows = [
        {"field": "database", "value": db.safe_url},
        {"field": "current", "value": current or "(none)"},
        {"field": "head", "value": head},
        {"field": "status", "value": verdict},
    ]
    output.table(rows, ["field", "value"])


@app.command("gc")
def collect(
    ctx: typer.Context,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="List what would be freed; drop nothing."
    ),
    grace: str = typer.Option(
        "1h", "--grace", help="Leave tables younger than this (90s, 15m, 1h, 2d): writes in flight."
    ),
) -> None:
    """Drop data tables and blobs that no object version references (left by crashed writes)."""
    from omega_jupyter.storage import gc

    st = state(ctx)
    try:
        period = gc.parse_duration(grace)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--grace") from None
    db = st.database()
    report = gc.sweep(db, grace=period, dry_run=dry_run)
    if st.json:
        output.emit_json(report.to_dict())
        return
    rows = [
        {"what": "table", "id": ".".join(filter(None, [t.schema, t.name])), "bytes": t.bytes}
        for t in report.tables
    ] + [{"what": "blob", "id": b.blob_id, "bytes": b.bytes} for b in report.blobs]
    if rows:
        output.table(rows, ["what", "id", "bytes"])
    output.emit(st, report.to_dict(), f"{db.safe_url}: {report.summary()}")
