"""Objects the UI tests expect in the store (run before the server starts)."""

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
