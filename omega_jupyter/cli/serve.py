"""``om serve`` (the standalone REST server) and ``om apikey create|ls|revoke|rotate``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from omega_jupyter.cli import output
from omega_jupyter.cli.context import state
from omega_jupyter.exceptions import ObjectNotFoundError

apikey_app = typer.Typer(no_args_is_help=True)


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0: pick a free one).")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Server processes sharing the port (default: one per core; 1 on SQLite).",
        ),
    ] = None,
    max_body_mb: Annotated[
        int, typer.Option("--max-body-mb", min=1, help="Largest accepted request body, MiB.")
    ] = 256,
) -> None:
    """Serve the REST API at /api/v1 with API keys (create one with `om apikey create`)."""
    from omega_jupyter.server.standalone import serve as run_server  # lazy: `om --help` stays fast

    client = state(ctx).client()
    client.db.ensure_schema()

    def ready(bound: int, n: int) -> None:
        procs = f" ({n} worker processes)" if n > 1 else ""
        sys.stderr.write(f"omega_jupyter REST API on http://{host}:{bound}/api/v1{procs}\n")
        sys.stderr.flush()

    def log_line(line: str) -> None:
        sys.stderr.write(f"om serve: {line}\n")
        sys.stderr.flush()

    if workers and workers > 1 and client.db.dialect == "sqlite":
        log_line(
            f"{workers} workers on SQLite: the database file takes one writer at a time, so "
            "their writes queue (a write that waits past the busy timeout answers 503)"
        )

    try:
        run_server(
            client,
            host=host,
            port=port,
            workers=workers,
            max_body_bytes=max_body_mb * 1024 * 1024,
            ready=ready,
            log_line=log_line,
        )
    except KeyboardInterrupt:
        pass


def _service(ctx: typer.Context):  # type: ignore[no-untyped-def]
    from omega_jupyter.server.apikeys import ApiKeyService  # lazy: `om --help` stays fast

    return ApiKeyService(state(ctx).client().db)


@apikey_app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option("--name", help="A label for the key.")] = None,
    buckets: Annotated[
        list[str] | None,
        typer.Option("--buckets", help="Comma-separated buckets the key may use (repeatable)."),
    ] = None,
    role: Annotated[
        str,
        typer.Option(
            "--role", help="read (get, list, predict), write (also put, drop, run), admin."
        ),
    ] = "write",
) -> None:
    """Create a key for --bucket/--buckets; the key is printed once, last on stdout."""
    st = state(ctx)
    granted = [b.strip() for item in buckets or [] for b in item.split(",") if b.strip()]
    if st.bucket and st.bucket not in granted:
        granted.insert(0, st.bucket)
    key, secret = _service(ctx).create(
        name=name, buckets=granted or [st.settings().bucket], role=role
    )
    if st.json:
        output.emit_json({**key.to_dict(), "key": secret})
        return
    sys.stdout.write(
        f"created API key {key.key_id} ({key.name}, {key.role}) for {', '.join(key.buckets)}; "
        f"it is shown only now:\n{secret}\n"
    )


@apikey_app.command("ls")
def list_keys(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
) -> None:
    """List API keys (never their secrets)."""
    st = state(ctx)
    rows = [k.to_dict() for k in _service(ctx).list(include_revoked=all_)]
    if st.json:
        output.emit_json(rows)
        return
    output.table(rows, ["id", "name", "role", "buckets", "created", "revoked"])


@apikey_app.command("revoke")
def revoke(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Key id (or name: revokes every key of it).")],
) -> None:
    """Revoke a key; every server stops accepting it within about 2 s."""
    st = state(ctx)
    done = _service(ctx).revoke(key)
    if not done:
        raise ObjectNotFoundError(f"no active API key {key!r}")
    output.emit(st, {"revoked": done}, f"revoked {done} key(s)")


@apikey_app.command("rotate")
def rotate(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Id of the key to replace.")],
) -> None:
    """Replace a key by a new one (same name, buckets, role) and revoke it; the new key is
    printed once, last on stdout."""
    st = state(ctx)
    new, secret = _service(ctx).rotate(key)
    if st.json:
        output.emit_json({**new.to_dict(), "key": secret, "revoked": key})
        return
    sys.stdout.write(f"revoked {key}; created API key {new.key_id} in its place:\n{secret}\n")
