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


def _categories(rng: np.random.Generator, n: int, share_b: float) -> np.ndarray:
    return np.where(rng.random(n) < share_b, "B", np.where(rng.random(n) < 0.5, "A", "C"))


def test_dataset_snapshots_are_summarized_in_the_database(om: Omega) -> None:
    """Large-ish stored datasets: on PostgreSQL the sketches are computed in SQL (and agree
    with numpy's); a shift is detected, a control from the same distribution is not."""
    from omega_jupyter.experiments import sketch

    n = 200_000 if om.db.is_postgres else 20_000
    rng = np.random.default_rng(11)

    def data(shift: float, share_b: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "x1": rng.normal(shift, 1.0, n),
                "n": rng.integers(0, 5, n),
                "city": _categories(rng, n, share_b),
            }
        )

    base = data(0.0, 0.4)
    om.datasets.put(base, "base")
    om.datasets.put(data(0.0, 0.4), "control")
    om.datasets.put(data(0.3, 0.55), "shifted")
    in_db = sketch.dataset_sketches(om.datasets, "base")
    if om.db.is_postgres:
        assert in_db is not None
        assert np.allclose(in_db["x1"]["quantiles"], np.quantile(base["x1"], sketch.PROBS))
        assert in_db["n"]["quantiles"] == [float(q) for q in np.quantile(base["n"], sketch.PROBS)]
        counts = base["city"].value_counts()
        assert in_db["city"]["counts"] == {k: int(v) for k, v in counts.items()}
    else:
        assert in_db is None  # SQLite: read and summarized with numpy

    om.models.put(LogisticRegression(), "m")
    om.models.track("m", "m-prod")
    mon = om.runtime.model("m").monitor()
    mon.snapshot("base", label="baseline")
    mon.snapshot("control")
    snaps = mon.snapshots()
    assert snaps["dataset"].tolist() == ["base", "control"] and snaps["rows"].tolist() == [n, n]
    control = mon.compare().set_index("feature")
    assert not control["drift"].any(), control
    assert control.loc["x1", "test"] == "ks" and control.loc["city", "test"] == "chi2"
    assert control.loc["x1", "statistic"] < 0.02
    mon.snapshot("shifted")
    shifted = mon.compare().set_index("feature")
    assert shifted.loc["x1", "drift"] and shifted.loc["x1", "pvalue"] < 1e-6
    assert shifted.loc["city", "drift"] and shifted.loc["city", "pvalue"] < 1e-6
    assert not shifted.loc["n", "drift"]
    assert set(shifted.loc["x1", "tests"]) == {"ks", "psi"}
    # thresholds per test: a KS statistic bound above the shift's effect keeps x1 quiet
    lenient = mon.compare(thresholds={"ks": {"statistic": 0.9}, "psi": {"statistic": 9.0}})
    assert not lenient.set_index("feature").loc["x1", "drift"]
    with pytest.raises(InvalidParameterError, match="not a test"):
        mon.compare(thresholds={"t": {"pvalue": 0.1}})
    report = mon.report()
    assert report["drift"] and report["drifted"] == ["x1", "city"]
    assert report["current"]["dataset"] == "shifted"
    spec = mon.plot(measure="psi")
    assert {v["feature"] for v in spec["data"]["values"]} == {"x1", "n", "city"}
    assert len(spec["data"]["values"]) == 3 * 3  # three logged comparisons of three features


def test_a_scheduled_check_alerts_once_per_slot(om: Omega) -> None:
    """Two scheduler loops, each slot claimed by one of them: one run and one alert per slot."""
    from datetime import timedelta

    from omega_jupyter.jobs.scheduler import Scheduler

    rng = np.random.default_rng(7)
    om.datasets.put(_frame(rng, 3000), "reference")
    om.datasets.put(_frame(rng, 3000, shift=1.0, city_b=0.8), "recent")
    om.models.put(LogisticRegression(), "m")
    om.models.track("m", "m-prod")
    mon = om.runtime.model("m").monitor()
    mon.snapshot("reference", label="baseline")
    with pytest.raises(ObjectNotFoundError):
        mon.schedule("every minute", against="nothing")
    info = mon.schedule("every minute", against="recent", alert_stream="drift-alerts")
    assert info["kind"] == "monitor" and info["parameters"]["against"] == "recent"
    assert mon.schedule_info()["cron"] == "* * * * *"
    # (the clock is moved to each slot: no heartbeat is stale within the test)
    loops = [Scheduler(om, buckets=[om.bucket], stale_after=3600) for _ in range(2)]
    slot = info["next_due"]
    for k in range(2):
        now = slot + timedelta(minutes=k, milliseconds=10)
        claims = [c for loop in loops for c in loop.tick(now=now)]
        assert len(claims) == 1 and claims[0].kind == "monitor"
        run = om.runtime.run(claims[0].run_id).wait(WAIT)
        assert run.status == "succeeded", om.runtime.runs().iloc[0]["error"]
        result = om.runtime.run(claims[0].run_id).result()
        assert result["drift"] and set(result["drifted"]) == {"x1", "city"}
    alerts = om.streams.get("drift-alerts").read()
    assert len(alerts) == 2
    assert all(a.data["model"] == "m" and a.data["against"] == "recent" for a in alerts)
    assert len(mon.history().query("feature == 'x1'")) == 2
    assert mon.unschedule() is True
