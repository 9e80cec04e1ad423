"""Alembic, driven from code: create an empty database, upgrade, refuse an outdated schema."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from omega_jupyter.exceptions import SchemaOutdatedError
from omega_jupyter.storage import tenancy

VERSION_TABLE = "om_alembic_version"
_SCRIPTS = Path(__file__).parent / "migrations"


def _config(conn: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(conn: Connection) -> str | None:
    ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return ctx.get_current_revision()


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        # Two processes starting on an empty database must not both create the schema.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(7345001)"))


def upgrade(conn: Connection, revision: str = "head") -> tuple[str | None, str]:
    """Upgrade the schema to ``revision``; returns (before, after) revisions."""
    _lock(conn)
    before = current_revision(conn)
    command.upgrade(_config(conn), revision)
    if revision == "head" or revision == head_revision():
        tenancy.apply(conn)  # roles and policies follow the code: updated on every upgrade
    return before, current_revision(conn) or ""


def ensure_current(conn: Connection) -> None:
    """Create the schema if the database has none; raise if it is older or newer than the code."""
    _lock(conn)
    current = current_revision(conn)
    head = head_revision()
    if current == head:
        return
    if current is None:
        if sa.inspect(conn).has_table("om_objects"):
            raise SchemaOutdatedError(
                f"the database has omega_jupyter tables but no schema version ({VERSION_TABLE}):"
                " it was not created by omega_jupyter's migrations, and `om db upgrade` cannot"
                " adopt it; use an empty database (OMEGA_DATABASE_URL) or remove the om_* tables"
            )
        command.upgrade(_config(conn), "head")
        tenancy.apply(conn)
        return
    scripts = ScriptDirectory.from_config(_config())
    known = {rev.revision for rev in scripts.walk_revisions()}
    if current not in known:
        raise SchemaOutdatedError(
            f"the database schema ({current}) is newer than this omega_jupyter ({head}); "
            "upgrade the omega_jupyter package"
        )
    raise SchemaOutdatedError(
        f"the database schema ({current}) is older than this omega_jupyter ({head}); "
        "run `om db upgrade` to upgrade it"
    )
