"""Lazy frames as runtime inputs: materialized in the database for the run, dropped after."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from omega_jupyter.client import Omega

WAIT = 120


def test_fit_and_predict_on_lazy_frames(om: Omega, dask_cluster) -> None:  # type: ignore[no-untyped-def]
    omr = Omega(om.settings.replace(dask_address=dask_cluster.scheduler_address))
    X, y = load_iris(return_X_y=True, as_frame=True)
    omr.datasets.put(X.assign(target=y), "iris")
    omr.models.put(LogisticRegression(max_iter=500), "clf")
    iris = omr.datasets.getl("iris")
    wide = iris[iris["sepal length (cm)"] > 5.0]
    features = wide[list(X.columns)]
    target = wide[["target"]]
    omr.runtime.model("clf").fit(features, target).result(timeout=WAIT)

    local = X.assign(target=y)
    local = local[local["sepal length (cm)"] > 5.0]
    expected = LogisticRegression(max_iter=500).fit(local[list(X.columns)], local["target"])
    predicted = omr.runtime.model("clf").predict(features).result(timeout=WAIT)
    np.testing.assert_array_equal(np.asarray(predicted), expected.predict(local[list(X.columns)]))
    assert not [n for n in omr.datasets.list() if n.startswith("_tmp/")]
