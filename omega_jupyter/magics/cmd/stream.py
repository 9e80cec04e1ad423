"""``%om stream put NAME JSON`` · ``%om stream read NAME [--since N] [--limit N]`` ·
``%om stream ls [PATTERN]``."""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

from omega_jupyter.exceptions import InvalidMessageError
from omega_jupyter.magics import display
from omega_jupyter.magics.context import CommandContext
from omega_jupyter.magics.parser import CommandParser

ACTIONS = ("put", "read", "ls")
LS_COLUMNS = ["name", "last_offset", "messages", "max_messages", "created"]
# "put NAME <rest>": the rest is the message as typed, so JSON needs no extra shell quoting.
_PUT_RE = re.compile(r"^\s*put\s+(?P<name>\S+)\s+(?P<json>.+?)\s*$", re.DOTALL)


def stream(ctx: CommandContext, argv: list[str]) -> Any:
    """Message streams: put NAME JSON · read NAME [--since N] [--limit N] · ls [PATTERN]."""
    parser = CommandParser("stream", stream.__doc__ or "")
    parser.add_argument("action", choices=ACTIONS)
    parser.add_argument("name", nargs="?", help="Stream name (ls: a glob pattern).")
    parser.add_argument("message", nargs="*", help="put: the message as JSON.")
    parser.add_argument("--since", type=int, default=0, help="read: after this offset.")
    parser.add_argument("--limit", type=int, default=None, help="read: at most this many.")
    args = parser.parse(argv)
    if args.action == "ls":
        rows = ctx.om.streams.list(args.name, raw=True)
        return display.Table(
            rows, LS_COLUMNS, title=f"streams in bucket {ctx.om.bucket}", empty="no streams"
        )
    if args.name is None:
        parser.error(f"give a stream name, e.g. %om stream {args.action} events")
    if args.action == "read":
        if args.message:
            parser.error(f"unexpected words after the name: {' '.join(args.message)}")
        return ctx.om.streams.get(args.name).to_frame(since=args.since, limit=args.limit)
    if not args.message:
        parser.error('give the message as JSON, e.g. %om stream put events {"user": 1}')
    match = _PUT_RE.match(ctx.line)
    raw = match["json"] if match and match["name"] == args.name else shlex.join(args.message)
    return ctx.om.streams.put(_parse_message(raw), args.name)


def _parse_message(text: str) -> Any:
    """The JSON value typed after the name, quoted for the shell or not."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        first_error = exc
    try:
        words = shlex.split(text)
    except ValueError:
        words = []
    if len(words) == 1:
        try:
            return json.loads(words[0])
        except json.JSONDecodeError:
            pass
    raise InvalidMessageError(f"the message is not valid JSON: {first_error}")
