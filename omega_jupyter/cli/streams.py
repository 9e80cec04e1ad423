"""``om streams ls|put|tail|info|drop``: message streams from the command line."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from omega_jupyter.cli import output
from omega_jupyter.cli.common_commands import drop_object, show_fields, show_rows
from omega_jupyter.cli.context import state
from omega_jupyter.exceptions import InvalidMessageError

app = typer.Typer(no_args_is_help=True)


@app.command("ls")
def ls(ctx: typer.Context, pattern: Annotated[str | None, typer.Argument()] = None) -> None:
    """List streams with their last offset and kept messages."""
    st = state(ctx)
    rows = st.client().streams.list(pattern, raw=True)
    show_rows(st, rows, ["name", "last_offset", "messages", "max_messages", "created"])


@app.command("put")
def put(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Stream name (created on first put).")],
    message: Annotated[str, typer.Argument(help="A JSON value, or '-' for JSON lines on stdin.")],
) -> None:
    """Append a message: ``om streams put events '{"user": 1}'``."""
    st = state(ctx)
    items = _parse_json_lines(sys.stdin) if message == "-" else [_parse_json(message)]
    offset = st.client().streams.put(items, name, many=True)
    output.emit(st, {"name": name, "offset": offset, "appended": len(items)}, str(offset))


@app.command("tail")
def tail(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Stream name.")],
    n: Annotated[int, typer.Option("-n", "--lines", min=0, help="How many to show.")] = 10,
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Keep printing new ones.")] = (
        False
    ),
    group: Annotated[
        str | None, typer.Option("--group", help="Follow as this consumer group (resumes).")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="With -f: stop after this idle time (s).")
    ] = None,
) -> None:
    """The last messages, one per line (``--json``: JSON lines); ``-f`` follows the stream."""
    st = state(ctx)
    stream = st.client().streams.get(name)
    if group is not None:
        messages: Any = stream.follow(group=group, timeout=timeout if follow else 0)
    else:
        last = stream.last_offset()
        for message in stream.read(since=max(last - n, 0)):
            _print(message, st.json)
        if not follow:
            return
        messages = stream.follow(since=last, timeout=timeout)
    try:
        for message in messages:
            _print(message, st.json)
    except KeyboardInterrupt:
        pass
    finally:
        messages.close()


@app.command("info")
def info(ctx: typer.Context, name: str) -> None:
    """A stream's offsets, retention and consumer groups."""
    st = state(ctx)
    show_fields(st, st.client().streams.info(name))


@app.command("drop")
def drop(ctx: typer.Context, name: str, force: bool = False) -> None:
    """Remove a stream, its messages and its group offsets."""
    st = state(ctx)
    drop_object(st, st.client().streams, name, force)


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidMessageError(f"message is not valid JSON: {exc}") from exc


def _parse_json_lines(lines: Any) -> list[Any]:
    return [_parse_json(line) for line in lines if line.strip()]


def _print(message: Any, as_json: bool) -> None:
    data = json.dumps(message.data, ensure_ascii=False)
    if as_json:
        record = {"offset": message.offset, "timestamp": message.timestamp.isoformat()}
        line = json.dumps({**record, "data": message.data}, ensure_ascii=False)
    else:
        line = f"{message.offset}\t{message.timestamp.isoformat()}\t{data}"
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
