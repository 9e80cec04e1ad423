"""The notebooks in examples/ run top to bottom through a real kernel, on a fresh SQLite store.

Each runs with nbclient in a temporary ``OMEGA_HOME`` (the embedded defaults: a SQLite file and
a local Dask cluster started by the notebook), as a newcomer would run them.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NOTEBOOKS = ["quickstart.ipynb", "jobs_and_scheduling.ipynb", "rest.ipynb", "streams.ipynb"]


def test_every_example_is_tested() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.ipynb")) == sorted(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_example_runs_top_to_bottom(name: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OMEGA_HOME", str(tmp_path / "home"))
    # the kernel and the `om` commands it starts come from this environment
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    nb = nbformat.read(EXAMPLES / name, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "kept clean"
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on failure
    errors = [
        out
        for cell in nb.cells
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors, errors


def test_binder_opens_the_quickstart() -> None:
    """mybinder opens the notebook named by ``?urlpath=lab/tree/…``; binder/ says which."""
    binder = (EXAMPLES.parent / "binder" / "environment.yml").read_text()
    paths = set(re.findall(r"urlpath=lab/tree/(\S+\.ipynb)", binder))
    assert paths == {"examples/quickstart.ipynb"}
    assert all((EXAMPLES.parent / p).is_file() for p in paths)
