"""Notebooks as jobs: the store, the omega:// papermill handler, runs through a real kernel."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from omega_jupyter.exceptions import (
    InvalidNameError,
    InvalidNotebookError,
    ObjectNotFoundError,
    RunFailedError,
)
from omega_jupyter.jobs.store import RUN_COLUMNS


def make_notebook(*sources: str, parameters: str = "x = 1", kernel: str = "python3"):
    cells = [new_markdown_cell("# report"), new_code_cell(parameters)]
    cells[1].metadata["tags"] = ["parameters"]
    cells += [new_code_cell(s) for s in sources]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    return nb


# -- store ----------------------------------------------------------------------------------
def test_put_get_list_drop_with_folders(om, tmp_path):
    nb = make_notebook("y = x + 1")
    meta = om.jobs.put(nb, "reports/daily")
    assert (meta.version, meta.kind) == (1, "jupyter.notebook")
    path = tmp_path / "nb.ipynb"
    changed = make_notebook("y = x + 2")
    nbformat.write(changed, path)
    assert om.jobs.put(str(path), "reports/daily").version == 2
    om.jobs.put(json.dumps(nb), "other")
    assert om.jobs.list() == ["other", "reports/daily"]
    assert om.jobs.list("reports/*") == ["reports/daily"]
    got = om.jobs.get("reports/daily")
    assert isinstance(got, nbformat.NotebookNode)
    assert [c.source for c in got.cells] == [c.source for c in changed.cells]
    assert om.jobs.metadata("reports/daily@1").version == 1
    assert om.jobs.exists("other") and not om.jobs.exists("nope")
    assert om.jobs.drop("other") is True
    assert om.jobs.list() == ["reports/daily"]
    with pytest.raises(ObjectNotFoundError):
        om.jobs.get("other")
    assert om.jobs.drop("other", force=True) is False


def test_put_of_unchanged_notebook_makes_no_version(om):
    """An editor saving an unchanged notebook (Ctrl+S, autosave) must not add versions; what
    a kernel fills in on opening (language_info, cell ids, nbformat_minor) is no change."""
    nb = make_notebook("y = x + 1")
    assert om.jobs.save(nb, "reports/daily")[0].version == 1
    meta, created = om.jobs.save(nb, "reports/daily")
    assert (meta.version, created) == (1, False)
    opened = json.loads(json.dumps(nb))
    opened["metadata"]["language_info"] = {"name": "python", "version": "3.11.2"}
    opened["nbformat_minor"] = 5
    for i, cell in enumerate(opened["cells"]):
        cell["id"] = f"editor-{i}"
    assert om.jobs.put(opened, "reports/daily").version == 1
    assert om.jobs.versions("reports/daily")["version"].tolist() == [1]
    # A change of a source, an output or the notebook's metadata is a new version.
    edited = json.loads(json.dumps(nb))
    edited["cells"][2]["source"] = "y = x + 2"
    meta, created = om.jobs.save(edited, "reports/daily")
    assert (meta.version, created) == (2, True)
    edited["metadata"]["kernelspec"]["display_name"] = "Python 3 (other)"
    assert om.jobs.put(edited, "reports/daily").version == 3
    # New attributes always make a version.
    assert om.jobs.put(edited, "reports/daily", attributes={"owner": "ops"}).version == 4


@pytest.mark.parametrize(
    "bad",
    [
        '{"cells": "not a list"}',
        "not json at all {",
        {"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": [{"cell_type": "bogus"}]},
        12345,
    ],
)
def test_invalid_notebook_stores_nothing(om, bad):
    with pytest.raises(InvalidNotebookError):
        om.jobs.put(bad, "broken")
    assert om.jobs.list() == []


def test_notebook_without_kernel_gets_python_and_runs(om):
    nb = new_notebook(cells=[new_code_cell("print('ran', 6 * 7)")])
    assert "kernelspec" not in nb.metadata and "language_info" not in nb.metadata
    meta = om.jobs.put(nb, "bare")
    assert meta.kind_meta["kernel"] == "python3"
    stored = om.jobs.get("bare").metadata
    assert (stored.kernelspec.name, stored.kernelspec.language) == ("python3", "python")
    assert stored.language_info.name == "python"
    handle = om.runtime.job("bare").run(parameters={"x": 1})
    assert handle.wait(120).status == "succeeded", om.jobs.runs("bare").error.tolist()
    assert om.jobs.result(handle.id).cells[-1].outputs[0]["text"] == "ran 42\n"


def test_notebook_language_is_checked_at_put(om):
    r_nb = new_notebook(cells=[new_code_cell("print(1)")])
    r_nb.metadata["language_info"] = {"name": "R"}
    with pytest.raises(InvalidNotebookError, match="language is 'R' but it names no kernel"):
        om.jobs.put(r_nb, "r")
    alien = new_notebook(cells=[new_code_cell("print(1)")])
    alien.metadata["kernelspec"] = {"name": "no-such-kernel", "display_name": "x"}
    with pytest.raises(InvalidNotebookError, match=r"kernelspec\.language"):
        om.jobs.put(alien, "alien")
    assert om.jobs.list() == []
    # a kernelspec without a language, for an installed kernel: the language is read from it
    named = new_notebook(cells=[new_code_cell("print(1)")])
    named.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    om.jobs.put(named, "named")
    stored = om.jobs.get("named").metadata
    assert stored.kernelspec.language == "python" and stored.language_info.name == "python"


def test_bad_names_refused(om):
    with pytest.raises(InvalidNameError):
        om.jobs.put(make_notebook(), "bad@name")


def test_papermill_handler_is_registered_entry_point(om):
    import papermill
    from papermill.iorw import papermill_io

    from omega_jupyter.jobs.papermill_io import OmegaHandler, route

    assert papermill_io.get_handler("omega://anything") is OmegaHandler
    om.jobs.put(make_notebook("z = x * 3\nz"), "pm/source")
    with (
        route("omega://pm/source.ipynb", om, name="pm/source"),
        route("omega://pm/out.ipynb", om, name="x"),
    ):
        # without a callback, writing stores the executed notebook as a job version
        papermill.execute_notebook(
            "omega://pm/source.ipynb",
            "omega://pm/out.ipynb",
            parameters={"x": 2},
            progress_bar=False,
        )
    out = om.jobs.get("x")
    assert out.cells[-1].outputs[0]["data"]["text/plain"] == "6"


# -- runs -----------------------------------------------------------------------------------
def test_run_notebook_bound_to_run_store(om):
    nb = make_notebook(
        "import omega_jupyter as om\nom.datasets.put({'x': x, 'bucket': om.bucket}, 'from_nb')",
        "print('done', x)",
    )
    om.jobs.put(nb, "reports/daily")
    handle = om.runtime.job("reports/daily").run(parameters={"x": 41})
    assert handle.wait(120).status == "succeeded", om.jobs.runs("reports/daily").error.tolist()
    # the kernel wrote into this test's database and bucket, not the worker's defaults
    assert om.datasets.get("from_nb") == {"x": 41, "bucket": om.bucket}
    runs = om.jobs.runs("reports/daily")
    assert list(runs.columns) == RUN_COLUMNS
    row = runs.iloc[0]
    assert (row.id, row.state, row.trigger) == (handle.id, "succeeded", "manual")
    assert row.started_at >= row.submitted_at and row.finished_at >= row.started_at
    assert row.progress == {"cells_done": 4, "cells_total": 4}
    results = om.jobs.results("reports/daily")
    assert results.run_id.tolist() == [handle.id]
    executed = om.jobs.result(handle.id)
    assert "x = 41" in executed.cells[2].source  # injected after the parameters cell
    assert executed.cells[-1].outputs[0]["text"] == "done 41\n"
    html = om.jobs.export("reports/daily", format="html")
    assert "<html" in html and "done 41" in html


def test_failing_cell_fails_run_and_keeps_result(om):
    om.jobs.put(make_notebook("raise ValueError('boom ' + str(x))", "print('never')"), "bad")
    handle = om.runtime.job("bad").run()
    with pytest.raises(RunFailedError, match="ValueError: boom 1"):
        handle.result(timeout=120)
    row = om.jobs.runs("bad").iloc[0]
    assert row.state == "failed" and "boom 1" in row.error
    executed = om.jobs.result(handle.id)
    assert om.jobs.results("bad").failed.tolist() == [True]
    assert any(o.get("ename") == "ValueError" for c in executed.cells for o in c.get("outputs", []))


def test_unknown_kernel_and_unknown_job(om):
    om.jobs.put(make_notebook(kernel="no-such-kernel"), "alien")
    handle = om.runtime.job("alien").run()
    with pytest.raises(RunFailedError, match="no-such-kernel"):
        handle.result(timeout=60)
    with pytest.raises(ObjectNotFoundError):
        om.runtime.job("missing").run()
    assert om.jobs.runs("missing").empty


def test_timeouts_fail_run(om):
    om.jobs.put(make_notebook("import time\ntime.sleep(30)"), "slow")
    handle = om.runtime.job("slow").run(timeout=1)
    with pytest.raises(RunFailedError, match=r"(?i)timed? ?out"):
        handle.result(timeout=60)
    # no single cell is too slow, the job as a whole is
    om.jobs.put(make_notebook(*["import time\ntime.sleep(1.2)"] * 3), "slowish")
    handle = om.runtime.job("slowish").run(timeout=2.5)
    with pytest.raises(RunFailedError, match=r"exceeded its timeout of 2\.5 s"):
        handle.result(timeout=60)


# -- runs paging --------------------------------------------------------------------------------
def test_runs_pages_newest_first_with_a_total(om):
    from omega_jupyter.exceptions import ConfigurationError

    store = om.runtime.runs_store
    ids = [store.create("job", "report", "run", trigger="manual") for _ in range(5)]
    ids += [store.create("model", "m", "fit", state="failed", error="no data") for _ in range(2)]
    every = om.runtime.runs(limit=None)
    assert sorted(every.id) == sorted(ids) and store.count() == 7
    pages = [om.runtime.runs(limit=3, offset=o).id.tolist() for o in (0, 3, 6, 9)]
    assert [i for p in pages for i in p] == every.id.tolist()  # the same order page after page
    assert [len(p) for p in pages] == [3, 3, 1, 0]
    assert store.count(target="report") == 5 and store.count(state="failed") == 2
    assert store.count(state=["failed", "queued"], target="m") == 2
    assert (
        om.runtime.runs(target="report", limit=2, offset=4).id.tolist()
        == (every[every.target == "report"].id.tolist()[4:])
    )
    for bad in (-1, "2", 1.5, True):
        with pytest.raises(ConfigurationError, match="offset"):
            om.runtime.runs(offset=bad)
    with pytest.raises(ConfigurationError, match="unknown run state"):
        store.count(state="exploded")


def test_notebooks_run_at_once_after_papermill_ran_in_this_thread(om, tmp_path):
    """papermill run in the main thread (as in a kernel) before a local cluster starts: the
    cluster's tasks must not share that thread's event loop (each run gets its own)."""
    import papermill
    from distributed import LocalCluster

    from omega_jupyter.client import Omega

    path = tmp_path / "nb.ipynb"
    nbformat.write(make_notebook("y = x"), path)
    papermill.execute_notebook(str(path), str(tmp_path / "out.ipynb"), progress_bar=False)
    cluster = LocalCluster(
        n_workers=1, threads_per_worker=3, processes=False, dashboard_address="127.0.0.1:0"
    )
    try:
        client = Omega(om.settings.replace(dask_address=cluster.scheduler_address))
        client.jobs.put(make_notebook("import time\ntime.sleep(1)"), "together")
        handles = [client.runtime.job("together").run(parameters={"x": i}) for i in range(3)]
        records = [h.wait(120).record for h in handles]
        assert [r.state for r in records] == ["succeeded"] * 3, [r.error for r in records]
    finally:
        cluster.close()
