"""Experiments over REST inside Jupyter: list, runs, events; a tracked model's REST predicts
log themselves (queued, then written by the flusher)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

import omega_jupyter
from omega_jupyter.models.actions import signature_of
from omega_jupyter.models.predict import ModelCache

from .test_server_jupyter import call

COLUMNS = ["a", "b"]


async def test_experiments_routes(jp_fetch, database_url: str, bucket: str) -> None:
    om = omega_jupyter.setup(url=database_url, bucket=bucket)
    for accuracy in (0.5, 0.7):
        with om.runtime.experiment("rest") as exp:
            exp.log_param("C", 1.0)
            exp.log_metric("accuracy", accuracy, step=1)
    status, body = await call(jp_fetch, "experiments")
    assert status == 200
    [item] = json.loads(body)["items"]
    assert (item["name"], item["runs"]) == ("rest", 2)
    with om.runtime.experiment("other/rest-2") as exp:
        exp.log_metric("accuracy", 0.1)
    # ?name= is a glob on names (the panel's search sends *text*); paging counts the matches
    _, body = await call(jp_fetch, "experiments", name="*rest*")
    assert [i["name"] for i in json.loads(body)["items"]] == ["other/rest-2", "rest"]
    _, body = await call(jp_fetch, "experiments", name="rest")
    assert [i["name"] for i in json.loads(body)["items"]] == ["rest"]
    _, body = await call(jp_fetch, "experiments", name="*REST*")  # case matters, as in stores
    assert json.loads(body)["total"] == 0
    _, body = await call(jp_fetch, "experiments", name="*rest*", limit=1, offset=1)
    page = json.loads(body)
    assert (page["total"], [i["name"] for i in page["items"]]) == (2, ["rest"])
    status, _ = await call(jp_fetch, "experiments", name="x" * 256)
    assert status == 400
    status, body = await call(jp_fetch, "experiments/rest/runs")
    runs = json.loads(body)["items"]
    assert [r["metric.accuracy"] for r in runs] == [0.5, 0.7]
    assert {r["status"] for r in runs} == {"succeeded"}
    status, body = await call(jp_fetch, "experiments/rest/data", event="metric", run="*")
    items = json.loads(body)["items"]
    assert [(i["run"], i["step"], i["value"]) for i in items] == [(1, 1, 0.5), (2, 1, 0.7)]
    _, body = await call(jp_fetch, "experiments/rest/data")  # the latest run
    assert {i["run"] for i in json.loads(body)["items"]} == {2}
    status, body = await call(jp_fetch, "experiments/rest/data", run="last")
    assert status == 400 and "run must be" in json.loads(body)["message"]
    status, _ = await call(jp_fetch, "experiments/nothing/data")
    assert status == 404
    status, _ = await call(jp_fetch, "experiments/nothing/runs")
    assert status == 404


async def test_a_tracked_models_rest_predicts_are_logged(
    jp_fetch, jp_serverapp, database_url: str, bucket: str
) -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(40, 2)), columns=COLUMNS)
    model = LogisticRegression().fit(X, (X["a"] > 0).astype(int))
    om = omega_jupyter.setup(url=database_url, bucket=bucket)
    om.models.put(model, "clf", signature=signature_of(X))
    jp_serverapp.web_app.settings["omega"].extras["models"] = ModelCache(ttl=0)
    status, _ = await call(jp_fetch, "model/clf/predict", "POST", X.head(3).to_dict("records"))
    assert status == 200
    om.models.track("clf", "clf-prod")
    for n in (3, 5):
        body = {"columns": COLUMNS, "data": X.head(n).values.tolist()}
        status, out = await call(jp_fetch, "model/clf/predict", "POST", body)
        assert status == 200
    exp = om.runtime.experiment("clf-prod")
    data = exp.data(event="predict", run="*")  # flushes this process's queue first
    assert len(data) == 2  # the untracked call logged nothing
    assert data["model"].tolist() == ["clf", "clf"] and data["value"].dtype == float
    _, body = await call(jp_fetch, "experiments/clf-prod/data", run="*")
    assert [item["event"] for item in json.loads(body)["items"]] == ["predict", "predict"]
    assert json.loads(out)["result"] == model.predict(X.head(5)).tolist()


async def test_drift_monitor_routes(jp_fetch, database_url: str, bucket: str) -> None:
    rng = np.random.default_rng(4)
    om = omega_jupyter.setup(url=database_url, bucket=bucket)
    om.models.put(LogisticRegression(), "plain")
    status, body = await call(jp_fetch, "models/plain/monitor")
    assert status == 404 and "is not tracked" in json.loads(body)["message"]
    om.models.put(LogisticRegression(), "team/clf")  # a name with a '/'
    om.models.track("team/clf", "clf-prod")
    mon = om.runtime.model("team/clf").monitor()
    status, body = await call(jp_fetch, "models/team/clf/monitor/compare")
    assert status == 404 and "no baseline snapshot" in json.loads(body)["message"]
    base = pd.DataFrame({"a": rng.normal(0, 1, 500), "city": rng.choice(["x", "y"], 500)})
    first = mon.snapshot(base, label="baseline")
    second = mon.snapshot(base.assign(a=base["a"] + 2.0))
    mon.compare()
    status, body = await call(jp_fetch, "models/team/clf/monitor")
    listing = json.loads(body)
    assert status == 200 and listing["model"] == "team/clf" and listing["schedule"] is None
    assert [s["snapshot"] for s in listing["items"]] == [first, second]
    assert listing["items"][0]["label"] == "baseline" and listing["items"][0]["rows"] == 500
    status, body = await call(jp_fetch, "models/team/clf/monitor/compare")
    report = json.loads(body)
    assert status == 200 and report["drift"] and report["drifted"] == ["a"]
    assert report["baseline"]["snapshot"] == first and report["current"]["snapshot"] == second
    features = {f["feature"]: f for f in report["features"]}
    assert features["a"]["tests"]["ks"]["drift"] and features["a"]["kind"] == "numeric"
    assert set(features["city"]["tests"]) == {"chi2", "psi"} and not features["city"]["drift"]
    assert report["thresholds"]["ks"] == {"pvalue": 0.01, "statistic": 0.05}
    status, body = await call(jp_fetch, "models/team/clf/monitor/compare", current=first)
    assert status == 200 and not json.loads(body)["drift"]  # the baseline against itself
    status, body = await call(jp_fetch, "models/team/clf/monitor/history")
    history = json.loads(body)["items"]
    assert sorted(h["feature"] for h in history) == ["a", "city"]  # GET compare logs nothing
    status, body = await call(jp_fetch, "models/team/clf/monitor/plot", measure="psi")
    spec = json.loads(body)
    assert status == 200 and spec["$schema"].endswith("vega-lite/v5.json")
    assert spec["encoding"]["y"]["title"] == "psi" and len(spec["data"]["values"]) == 2
    status, _ = await call(jp_fetch, "models/team/clf/monitor/plot", measure="mean")
    assert status == 400
    mon.schedule("daily at 06:00", against=None)
    _, body = await call(jp_fetch, "models/team/clf/monitor")
    schedule = json.loads(body)["schedule"]
    assert schedule["when"] == "daily at 06:00"
    assert schedule["parameters"]["alert_stream"] == "drift-alerts"
