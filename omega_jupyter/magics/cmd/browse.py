"""``%om browse``."""

from __future__ import annotations

from typing import Any

from omega_jupyter.magics.context import CommandContext
from omega_jupyter.magics.parser import CommandParser
from omega_jupyter.magics.stores import STORES


def browse(ctx: CommandContext, argv: list[str]) -> Any:
    """A browser of the stores: search, preview, insert code, run, drop (with confirmation)."""
    parser = CommandParser("browse", browse.__doc__ or "")
    parser.add_argument("stores", nargs="*", metavar="STORE", help=", ".join(STORES))
    args = parser.parse(argv)
    unknown = [s for s in args.stores if s not in STORES]
    if unknown:
        parser.error(f"unknown store {unknown[0]!r}; use {', '.join(STORES)}")
    from omega_jupyter.widgets.browser import Browser  # lazy: widgets import magics

    return Browser(ctx.om, ctx.shell, stores=tuple(args.stores) or STORES, widget=ctx.widgets)
