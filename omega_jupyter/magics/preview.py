"""``x = %om get name`` gets the object; ``%om get name`` alone shows a preview, not all rows.

A line magic cannot see whether its result is assigned. What it can do is wrap
``sys.displayhook`` for the rest of the cell: if the very object it returned is displayed (the
magic was the cell's last expression), it is rendered as a preview; anything else is shown as
usual. IPython restores the hook when the cell ends.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from omega_jupyter.magics import display


def preview_when_shown(shell: Any, value: Any, title: str) -> None:
    """Render ``value`` as a preview if the current cell displays it."""
    original = sys.displayhook

    def hook(obj: Any) -> Any:
        if obj is not value:
            return original(obj)
        sys.displayhook = original
        with preview_formatters(shell, type(value), title):
            return original(obj)

    sys.displayhook = hook


@contextmanager
def preview_formatters(shell: Any, typ: type, title: str) -> Iterator[None]:
    """While active, objects of ``typ`` render as previews (HTML and plain text)."""
    formatters = shell.display_formatter.formatters
    html, plain = formatters["text/html"], formatters["text/plain"]
    old_html = html.for_type(typ, lambda obj: display.preview_html(obj, title))
    old_plain = plain.for_type(typ, lambda obj, p, cycle: p.text(display.preview_text(obj, title)))
    try:
        yield
    finally:
        for formatter, old in ((html, old_html), (plain, old_plain)):
            if old is None:
                formatter.pop(typ, None)
            else:
                formatter.for_type(typ, old)
