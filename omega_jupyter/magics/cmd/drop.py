"""``%om drop NAME [--store S] [--force]``."""

from __future__ import annotations

from typing import Any

from omega_jupyter.magics import display
from omega_jupyter.magics.context import CommandContext
from omega_jupyter.magics.parser import CommandParser
from omega_jupyter.magics.stores import STORES, find_store
from omega_jupyter.names import validate_name


def drop(ctx: CommandContext, argv: list[str]) -> Any:
    """Remove an object (every version)."""
    parser = CommandParser("drop", drop.__doc__ or "")
    parser.add_argument("name")
    parser.add_argument("--store", choices=STORES)
    parser.add_argument("--force", action="store_true", help="No error if it does not exist.")
    args = parser.parse(argv)
    validate_name(args.name)
    if args.force and args.store is None:
        try:
            store = find_store(ctx.om, args.name)
        except Exception:
            return display.Message(f"{args.name} does not exist; nothing dropped")
    else:
        store = find_store(ctx.om, args.name, args.store)
    dropped = getattr(ctx.om, store).drop(args.name, force=args.force)
    text = f"dropped {args.name} from {store}" if dropped else f"{args.name} does not exist"
    return display.Message(text)
