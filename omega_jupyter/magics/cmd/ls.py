"""``%om ls [STORE] [PATTERN]``."""

from __future__ import annotations

from typing import Any

from omega_jupyter.magics import display
from omega_jupyter.magics.context import CommandContext
from omega_jupyter.magics.parser import CommandParser
from omega_jupyter.magics.stores import STORES

COLUMNS = ["store", "name", "kind", "version", "size", "modified"]


def ls(ctx: CommandContext, argv: list[str]) -> Any:
    """List objects of one store (or all) whose names match a glob."""
    parser = CommandParser("ls", ls.__doc__ or "")
    parser.add_argument("words", nargs="*", metavar="[STORE] [PATTERN]")
    args = parser.parse(argv)
    words = list(args.words)
    stores: tuple[str, ...] = STORES
    if words and words[0] in STORES:
        stores = (words.pop(0),)
    if len(words) > 1:
        parser.error("give at most a store and one pattern, e.g. %om ls datasets 'sales*'")
    pattern = words[0] if words else None
    rows = [
        {
            "store": store,
            "name": meta.name,
            "kind": meta.kind,
            "version": meta.version,
            "size": display.human_size(meta.size),
            "modified": meta.modified,
        }
        for store in stores
        for meta in getattr(ctx.om, store).list(pattern, raw=True)
    ]
    where = stores[0] if len(stores) == 1 else "all stores"
    title = f"{where} in bucket {ctx.om.bucket}" + (f" matching {pattern}" if pattern else "")
    return display.Table(rows, COLUMNS, title=title, empty="no objects")
