"""A live view of one run: cells done / total, state badge and elapsed time.

``follow`` blocks until the run ends; ``start_background`` keeps the view updating from a
thread so the kernel stays usable (``--no-wait``).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

from omega_jupyter.exceptions import RunTimeoutError
from omega_jupyter.magics.display import badge
from omega_jupyter.storage.metadata import now
from omega_jupyter.widgets.progress import _in_kernel

INTERVAL = 0.5


class RunProgress:
    """Shows a :class:`RunHandle` as a widget (or lines of text when ``widget=False``)."""

    def __init__(
        self,
        handle: Any,
        widget: bool | None = None,
        interval: float = INTERVAL,
        stream: TextIO | None = None,
    ) -> None:
        self.handle = handle
        self.use_widget = _in_kernel() if widget is None else widget
        self.interval = interval
        self.stream = stream
        self.record: Any = None
        self.widget: Any = None
        self.thread: threading.Thread | None = None
        self._last_text = ""
        if self.use_widget:
            self._build()

    # -- drawing --------------------------------------------------------------------------
    def _build(self) -> None:
        import ipywidgets as w
        from IPython.display import display

        bar = w.IntProgress(value=0, min=0, max=1, description=f"run {self.handle.id[:8]}")
        self.widget = w.HBox([bar, w.HTML(value="")])
        display(self.widget)

    @property
    def text(self) -> str:
        r = self.record
        if r is None:
            return f"run {self.handle.id}"
        cells = _cells(r.progress)
        done = f" · {cells[0]}/{cells[1]} cells" if cells else ""
        return f"run {r.id[:8]} {r.action} {r.target}: {r.state}{done} · {self.elapsed:.1f} s"

    @property
    def elapsed(self) -> float:
        r = self.record
        if r is None:
            return 0.0
        start = r.started or r.submitted
        return max(0.0, ((r.finished or now()) - start).total_seconds())

    def refresh(self) -> Any:
        """Read the run row and redraw; returns the record."""
        self.record = record = self.handle.record
        if self.widget is not None:
            bar, label = self.widget.children
            cells = _cells(record.progress)
            if cells:
                bar.max = max(cells[1], 1)
                bar.value = min(cells[0], bar.max)
            if record.done:
                bar.value = bar.max if record.state == "succeeded" else bar.value
                bar.bar_style = "success" if record.state == "succeeded" else "danger"
            else:
                bar.bar_style = "info"
            error = f" {record.error[:120]}" if record.error else ""
            label.value = f"{badge(record.state)} {self.text.split(': ', 1)[1]}{error}"
        else:
            text = self.text
            key = text.rsplit(" · ", 1)[0]  # only state/progress changes, not the clock
            if key != self._last_text or record.done:
                self._last_text = key
                stream = self.stream or sys.stdout
                stream.write(text + (f": {record.error}" if record.error else "") + "\n")
                stream.flush()
        return record

    # -- waiting --------------------------------------------------------------------------
    def follow(self, timeout: float | None = None) -> Any:
        """Redraw until the run ends; returns the final record. ``timeout`` raises
        :class:`RunTimeoutError` (the run goes on)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            record = self.refresh()
            if record.done:
                return record
            if deadline is not None and time.monotonic() >= deadline:
                raise RunTimeoutError(
                    f"run {self.handle.id} is still {record.state} after {timeout} s "
                    f"(it keeps running: %om runs, or om.runtime.run({self.handle.id!r}))"
                )
            try:
                self.handle.wait(timeout=self.interval)
            except RunTimeoutError:
                continue

    def start_background(self) -> threading.Thread:
        """Keep redrawing from a daemon thread until the run ends."""

        def loop() -> None:
            try:
                while not self.refresh().done:
                    time.sleep(self.interval)
            except Exception:
                pass  # a closed kernel or database: the run itself is unaffected

        self.thread = threading.Thread(target=loop, name=f"omega-run-{self.handle.id}", daemon=True)
        self.thread.start()
        return self.thread


def _cells(progress: Any) -> tuple[int, int] | None:
    if isinstance(progress, dict) and progress.get("cells_total"):
        return int(progress.get("cells_done", 0)), int(progress["cells_total"])
    return None
