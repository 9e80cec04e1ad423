"""The drift monitor on both databases: a shifted feature is detected, an unshifted control is
not; the baseline comes from a tracked fit on a real Dask worker, later snapshots from logged
predictions or a frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from omega_jupyter.client import Omega
from omega_jupyter.exceptions import InvalidNameError, InvalidParameterError, ObjectNotFoundError
from omega_jupyter.experiments.experiment import VegaLite
from omega_jupyter.experiments.tracking import record_prediction

WAIT = 120


def _frame(rng: np.random.Generator, n: int, shift: float = 0.0, city_b: float = 0.5):
    return pd.DataFrame(
        {
            "x1": rng.normal(shift, 1.0, n),
            "x2": rng.normal(0.0, 1.0, n),
            "city": np.where(rng.random(n) < city_b, "B", "A"),
        }
    )


@pytest.fixture
def tracked(om: Omega, dask_cluster) -> Omega:  # type: ignore[no-untyped-def]
    client = Omega(om.settings.replace(dask_address=dask_cluster.scheduler_address))
    rng = np.random.default_rng(1)
    X = _frame(rng, 2000)
    client.datasets.put(X[["x1", "x2"]], "train_X")
    client.datasets.put((X["x1"] > 0).astype(int).to_frame("y"), "train_y")
    client.models.put(LogisticRegression(), "m")
    client.models.track("m", "m-prod")
    client.runtime.model("m").fit("train_X", "train_y").result(timeout=WAIT)
    return client


def test_a_shift_is_detected_and_a_control_is_not(tracked: Omega) -> None:
    mon = tracked.runtime.model("m").monitor()
    snaps = mon.snapshots()
    assert snaps["label"].tolist() == ["baseline"]  # taken by the tracked fit
    assert sorted(snaps["features"].iloc[0]) == ["x1", "x2", "y"]
    rng = np.random.default_rng(2)
    # control: new data from the same distribution
    mon.snapshot(_frame(rng, 1000)[["x1", "x2"]])
    control = mon.compare().set_index("feature")
    assert set(control.index) == {"x1", "x2"} and not control["drift"].any()
    # shift x1 by one standard deviation: x1 drifts, x2 does not
    mon.snapshot(_frame(rng, 1000, shift=1.0)[["x1", "x2"]])
    shifted = mon.compare().set_index("feature")
    assert shifted.loc["x1", "drift"] and shifted.loc["x1", "test"] == "ks"
    assert shifted.loc["x1", "pvalue"] < 1e-6 and not shifted.loc["x2", "drift"]
    history = mon.history()
    assert len(history) == 4 and history["drift"].tolist().count(True) == 1
    assert isinstance(mon.plot(), VegaLite)


def test_snapshots_of_logged_predictions_and_categories(tracked: Omega) -> None:
    mon = tracked.runtime.model("m").monitor()
    rng = np.random.default_rng(3)
    for _ in range(3):
        tracked.runtime.model("m").predict(_frame(rng, 80, shift=2.0)[["x1", "x2"]]).result(
            timeout=WAIT
        )
    mon.snapshot()  # the inputs the tracked predictions logged
    assert mon.snapshots()["rows"].tolist()[-1] == 240
    result = mon.compare().set_index("feature")
    assert result.loc["x1", "drift"] and not result.loc["x2", "drift"]
    with pytest.raises(ObjectNotFoundError, match="no predictions"):
        mon.snapshot()  # nothing logged since that snapshot
    # categories: chi-square and PSI
    mon.snapshot(_frame(rng, 1000, city_b=0.5)[["city"]], label="baseline")
    mon.snapshot(_frame(rng, 1000, city_b=0.5)[["city"]])
    same = mon.compare().set_index("feature")
    assert same.loc["city", "test"] == "chi2" and not same.loc["city", "drift"]
    mon.snapshot(_frame(rng, 1000, city_b=0.9)[["city"]])
    moved = mon.compare().set_index("feature")
    assert moved.loc["city", "drift"] and moved.loc["city", "psi"] > 0.2


def test_a_monitor_needs_a_tracked_model(om: Omega) -> None:
    om.models.put(LogisticRegression(), "plain")
    with pytest.raises(InvalidParameterError, match="is not tracked"):
        om.runtime.model("plain").monitor()
    om.models.track("plain", "p")
    mon = om.runtime.model("plain").monitor()
    with pytest.raises(ObjectNotFoundError, match="no baseline snapshot"):
        mon.compare()
    with pytest.raises(InvalidParameterError, match="label must be"):
        mon.snapshot(pd.DataFrame({"a": [1.0]}), label="other")
    with pytest.raises(InvalidParameterError, match="at least one row"):
        mon.snapshot(pd.DataFrame({"a": []}))


def test_check_alerts_on_a_stream_and_in_the_log(om: Omega) -> None:
    rng = np.random.default_rng(5)
    model = LogisticRegression().fit(_frame(rng, 200)[["x1", "x2"]], rng.integers(0, 2, 200))
    meta = om.models.put(model, "m")
    om.models.track("m", "m-prod")
    mon = om.runtime.model("m").monitor()
    mon.snapshot(_frame(rng, 2000)[["x1", "x2"]], label="baseline")

    def predictions(shift: float) -> None:  # what REST or the runtime logs for each call
        for _ in range(5):
            X = _frame(rng, 100, shift=shift)[["x1", "x2"]]
            record_prediction(om.db, om.bucket, "m-prod", "m", meta.version, "predict", X,
                              model.predict(X), 0.001)  # fmt: skip

    predictions(0.0)
    quiet = mon.check(stream="alerts")
    assert not quiet["drift"].any() and om.streams.list() == []
    predictions(1.5)
    loud = mon.check(stream="alerts")
    assert loud.set_index("feature").loc["x1", "drift"]
    [message] = om.streams.get("alerts").read()
    assert message.data["model"] == "m" and message.data["drifted"] == ["x1"]
    warnings = om.logger.dataframe(level="WARNING")
    assert warnings["message"].str.contains("drift of model 'm' in feature\\(s\\) x1").any()
    with pytest.raises(InvalidNameError):
        mon.check(stream="bad[")
