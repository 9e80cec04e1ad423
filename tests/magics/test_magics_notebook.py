"""The magics end to end in a real notebook, executed through a kernel with nbclient."""

from __future__ import annotations

import os

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

CELLS = [
    "%load_ext omega_jupyter",
    "import pandas as pd\ndf = pd.DataFrame({'a': range(30), 'b': ['x', 'y'] * 15})",
    "%om put df fromnb",
    "x = %om get fromnb\nassert x.equals(df)\nlen(x)",
    "%om get fromnb",
    "%%om sql\nSELECT b, SUM(a) AS total FROM fromnb GROUP BY b ORDER BY b",
    "%om ls datasets",
    "%om browse datasets",
    "%om save saved_nb",
    "%om get nothere",
]


def _text(cell: dict, mime: str) -> str:
    return "".join("".join(o.get("data", {}).get(mime, "")) for o in cell.outputs if "data" in o)


def test_notebook_uses_magics_through_a_kernel(om, database_url, bucket, tmp_path) -> None:
    nb = new_notebook(cells=[new_code_cell(source) for source in CELLS])
    nb.cells[-1].metadata["tags"] = ["raises-exception"]  # the error is the point of it
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "python3", "language": "python"}
    path = tmp_path / "analysis.ipynb"
    nbformat.write(nb, path)
    env = {
        **os.environ,
        "OMEGA_DATABASE_URL": database_url,
        "OMEGA_BUCKET": bucket,
        # what a Jupyter server tells its kernels: the notebook they run for
        "JPY_SESSION_NAME": str(path),
    }
    client = NotebookClient(
        nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute(env=env)
    cells = nb.cells
    assert _text(cells[3], "text/plain") == "30"
    preview = _text(cells[4], "text/html")
    assert "first 10 rows shown" in preview and "dtypes" in preview
    assert "<td>29</td>" not in preview
    totals = _text(cells[5], "text/plain")
    assert "210" in totals and "225" in totals
    assert "fromnb" in _text(cells[6], "text/html") and "<table" in _text(cells[6], "text/html")
    assert _text(cells[7], "application/vnd.jupyter.widget-view+json")
    assert "saved" in _text(cells[8], "text/plain")
    # a UsageError is one line on stderr, no traceback, without a traceback
    (error,) = [o for o in cells[9].outputs if o.output_type == "stream"]
    assert error.name == "stderr" and error.text.count("\n") == 1
    assert error.text.startswith("UsageError: no object named 'nothere'")
    assert len(om.datasets.get("fromnb")) == 30
    saved = om.jobs.get("saved_nb")
    assert [c.source for c in saved.cells] == CELLS
