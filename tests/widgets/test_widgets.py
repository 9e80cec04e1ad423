"""Widget state: progress bars, run monitors and the store browser, on both databases."""

from __future__ import annotations

import io

import pandas as pd
from nbformat.v4 import new_code_cell, new_notebook
from sklearn.linear_model import LogisticRegression

from omega_jupyter.runtime.handle import RunHandle
from omega_jupyter.runtime.runs import RunStore
from omega_jupyter.widgets.browser import Browser
from omega_jupyter.widgets.progress import ProgressBar
from omega_jupyter.widgets.runs import RunProgress


def test_progress_bar_widget_follows_rows(om) -> None:
    bar = ProgressBar("put sales", widget=True, show_after=0)
    om.datasets.put(pd.DataFrame({"a": range(1000)}), "sales", progress=bar)
    progress, label = bar.widget.children
    assert (progress.value, progress.max) == (1000, 1000)
    bar.close()
    assert progress.bar_style == "success" and "1,000/1,000 rows" in label.value
    with ProgressBar("get", widget=True, show_after=0) as failing:
        failing(3, 10)
        failing.close("failed")
    assert failing.widget.children[0].bar_style == "danger"


def test_progress_bar_quiet_for_quick_work_and_text_fallback() -> None:
    quick = ProgressBar("quick", widget=True)  # shows only after half a second
    quick(5, 10)
    assert quick.widget is None
    out = _Terminal()
    text = ProgressBar("csv", widget=False, show_after=0, stream=out)
    text(50, 100)
    text.close()
    assert out.getvalue().startswith("\rcsv: 50/100 rows") and out.getvalue().endswith("done\n")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_text_outside_a_terminal_is_one_final_line(om) -> None:
    out = io.StringIO()  # a log, a pipe or a notebook's captured output: not a terminal
    bar = ProgressBar("put sales", widget=False, show_after=0, stream=out)
    om.datasets.put(pd.DataFrame({"a": range(3)}), "sales", progress=bar)
    assert out.getvalue() == ""  # nothing is redrawn where it cannot be
    bar.close()
    lines = out.getvalue().splitlines(keepends=True)
    assert len(lines) == 1 and "\r" not in out.getvalue()
    assert lines[0].startswith("put sales: 3/3 rows") and lines[0].endswith(" · done\n")


def test_run_progress_shows_cells_state_and_elapsed(om) -> None:
    runs = RunStore(om.db, om.bucket)
    run_id = runs.create("job", "report", "run", parameters={})
    handle = RunHandle(om.runtime, run_id)
    monitor = RunProgress(handle, widget=True)
    bar, label = monitor.widget.children
    runs.start(run_id, "worker-1")
    runs.set_progress(run_id, {"cells_done": 2, "cells_total": 5})
    monitor.refresh()
    assert (bar.value, bar.max, bar.bar_style) == (2, 5, "info")
    assert "om-running" in label.value and "2/5 cells" in label.value
    runs.set_progress(run_id, {"cells_done": 5, "cells_total": 5})
    runs.finish(run_id, "succeeded")
    record = monitor.follow(timeout=10)
    assert record.state == "succeeded" and bar.value == 5 and bar.bar_style == "success"
    assert "om-succeeded" in label.value and monitor.elapsed >= 0


def test_run_progress_background_thread_ends_with_the_run(om) -> None:
    runs = RunStore(om.db, om.bucket)
    run_id = runs.create("job", "report", "run", parameters={})
    monitor = RunProgress(RunHandle(om.runtime, run_id), widget=True, interval=0.05)
    thread = monitor.start_background()
    runs.finish(run_id, "failed", error="boom")
    thread.join(timeout=30)
    assert not thread.is_alive()
    bar, label = monitor.widget.children
    assert bar.bar_style == "danger" and "boom" in label.value and "om-failed" in label.value


def test_browser_search_preview_insert_and_drop_with_confirmation(om) -> None:
    om.datasets.put(pd.DataFrame({"a": range(20)}), "sales")
    om.datasets.put(pd.DataFrame({"b": [1]}), "costs")
    om.models.put(LogisticRegression(), "clf")
    om.jobs.put(new_notebook(cells=[new_code_cell("1")]), "reports/daily")
    browser = Browser(om)
    assert [browser.widget.get_title(i) for i in range(4)] == [
        "datasets",
        "models",
        "jobs",
        "scripts",
    ]
    pane = browser.panes["datasets"]
    assert pane.items.options == ("costs", "sales")
    pane.search.value = "SAL"
    assert pane.items.options == ("sales",)
    pane.items.value = "sales"
    assert "20 × 1" in pane.preview.value and "pandas.dataframe" in pane.preview.value
    pane.insert_button.click()
    assert pane.code == "sales = om.datasets.get('sales')"
    assert browser.panes["datasets"].run_button.disabled
    assert not browser.panes["jobs"].run_button.disabled
    pane.drop_button.click()
    assert pane.confirm_box.layout.display == "flex" and "sales" in pane.confirm_label.value
    pane.cancel_button.click()
    assert pane.confirm_box.layout.display == "none" and om.datasets.exists("sales")
    pane.drop_button.click()
    pane.confirm_button.click()
    assert not om.datasets.exists("sales") and om.datasets.exists("costs")
    assert pane.items.options == () and "dropped sales" in pane.status.value
    models = browser.panes["models"]
    models.items.value = "clf"
    assert "model.skops" in models.preview.value


def test_browser_text_fallback(om) -> None:
    om.datasets.put({"x": 1}, "cfg")
    browser = Browser(om, widget=False)
    assert browser.widget is None and "cfg" in repr(browser)
    assert "<table" in browser._repr_mimebundle_()["text/html"]
