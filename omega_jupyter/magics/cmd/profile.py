"""``%om profile NAME [--bins N] [--top N] [--exact]``."""

from __future__ import annotations

import sys
from typing import Any

from omega_jupyter.datasets.profile import (
    DEFAULT_BINS,
    DEFAULT_TOP,
    SUMMARY_COLUMNS,
    VEGA_LITE_MIME,
    DatasetProfile,
)
from omega_jupyter.magics.context import CommandContext
from omega_jupyter.magics.display import Table
from omega_jupyter.magics.parser import CommandParser


class ProfileView:
    """A profile as shown in a notebook: the charts as one Vega-Lite spec (JupyterLab draws
    them) with the statistics table as the plain-text fallback. Attributes are the
    profile's (``view.to_frame()``, ``view.columns``); ``view.profile`` is the profile."""

    def __init__(self, profile: DatasetProfile) -> None:
        self.profile = profile

    def table(self) -> Table:
        title = (
            f"profile of {self.profile.name} (version {self.profile.version}, "
            f"{self.profile.rows} rows)"
        )
        return Table(self.profile.summary_rows(), SUMMARY_COLUMNS, title=title, empty="no columns")

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        bundle: dict[str, Any] = {"text/plain": repr(self.table())}
        spec = self.profile.vega_lite_all()
        if spec is not None:
            bundle[VEGA_LITE_MIME] = spec
        return bundle

    def __repr__(self) -> str:
        return repr(self.table())

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.profile, name)


def profile(ctx: CommandContext, argv: list[str]) -> Any:
    """Profile a dataset in the database: per column counts, nulls, distinct, range, top
    values and a histogram (charts in JupyterLab, a table elsewhere)."""
    parser = CommandParser("profile", profile.__doc__ or "")
    parser.add_argument("name")
    parser.add_argument("--bins", type=int, default=DEFAULT_BINS, help="Histogram bins.")
    parser.add_argument("--top", type=int, default=DEFAULT_TOP, help="Most frequent values.")
    parser.add_argument("--exact", action="store_true", help="Exact distinct counts.")
    args = parser.parse(argv)
    found = ctx.om.datasets.profile(args.name, bins=args.bins, top=args.top, exact=args.exact)
    view = ProfileView(found)
    if getattr(ctx.shell, "kernel", None) is not None:
        _table_above_charts(view)
    return view


def _table_above_charts(view: ProfileView) -> None:
    """In a kernel, when the cell shows the view (``%om profile NAME`` as its last line, not
    ``p = %om profile NAME``), the statistics table comes first: a frontend draws only the
    richest type of one output, the charts. The hook is IPython's to restore after the cell
    (see magics/preview.py)."""
    from IPython.display import display

    original = sys.displayhook

    def hook(obj: Any) -> Any:
        if obj is not view:
            return original(obj)
        sys.displayhook = original
        display(view.table())
        return original(obj)

    sys.displayhook = hook
