"""The omega_jupyter demo: store data, query it in the database, fit a model on Dask, run a
notebook on Dask, then open JupyterLab with the omega panel.

Runs against the default store (a SQLite file in ``OMEGA_HOME``, ``~/.omega_jupyter``) and a local
Dask cluster, or the database in ``OMEGA_DATABASE_URL`` and the cluster in ``OMEGA_DASK_ADDRESS``.
Each step prints what it did. ``--no-lab`` stops before starting JupyterLab.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import omega_jupyter

BUCKET = "demo"
ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
VENV_BIN = Path(sys.executable).parent


def make_sales(rows: int = 100_000) -> pd.DataFrame:
    rng = np.random.default_rng(42)
    cities = ["New York", "London", "Zurich", "Tokyo", "Lagos"]
    return pd.DataFrame(
        {
            "order_id": np.arange(rows, dtype="int64"),
            "city": pd.Categorical(rng.choice(cities, rows), categories=cities),
            "amount": rng.gamma(2.0, 50.0, rows).round(2),
            "quantity": rng.integers(1, 10, rows).astype("int16"),
            "ordered_at": pd.Timestamp("2026-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 300 * 86400, rows), unit="s"),
        }
    )


def notebook_folder() -> Path:
    """The folder JupyterLab opens in: copies of the example notebooks, beside (not inside) the
    store's own files, so the live database never sits in the user's file browser."""
    home = Path(os.environ.get("OMEGA_HOME", Path.home() / ".omega_jupyter")).expanduser()
    folder = home / "notebooks"
    folder.mkdir(parents=True, exist_ok=True)
    for example in sorted(EXAMPLES.glob("*.ipynb")):
        if not (folder / example.name).exists():  # never overwrite the user's edits
            shutil.copy2(example, folder / example.name)
    return folder


def step(title: str) -> None:
    print(f"\n== {title}")


def make_report_notebook() -> nbformat.NotebookNode:
    """A small parameterized notebook that reads the store it runs against."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("city = 'London'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Sales report"),
        params,
        nbformat.v4.new_code_cell(
            "import omega_jupyter as om\n"
            "sales = om.datasets.getl('sales')\n"
            "total = sales[sales['city'] == city]['amount'].sum()\n"
            "print(f'{city}: {total:,.2f}')"
        ),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-lab", action="store_true", help="do not start JupyterLab at the end")
    args = parser.parse_args()
    # Notebook kernels and Dask workers started below use this bucket too.
    os.environ["OMEGA_BUCKET"] = BUCKET
    om = omega_jupyter.get_default()[BUCKET]
    print(f"store: {om.db.safe_url} (bucket {BUCKET!r})")

    step("put a DataFrame")
    sales = make_sales()
    meta = om.datasets.put(sales, "sales", attributes={"source": "demo"})
    print(f"stored 'sales' version {meta.version}: {meta.kind_meta['rows']:,} rows")

    step("read it back: lossless")
    back = om.datasets.get("sales")
    pd.testing.assert_frame_equal(back, sales)
    print("get('sales') equals the original exactly (values, dtypes, index)")
    print(back.dtypes.to_string())

    step("read it back filtered and column-selected in the database")
    big_zurich = om.datasets.get("sales[city,amount]", city="Zurich", amount__gt=300)
    print(big_zurich.head().to_string())
    print(f"{len(big_zurich):,} rows matched city == 'Zurich' and amount > 300")

    step("list the store")
    for m in om.datasets.list(raw=True):
        print(f"  {m.name:<10} {m.kind:<18} v{m.version}  {m.size:>10,} bytes")

    step("fit a model on the Dask cluster")
    iris = load_iris(as_frame=True)
    om.datasets.put(iris.data, "iris_X")
    om.datasets.put(iris.target.to_frame(), "iris_y")
    om.models.put(LogisticRegression(max_iter=500), "iris_model")
    fit = om.runtime.model("iris_model").fit("iris_X", "iris_y")
    fit.result(timeout=300)
    print(f"run {fit.id}: {fit.status}")
    predict = om.runtime.model("iris_model").predict("iris_X")
    labels = np.asarray(predict.result(timeout=300))
    print(f"predicted {len(labels)} rows; accuracy {(labels == iris.target.to_numpy()).mean():.2%}")
    print(om.models.versions("iris_model").to_string())

    step("run a notebook on the Dask cluster (papermill)")
    om.jobs.put(make_report_notebook(), "reports/sales")
    run = om.runtime.job("reports/sales").run(parameters={"city": "Zurich"})
    run.wait(timeout=600)
    print(f"run {run.id}: {run.status}")
    executed = om.jobs.result(run.id)
    print("the notebook printed:", executed.cells[-1].outputs[0].get("text", "").strip())
    print(om.jobs.runs("reports/sales")[["id", "state", "trigger", "finished_at"]].to_string())

    step("use it from a shell")
    print(f"source {VENV_BIN / 'activate'}   # puts `om` on PATH, then e.g.: om datasets ls")
    if args.no_lab:
        return
    workdir = notebook_folder()
    step(f"open JupyterLab in {workdir} (the omega panel is the Ω tab on the left; Ctrl-C to stop)")
    lab = [sys.executable, "-m", "jupyter", "lab", f"--notebook-dir={workdir}"]
    if os.geteuid() == 0:
        lab.append("--allow-root")
    subprocess.run(lab, check=False)


if __name__ == "__main__":
    main()
