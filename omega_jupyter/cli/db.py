"""``om db``: schema status and upgrades of the configured database."""

from __future__ import annotations

import typer

from omega_jupyter.cli import output
from omega_jupyter.cli.context import state
from omega_jupyter.storage import migrate
from omega_jupyter.storage.engine import get_database

app = typer.Typer(help="The database: schema status and upgrades.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Upgrade the database schema to this version of omega_jupyter."""
    st = state(ctx)
    db = get_database(st.settings().resolved_database_url)
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
    st = state(ctx)
    db = get_database(st.settings().resolved_database_url)
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
