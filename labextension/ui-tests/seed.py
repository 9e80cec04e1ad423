"""Objects the UI tests expect in the store (run before the server starts)."""

import tempfile
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

import omega_jupyter

om = omega_jupyter.setup()
sales = pd.DataFrame(
    {
        "city": ["Zurich", "Geneva", "Basel"],
        "amount": [120, 340, 560],
        "when": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
    }
)
om.datasets.put(sales, "sales")
om.datasets.put(pd.DataFrame({"x": range(5)}), "odd name's (1)")
# The Profile view: statistics and charts over every row, awkward column names included.
rng = np.random.default_rng(3)
rows = 5000
om.datasets.put(
    pd.DataFrame(
        {
            'amount "usd"': rng.normal(100, 15, rows).round(2),
            "city name": rng.choice(
                ["Zurich", "Geneva", "Basel", "Bern"], rows, p=[0.4, 0.3, 0.2, 0.1]
            ),
            "paid": rng.random(rows) < 0.7,
            "empty": np.full(rows, np.nan),
            "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, rows), "D"),
        }
    ),
    "measurements",
)

nb = nbformat.v4.new_notebook()
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
params = nbformat.v4.new_code_cell("n = 3  # rows to show\nlabel = 'ui'")
params.metadata["tags"] = ["parameters"]
nb.cells = [
    params,
    nbformat.v4.new_code_cell("import omega_jupyter as om\ndf = om.datasets.get('sales')"),
    nbformat.v4.new_code_cell("print(label, df.head(n).amount.sum())"),
]
om.jobs.put(nb, "reports/daily")
# A scheduled notebook for pause/resume (Mondays at 07:00: it does not run during the tests).
om.jobs.put(nb, "reports/weekly")
om.jobs.schedule("reports/weekly", "mondays at 07:00", timezone="UTC")

# Models: one to delete (a name with special characters), one the server's Authorizer
# protects (jupyter_server_test_config.py refuses writes under protected/).
X = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
model = LogisticRegression().fit(X, [0, 0, 1, 1])
om.models.put(model, "ui/churn model's (2)")
om.models.put(model, "protected/model")
print("seeded:", om.datasets.list(), om.jobs.list(), om.models.list())

# -- the panel's readability tests (tests/panel.spec.ts) ------------------------------------
# A model with four versions, v2 tagged prod (the details dialog must say so).
# The latest was fitted on a stored dataset (its lineage links to it) in a tracked experiment.
om.datasets.put(pd.DataFrame({"x": np.linspace(0.0, 3.0, 250)}), "iris_input")
for i in range(4):
    lineage = (
        {"action": "fit", "datasets": [{"name": "iris_input", "version": 1, "role": "X"}]}
        if i == 3
        else None
    )
    om.models.put(
        LogisticRegression(C=1.0 + i).fit(X, [0, 0, 1, 1]),
        "iris_model",
        lineage=lineage,
        signature={"columns": ["x"], "dtypes": ["float64"]} if lineage else None,
    )
om.models.tag("iris_model", 2, "prod")
with om.runtime.experiment("iris-model-exp", model="iris_model", model_version=4) as exp:
    exp.log_metric("accuracy", 0.75)
    exp.log_metric("f1", 0.8125)
# Notebooks of their own: one saved unchanged with Ctrl+S, one scheduled in a time zone and run.
om.jobs.put(nb, "reports/unchanged")
om.jobs.put(nb, "reports/zurich")
# A dataset whose values need formatting by dtype (tz-aware datetimes, floats with decimals).
readings = pd.DataFrame(
    {
        "at": pd.to_datetime(["2026-05-22 04:31:34", "2026-05-22 05:00:00"]).tz_localize("UTC"),
        "local": pd.to_datetime(["2026-05-22 04:31:34", "2026-05-22 05:00:00"])
        .tz_localize("UTC")
        .tz_convert("Europe/Zurich"),
        "value": [70.0, 1.25],
        "day": pd.to_datetime(["2024-01-01", "2024-01-02"]),
    }
)
om.datasets.put(readings, "readings")
# A script package (run from the panel by the tests: its result and log show in a tab).
with tempfile.TemporaryDirectory() as tmp:
    package = Path(tmp) / "etl"
    (package / "etl").mkdir(parents=True)
    (package / "setup.py").write_text(
        "from setuptools import setup\nsetup(name='etl', version='0.1', packages=['etl'])\n"
    )
    (package / "etl" / "__init__.py").write_text(
        "def run(om, **kwargs):\n"
        "    print('etl read 3 rows')\n"
        "    return {'rows': 3, 'kwargs': kwargs}\n"
    )
    om.scripts.put(package / "setup.py", "etl")
print("seeded for the panel tests:", om.models.list(), om.scripts.list())

# -- the Experiments section and its charts (tests/experiments.spec.ts) -----------------------
# Two runs of one experiment with params and metrics over 8 steps (a line per run), a metric
# logged once per run (a bar per run), and a second experiment for the search.
for C, base in ((0.1, 0.70), (1.0, 0.80)):
    with om.runtime.experiment("iris-exp") as exp:
        exp.log_params({"C": C, "penalty": "l2"})
        for step in range(8):
            exp.log_metric("accuracy", round(base + 0.025 * step - 0.002 * step * step, 4), step)
            exp.log_metric("loss", round(1.2 - base + 0.6 / (step + 1), 4), step)
        exp.log_metric("f1", base + 0.1)
with om.runtime.experiment("team/churn-exp") as exp:
    exp.log_param("depth", 3)
    exp.log_metric("auc", 0.81)
print("seeded experiments:", om.runtime.experiments()["name"].tolist())
# -- run groups and the Runs view (tests/runs.spec.ts) --------------------------------------
# A notebook run for each store: the store 'bad' fails with a message the group row shows.
stores = nbformat.v4.new_notebook()
stores.metadata["kernelspec"] = nb.metadata["kernelspec"]
store_params = nbformat.v4.new_code_cell("store = 'a'  # which store to report on")
store_params.metadata["tags"] = ["parameters"]
stores.cells = [
    store_params,
    nbformat.v4.new_code_cell(
        "if store == 'bad':\n    raise ValueError(f'no data for store {store}')\nprint('store', store)"
    ),
]
om.jobs.put(stores, "reports/stores")
om.jobs.put(stores, "reports/history")
print("seeded for the runs tests:", om.jobs.list())
# -- the model view, version history and preview paging (tests/views.spec.ts) -------------
for n in (1, 2, 3):
    version = nbformat.v4.new_notebook()
    version.metadata["kernelspec"] = nb.metadata["kernelspec"]
    version.cells = [nbformat.v4.new_code_cell(f"n = {n}"), nbformat.v4.new_code_cell("print(n)")]
    if n == 3:
        version.cells.append(nbformat.v4.new_markdown_cell("third version"))
    om.jobs.put(version, "reports/revised")
om.datasets.put(
    pd.DataFrame(
        {
            "n": range(250),
            # object dtype: a missing label is None (as pandas shows it), not NaN
            "label": pd.Series(
                [None if i % 7 == 0 else f"row {i}" for i in range(250)], dtype=object
            ),
        }
    ),
    "paged",
)
print("seeded for the views tests:", om.jobs.list(), om.datasets.list())

# -- the Apps section (tests/apps.spec.ts) ----------------------------------------------------
# A script package whose `app` attribute is a plain WSGI app: the test serves it from the
# Scripts section, opens it in a new browser tab and stops it.
with tempfile.TemporaryDirectory() as tmp:
    package = Path(tmp) / "hello"
    (package / "helloapp").mkdir(parents=True)
    (package / "setup.py").write_text(
        "from setuptools import setup\n"
        "setup(name='helloapp', version='0.1', packages=['helloapp'])\n"
    )
    (package / "helloapp" / "__init__.py").write_text(
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/html; charset=utf-8')])\n"
        "    prefix = environ.get('SCRIPT_NAME', '')\n"
        "    return [f'<h1>hello from the omega app</h1><p>mounted at {prefix}</p>'.encode()]\n"
    )
    om.scripts.put(package / "setup.py", "hello-app")
print("seeded for the apps tests:", om.scripts.list())

# -- a model's drift tab (tests/drift.spec.ts) ------------------------------------------------
# A tracked model with a baseline snapshot of its training data, a comparison with data from the
# same distribution (no drift) and then one where `income` moved by one standard deviation.
rng = np.random.default_rng(7)


def applicants(n: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({"income": rng.normal(50 + 10 * shift, 10, n), "age": rng.normal(40, 8, n)})


train = applicants(2000)
om.models.put(LogisticRegression().fit(train, (train["income"] > 50).astype(int)), "credit/scorer")
om.models.track("credit/scorer", "credit-prod")
monitor = om.runtime.model("credit/scorer").monitor()
monitor.snapshot(train, label="baseline")
monitor.snapshot(applicants(1000))
monitor.compare()
monitor.snapshot(applicants(1000, shift=1.0))
monitor.compare()
print("seeded drift:", monitor.history()[["feature", "drift"]].to_dict("records"))
