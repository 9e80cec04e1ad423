"""The profile's thin surfaces: ``%om profile``, ``om datasets profile`` and
``GET /api/v1/datasets/{name}/profile`` show what ``om.datasets.profile`` computes."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
from IPython.utils.capture import capture_output
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook
from typer.testing import CliRunner

from omega_jupyter.cli import app
from omega_jupyter.datasets.profile import VEGA_LITE_MIME
from tests.magics_shell import make_shell, run, usage_error


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "amount": np.arange(40, dtype="float64"),
            'odd "name"': ["x", "y", "x", None] * 10,
            "empty": [np.nan] * 40,
        }
    )


def test_magic_returns_charts_with_a_table_fallback(om, database_url, bucket) -> None:
    om.datasets.put(frame(), "sales")
    shell = make_shell(database_url, bucket)
    view = run(shell, "%om profile sales --bins 4")
    assert view.rows == 40 and view.to_frame().loc["nulls", "empty"] == 40
    bundle = view._repr_mimebundle_()
    spec = bundle[VEGA_LITE_MIME]
    assert [c["title"]["text"] for c in spec["concat"]] == ["amount", 'odd "name"']
    assert [b["count"] for b in spec["concat"][0]["data"]["values"]] == [10, 10, 10, 10]
    text = bundle["text/plain"]
    assert "profile of sales (version 1, 40 rows)" in text and 'odd "name"' in text
    with capture_output() as shown:  # terminal IPython: no kernel, only the result is shown
        run(shell, "%om profile sales")
    assert shown.outputs == []
    assert "does not exist" in usage_error(shell, "%om profile nope")
    assert "bins must be a whole number" in usage_error(shell, "%om profile sales --bins 0")
    assert "usage" in usage_error(shell, "%om profile").lower()
    with capture_output() as shown:
        assert run(shell, "%om profile -h") is None
    assert "--bins" in shown.stdout


def test_cli_table_and_json(om, database_url, bucket) -> None:
    om.datasets.put(frame(), "sales")
    runner = CliRunner()

    def cli(*args: str):
        return runner.invoke(app, ["--url", database_url, "--bucket", bucket, *args])

    result = cli("datasets", "profile", "sales")
    assert result.exit_code == 0, result.output
    assert "profile of dataset sales (version 1, 40 rows)" in result.output
    assert "x (20), y (10)" in result.output
    result = cli("--json", "datasets", "profile", "sales", "--bins", "2", "--top", "1")
    data = json.loads(result.output)
    assert [b["count"] for b in data["columns"][0]["histogram"]] == [20, 20]
    assert data["columns"][1]["top"] == [{"value": "x", "count": 20}]
    missing = cli("datasets", "profile", "nope")
    assert missing.exit_code != 0 and "does not exist" in missing.output
    assert cli("datasets", "profile", "sales", "--bins", "0").exit_code == 2


def test_in_a_kernel_the_table_comes_above_the_charts(om, database_url, bucket, tmp_path) -> None:
    om.datasets.put(frame(), "sales")
    cells = ["%load_ext omega_jupyter", "%om profile sales", "p = %om profile sales\np.rows"]
    nb = new_notebook(cells=[new_code_cell(source) for source in cells])
    env = {**os.environ, "OMEGA_DATABASE_URL": database_url, "OMEGA_BUCKET": bucket}
    NotebookClient(nb, kernel_name="python3", timeout=120).execute(env=env)
    shown = nb.cells[1].outputs
    assert [o.output_type for o in shown] == ["display_data", "execute_result"]
    assert "profile of sales" in shown[0].data["text/html"]
    assert "<table" in shown[0].data["text/html"]
    spec = shown[1].data[VEGA_LITE_MIME]
    assert [c["title"]["text"] for c in spec["concat"]] == ["amount", 'odd "name"']
    assigned = nb.cells[2].outputs
    assert [o.output_type for o in assigned] == ["execute_result"]
    assert assigned[0].data["text/plain"] == "40"
