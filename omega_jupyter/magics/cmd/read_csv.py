"""``%om read_csv SOURCE NAME [--append] [--chunksize N] [--encoding ENC]``."""

from __future__ import annotations

from typing import Any

from omega_jupyter.magics.context import CommandContext
from omega_jupyter.magics.parser import CommandParser


def read_csv(ctx: CommandContext, argv: list[str]) -> Any:
    """Stream a CSV file or http(s) URL into a dataset, with a progress bar."""
    parser = CommandParser("read_csv", read_csv.__doc__ or "")
    parser.add_argument("source", help="A path or http(s) URL (.gz is decompressed).")
    parser.add_argument("name")
    parser.add_argument("--append", action="store_true")
    parser.add_argument("--chunksize", type=int, default=100_000, help="Rows per chunk.")
    parser.add_argument("--encoding", default="utf-8", help="The file's text encoding.")
    args = parser.parse(argv)
    with ctx.progress(f"read_csv {args.name}") as bar:
        return ctx.om.datasets.read_csv(
            args.source,
            args.name,
            chunksize=args.chunksize,
            append=args.append,
            progress=bar,
            encoding=args.encoding,
        )
