"""``%om versions NAME [--store S]``."""

from __future__ import annotations

from typing import Any

from omega_jupyter.magics import display
from omega_jupyter.magics.context import CommandContext
from omega_jupyter.magics.parser import CommandParser
from omega_jupyter.magics.stores import find_store


def versions(ctx: CommandContext, argv: list[str]) -> Any:
    """The versions of a model (or dataset): version, created, tags, size, lineage."""
    parser = CommandParser("versions", versions.__doc__ or "")
    parser.add_argument("name")
    parser.add_argument("--store", choices=("models", "datasets"))
    args = parser.parse(argv)
    store = find_store(ctx.om, args.name, args.store, among=("models", "datasets"))
    frame = getattr(ctx.om, store).versions(args.name)
    rows = frame.to_dict("records")
    for row in rows:
        row["size"] = display.human_size(row.get("size"))
    return display.Table(rows, list(frame.columns), title=f"versions of {store} {args.name}")
