"""ipywidgets for notebooks: progress bars, run monitors and the store browser.

Each falls back to plain text where no widget frontend is present. Use a bar with any
service call that takes ``progress=``::

    from omega_jupyter.widgets import ProgressBar
    om.datasets.read_csv(url, "trips", progress=ProgressBar("trips"))
"""

from __future__ import annotations

from typing import Any

__all__ = ["Browser", "ProgressBar", "RunProgress"]


def __getattr__(name: str) -> Any:
    # ipywidgets is imported only when a widget is asked for.
    if name == "ProgressBar":
        from omega_jupyter.widgets.progress import ProgressBar

        return ProgressBar
    if name == "RunProgress":
        from omega_jupyter.widgets.runs import RunProgress

        return RunProgress
    if name == "Browser":
        from omega_jupyter.widgets.browser import Browser

        return Browser
    raise AttributeError(name)
