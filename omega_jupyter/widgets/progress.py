"""A ``progress(done, total)`` callable that draws a bar once work takes a moment."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

SHOW_AFTER = 0.5  # seconds: quick operations draw nothing
TEXT_EVERY = 1.0  # seconds between plain-text updates


class ProgressBar:
    """Rows (or bytes, cells) done out of a total, as an ipywidgets bar or plain text.

    Plain text is redrawn in place on a terminal; elsewhere (a notebook without widgets, a
    log, a pipe) only the final line is written, when the bar closes.

    The bar appears only when the work is still going ``SHOW_AFTER`` seconds after the first
    report (``show_after=0`` shows it at once). Call :meth:`close` when the work ends.
    """

    def __init__(
        self,
        label: str,
        unit: str = "rows",
        widget: bool | None = None,
        show_after: float = SHOW_AFTER,
        stream: TextIO | None = None,
    ) -> None:
        self.label = label
        self.unit = unit
        self.use_widget = _in_kernel() if widget is None else widget
        self.show_after = show_after
        self.stream = stream
        self.done = 0
        self.total: int | None = None
        self.started = time.monotonic()
        self.widget: Any = None
        self._text_shown = 0.0
        self._closed = False

    def __call__(self, done: int, total: int | None = None) -> None:
        self.done, self.total = int(done), total
        if self._closed or time.monotonic() - self.started < self.show_after:
            return
        if self.use_widget:
            self._draw_widget()
        else:
            self._draw_text()

    @property
    def text(self) -> str:
        seconds = time.monotonic() - self.started
        of = f"/{self.total:,}" if self.total else ""
        return f"{self.label}: {self.done:,}{of} {self.unit} · {seconds:.1f} s"

    def _draw_widget(self) -> None:
        import ipywidgets as w

        if self.widget is None:
            bar = w.IntProgress(value=0, min=0, max=1, description=self.label[:20])
            self.widget = w.HBox([bar, w.Label(value="")])
            from IPython.display import display

            display(self.widget)
        bar, label = self.widget.children
        if self.total:
            bar.max = max(int(self.total), 1)
            bar.value = min(self.done, bar.max)
        else:
            bar.bar_style = "info"
        label.value = self.text.split(": ", 1)[1]

    def _draw_text(self) -> None:
        now = time.monotonic()
        if now - self._text_shown < TEXT_EVERY:
            return
        self._text_shown = now
        stream = self.stream or sys.stdout
        if not _is_terminal(stream):
            return  # a log or a notebook: carriage returns would pile up; close() writes one line
        stream.write(f"\r{self.text}")
        stream.flush()

    def close(self, state: str = "done") -> None:
        """Finish the bar: full and green when done, red on ``state='failed'``."""
        if self._closed:
            return
        self._closed = True
        if self.widget is not None:
            bar, label = self.widget.children
            if state == "done" and self.total:
                bar.value = bar.max
            bar.bar_style = "success" if state == "done" else "danger"
            label.value = f"{self.text.split(': ', 1)[1]} · {state}"
        elif self._text_shown:
            stream = self.stream or sys.stdout
            back = "\r" if _is_terminal(stream) else ""
            stream.write(f"{back}{self.text} · {state}\n")
            stream.flush()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, kind: Any, *_: Any) -> None:
        self.close("done" if kind is None else "failed")


def _is_terminal(stream: Any) -> bool:
    """Whether ``stream`` is a terminal, where a line can be redrawn with a carriage return."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython

        return getattr(get_ipython(), "kernel", None) is not None
    except ImportError:
        return False
