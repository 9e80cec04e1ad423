"""``%om get NAME [col__op=value …] [--lazy] [--limit N] [--store S]``."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError

from omega_jupyter.magics import display
from omega_jupyter.magics.context import CommandContext
from omega_jupyter.magics.parser import CommandParser
from omega_jupyter.magics.preview import preview_when_shown
from omega_jupyter.magics.stores import STORES, find_store
from omega_jupyter.params import column_specs, parse_filters

FRAME_KINDS = ("pandas.dataframe", "pandas.series")


def get(ctx: CommandContext, argv: list[str]) -> Any:
    """Get an object: `df = %om get sales`; alone, it shows a preview."""
    parser = CommandParser("get", get.__doc__ or "")
    parser.add_argument("name", help="Name with modifiers: sales[a,b], sales@2, model@prod.")
    parser.add_argument("filters", nargs="*", help="Dataset filters: price__gte=10 city=Bern.")
    parser.add_argument("--lazy", action="store_true", help="A LazyFrame (runs in the database).")
    parser.add_argument("--limit", type=int, help="Only the first N rows.")
    parser.add_argument("--store", choices=STORES)
    args = parser.parse(argv)
    if args.limit is not None and args.limit < 0:
        raise UsageError("--limit must be 0 or more")
    store = find_store(ctx.om, args.name, args.store)
    if store != "datasets":
        if args.filters or args.lazy or args.limit is not None:
            raise UsageError(f"filters, --lazy and --limit apply to datasets, not {store}")
        return getattr(ctx.om, store).get(args.name)
    value = _dataset(ctx, args)
    if display.can_preview(value):
        preview_when_shown(ctx.shell, value, args.name)
    return value


def _dataset(ctx: CommandContext, args: Any) -> Any:
    datasets = ctx.om.datasets
    meta = datasets.metadata(args.name)
    filters = parse_filters(args.filters, column_specs(meta.kind_meta))
    frames = meta.kind in FRAME_KINDS
    if (args.lazy or args.limit is not None) and not frames:
        raise UsageError(
            f"--lazy and --limit need a DataFrame or Series; {args.name} is {meta.kind}"
        )
    if args.lazy:
        return datasets.get(args.name, lazy=True, **filters)
    if args.limit is not None:
        return datasets.get(args.name, lazy=True, **filters).head(args.limit).value
    with ctx.progress(f"get {args.name}") as bar:
        return datasets.get(args.name, progress=bar, **filters)
