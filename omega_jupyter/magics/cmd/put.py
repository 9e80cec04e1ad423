"""``%om put VAR NAME [--append] [--store S] [--tag T]``."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError

from omega_jupyter.magics.context import CommandContext
from omega_jupyter.magics.parser import CommandParser
from omega_jupyter.magics.stores import STORES, store_for_object


def put(ctx: CommandContext, argv: list[str]) -> Any:
    """Store a variable: a model goes to models, a notebook to jobs, data to datasets."""
    parser = CommandParser("put", put.__doc__ or "")
    parser.add_argument("var", help="A variable of this session.")
    parser.add_argument("name", help="Name in the store, e.g. sales or team/sales.")
    parser.add_argument("--append", action="store_true", help="Datasets: add rows.")
    parser.add_argument("--store", choices=STORES, help="Override where the object goes.")
    parser.add_argument("--tag", help="Models: tag this version (e.g. prod).")
    args = parser.parse(argv)
    obj = ctx.variable(args.var)
    store = args.store or store_for_object(obj)
    if args.append and store != "datasets":
        raise UsageError("--append only applies to datasets")
    if args.tag and store != "models":
        raise UsageError("--tag only applies to models")
    if store == "datasets":
        with ctx.progress(f"put {args.name}") as bar:
            return ctx.om.datasets.put(obj, args.name, append=args.append, progress=bar)
    if store == "models":
        return ctx.om.models.put(obj, args.name, tag=args.tag)
    return getattr(ctx.om, store).put(obj, args.name)
