"""``%om info NAME [--store S]``."""

from __future__ import annotations

from typing import Any

from omega_jupyter.magics import display
from omega_jupyter.magics.context import CommandContext
from omega_jupyter.magics.parser import CommandParser
from omega_jupyter.magics.stores import STORES, find_store


def info(ctx: CommandContext, argv: list[str]) -> Any:
    """Metadata of an object: kind, version, size, columns, tags, lineage, attributes."""
    parser = CommandParser("info", info.__doc__ or "")
    parser.add_argument("name")
    parser.add_argument("--store", choices=STORES)
    args = parser.parse(argv)
    store = find_store(ctx.om, args.name, args.store)
    return display.metadata_table(getattr(ctx.om, store).metadata(args.name))
