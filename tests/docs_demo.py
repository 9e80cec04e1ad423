"""The demo data the README's and docs' examples assume: files in a folder (``sales.csv``,
``notebook.ipynb``, ``report.ipynb``, ``myscript/``, ``legacy.csv``, ``big.csv.gz``) and objects in
the store (``sales``, ``train``, ``new_customers``, ``iris_X``/``iris_y``, models ``churn``,
``iris`` and ``iris_lr``, job ``reports/daily``). Used by tests/test_docs_blocks.py; nothing
here needs network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pandas as pd
from nbformat.v4 import new_code_cell, new_notebook


def sales_frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 300
    return pd.DataFrame(
        {
            "city": rng.choice(["New York", "Zurich", "Bern"], n),
            "borough": rng.choice(["Bronx", "Queens", "Kreis 1"], n),
            "amount": rng.uniform(0, 500, n).round(2),
        }
    )


def write_files(folder: Path) -> None:
    """The files the examples name, written into ``folder``."""
    folder = Path(folder)
    df = sales_frame()
    df.to_csv(folder / "sales.csv", index=False)
    df.to_csv(folder / "big.csv.gz", index=False)
    (folder / "legacy.csv").write_bytes("city,amount\nZürich,1\n".encode("latin-1"))
    for name in ("notebook.ipynb", "report.ipynb"):
        nb = new_notebook(
            cells=[
                new_code_cell(
                    "day = None\nx = 1\ncity = 'Zurich'", metadata={"tags": ["parameters"]}
                ),
                new_code_cell("print('report for', day, x, city)"),
            ]
        )
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nbformat.write(nb, folder / name)
    package = folder / "myscript"
    (package / "myscript").mkdir(parents=True, exist_ok=True)
    (package / "setup.py").write_text(
        "from setuptools import setup\n"
        "setup(name='myscript', version='0.1', packages=['myscript'])\n"
    )
    (package / "myscript" / "__init__.py").write_text(
        "def run(om, **kwargs):\n    print('myscript ran with', kwargs)\n    return kwargs\n"
    )


def store_data(om: Any, folder: Path) -> None:
    """The objects the examples name, stored with ``om`` (a client)."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    om.datasets.put(sales_frame(), "sales")
    rng = np.random.default_rng(3)
    train = pd.DataFrame({"x1": rng.normal(size=200), "x2": rng.normal(size=200)})
    train["label"] = (train.x1 + train.x2 > 0).astype(int)
    om.datasets.put(train, "train")
    om.datasets.put(train[["x1", "x2"]].head(20), "new_customers")
    iris = load_iris(as_frame=True)
    om.datasets.put(iris.data, "iris_X")
    om.datasets.put(iris.target.to_frame(), "iris_y")
    om.models.put(LogisticRegression(), "churn")
    om.models.put(LogisticRegression(max_iter=500), "iris")
    om.models.put(LogisticRegression(max_iter=500), "iris_lr")
    om.jobs.put(str(Path(folder) / "report.ipynb"), "reports/daily")
